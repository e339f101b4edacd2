#pragma once
// Checkpoints: model, optimizer, schedule position, RNG state and the full
// config in one file, written atomically (temporary file, fsync, rename) so
// that killing the process at any moment never leaves a corrupt checkpoint.
#include <torch/torch.h>

#include <stdexcept>
#include <string>
#include <vector>

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

// One tensor of a model's weights, by name (buffer: a module buffer, such
// as BatchNorm's running statistics, not a parameter).
struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
  bool buffer = false;
};
// A module's parameters, then its buffers.
std::vector<NamedTensor> module_tensors(torch::nn::Module& module);

// Writes the weights, the optimizer's state (momentum, Adam's moments), the
// meta block (meta.config_json: the config the weights belong to) and the
// generator's state.
void save_checkpoint(const std::string& path, const std::vector<NamedTensor>& weights,
                     torch::optim::Optimizer* optimizer, const CheckpointMeta& meta, torch::Generator* gen);
// The seed's model (config_json defaults to model->cfg's).
void save_checkpoint(const std::string& path, modeling::FasterRCNN& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta, torch::Generator* gen);

// Reads only the meta block (config included). Throws CheckpointError naming
// the file for a missing, truncated or foreign file.
CheckpointMeta read_checkpoint_meta(const std::string& path);

// Loads weights into `weights` (every name present, shapes must match), and
// optimizer / RNG state when given.
CheckpointMeta load_checkpoint(const std::string& path, const std::vector<NamedTensor>& weights,
                               torch::optim::Optimizer* optimizer = nullptr, torch::Generator* gen = nullptr);
CheckpointMeta load_checkpoint(const std::string& path, modeling::FasterRCNN& model,
                               torch::optim::Optimizer* optimizer = nullptr, torch::Generator* gen = nullptr);

// The names of the weight tensors a checkpoint holds.
std::vector<std::string> checkpoint_tensor_names(const std::string& path);
// Every weight tensor a checkpoint holds, whatever its family (the file's own order of names).
std::vector<NamedTensor> read_checkpoint_weights(const std::string& path);

// Builds the model stored in a checkpoint (its own config) on `device`.
modeling::FasterRCNN load_model(const std::string& path, const torch::Device& device,
                                DetectorConfig* cfg_out = nullptr);

// Writes bytes to path atomically.
void atomic_write(const std::string& path, const std::string& bytes);

}  // namespace rcnn::engine
