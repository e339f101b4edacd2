#include "api/checkpoint.h"

#include <torch/torch.h>

#include "engine/checkpoint.h"

namespace rcnn::api {

CheckpointInfo read_checkpoint_info(const std::string& path) {
  auto m = engine::read_checkpoint_meta(path);
  return {m.iteration, m.best_map, m.last_map, m.config_json};
}

CheckpointInfo export_checkpoint(const std::string& in, const std::string& out) {
  auto meta = engine::read_checkpoint_meta(in);
  DetectorConfig cfg;
  auto model = engine::load_model(in, torch::kCPU, &cfg);
  engine::CheckpointMeta m;
  m.iteration = meta.iteration;
  m.best_map = meta.best_map;
  m.last_map = meta.last_map;
  m.config_json = meta.config_json;
  // Half-precision storage halves the file; loading converts back to float.
  model->to(torch::kHalf);
  engine::save_checkpoint(out, model, nullptr, m, nullptr);
  return {m.iteration, m.best_map, m.last_map, m.config_json};
}

}  // namespace rcnn::api
