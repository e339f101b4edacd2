#pragma once
// The training loop: SGD/AdamW, warmup + cosine/step schedule, gradient
// clipping, hooks, stop flag, NaN guard, run directory with metrics.jsonl and
// atomic `last`/`best` checkpoints, exact resume.
#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "config/detector_config.h"
#include "modeling/faster_rcnn.h"

namespace rcnn::engine {

struct TrainBatch {
  torch::Tensor images;  // (N, 3, S, S)
  torch::Tensor gt;      // (N, M, 5)
};

// Epoch-based batch supply; deterministic for (epoch, position).
struct DataSource {
  std::function<void(int64_t epoch, int64_t skip_batches)> start_epoch;
  std::function<std::optional<TrainBatch>()> next;  // nullopt: end of epoch
};

struct TrainStatus {
  int64_t iter = 0, max_iters = 0, epoch = 0;
  std::map<std::string, double> losses;
  double loss = 0, lr = 0, images_per_s = 0, eta_s = 0, elapsed_s = 0;
};

struct TrainHooks {
  std::function<void(int64_t iter)> before_step;
  std::function<void(const TrainStatus&)> after_step;  // every iteration
  std::function<void(const TrainStatus&)> on_log;      // every log_period
  std::function<void(int64_t iter, double map50, const std::string& details_json)> on_eval;
  std::function<void(const std::string& path, bool best)> on_checkpoint;
  std::function<void(const std::string& msg)> on_message;
};

struct TrainOptions {
  std::string run_dir;     // runs/<name>
  bool resume = false;     // continue from run_dir/last.pt
  int64_t max_iters = -1;  // overrides solver.max_iters when > 0
  double minutes = 0;      // wall-clock budget; sets max_iters from the measured speed
  std::string device = "auto";
  // Val mAP@0.5 of the current model (eval mode set by the trainer); may
  // fill details (JSON). Empty: no periodic evaluation.
  std::function<double(modeling::FasterRCNN&, std::string* details)> evaluate;
};

struct TrainResult {
  enum class State { Completed, Stopped, Failed } state = State::Completed;
  std::string message;
  int64_t iterations = 0;
  double best_map = -1, last_map = -1;
};

class Trainer {
 public:
  Trainer(DetectorConfig cfg, TrainOptions opt);
  TrainResult run(DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop = nullptr);
  modeling::FasterRCNN& model() { return model_; }
  const DetectorConfig& config() const { return cfg_; }

 private:
  DetectorConfig cfg_;
  TrainOptions opt_;
  torch::Device device_;
  modeling::FasterRCNN model_{nullptr};
};

}  // namespace rcnn::engine
