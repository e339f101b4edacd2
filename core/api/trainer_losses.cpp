// api::trainer_losses (checkpoint.h): the trainer's forward_train on one image,
// built from the checkpoint and the image file alone, independently of the
// Session whose Losses stage it checks.
#include <torch/torch.h>

#include "api/checkpoint.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "data/transforms.h"
#include "engine/checkpoint.h"

namespace rcnn::api {

std::map<std::string, double> trainer_losses(const std::string& checkpoint, const std::string& image_path,
                                             const std::vector<GtObject>& gt, uint64_t seed) {
  DetectorConfig cfg;
  auto model = engine::load_model(checkpoint, torch::kCPU, &cfg);
  model->eval();
  torch::NoGradGuard ng;
  const cv::Mat rgb = data::load_image_rgb(image_path);
  const auto tf = data::make_resize(rgb.cols, rgb.rows, cfg.input.size, cfg.input.resize);
  auto input = data::to_tensor(data::apply_resize(rgb, tf), cfg.input.mean, cfg.input.std).unsqueeze(0);
  std::vector<float> rows;
  for (const auto& o : gt) {
    if (o.crowd) continue;
    const auto b = tf.forward(data::Annotation{o.box.x1, o.box.y1, o.box.x2, o.box.y2, o.label});
    rows.insert(rows.end(), {b.x1, b.y1, b.x2, b.y2, float(o.label)});
  }
  const int64_t M = int64_t(rows.size() / 5);
  auto g = M > 0 ? torch::tensor(rows).view({1, M, 5}) : torch::zeros({1, 0, 5});
  std::map<std::string, double> out;
  for (const auto& [k, v] : model->forward_train(input, g, at::detail::createCPUGenerator(seed))) out[k] = v.item<double>();
  return out;
}

}  // namespace rcnn::api
