#pragma once
// Checkpoints: model, optimizer, schedule position, RNG state and the full
// config in one file, written atomically (temporary file, fsync, rename) so
// that killing the process at any moment never leaves a corrupt checkpoint.
#include <torch/torch.h>

#include <stdexcept>
#include <string>

#include "config/detector_config.h"
#include "modeling/faster_rcnn.h"

namespace rcnn::engine {

struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CheckpointMeta {
  int64_t iteration = 0;       // iterations completed
  int64_t epoch = 0;           // current loader epoch
  int64_t batch_in_epoch = 0;  // batches of that epoch already consumed
  // Images of that epoch's order all ranks consumed (-1: a checkpoint from
  // before data parallelism: batch_in_epoch * solver.batch_size), and the
  // world size that wrote it. A resumed run continues from the image, so
  // it may use another world size.
  int64_t images_in_epoch = -1;
  int64_t world_size = 1;
  double best_map = -1.0;      // best val mAP@0.5 so far
  double last_map = -1.0;
  std::string config_json;  // full resolved config
  std::string class_names_json;
};

void save_checkpoint(const std::string& path, modeling::FasterRCNN& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta, torch::Generator* gen);

// Reads only the meta block (config included). Throws CheckpointError naming
// the file for a missing, truncated or foreign file.
CheckpointMeta read_checkpoint_meta(const std::string& path);

// Loads weights (shapes must match), and optimizer / RNG state when given.
CheckpointMeta load_checkpoint(const std::string& path, modeling::FasterRCNN& model,
                               torch::optim::Optimizer* optimizer = nullptr, torch::Generator* gen = nullptr);

// Builds the model stored in a checkpoint (its own config) on `device`.
modeling::FasterRCNN load_model(const std::string& path, const torch::Device& device,
                                DetectorConfig* cfg_out = nullptr);

// Writes bytes to path atomically.
void atomic_write(const std::string& path, const std::string& bytes);

}  // namespace rcnn::engine
