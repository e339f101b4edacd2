#pragma once
// The training loop, one for every detector family: it trains through the
// stage contract's batch losses (pipeline/detector.h), so the seed's
// detector and a torchvision model get the same solver (SGD or AdamW,
// warm-up and cosine/step schedule, weight decay, gradient clipping, the
// --minutes budget fitted into the schedule), hooks, stop flag, NaN guard,
// periodic validation with the best checkpoint, data parallelism, and a run
// directory with metrics.jsonl and atomic `last`/`best` checkpoints that
// resume exactly (weights, optimizer state, schedule position, data order,
// sampler draws).
#include <torch/torch.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config/detector_config.h"
#include "distributed/process_group.h"
#include "pipeline/detector.h"

namespace rcnn::engine {

// Epoch-based batch supply; deterministic for (epoch, position). With data
// parallelism each rank's source yields its shard of every global batch.
// Its batches are in the form the detector's family trains on
// (pipeline::Family::train_input).
struct DataSource {
  // Starts `epoch` at image `first_image` of its order (images all ranks consumed).
  std::function<void(int64_t epoch, int64_t first_image)> start_epoch;
  std::function<std::optional<pipeline::LossBatch>()> next;  // nullopt: end of epoch
  // Images one iteration consumes over all ranks (0: this rank's batch size).
  int64_t global_batch = 0;
  // Identifies the data (e.g. image count and a hash of the ids); ranks
  // must agree on it.
  std::string fingerprint;
};

struct TrainStatus {
  int64_t iter = 0, max_iters = 0, epoch = 0;
  std::map<std::string, double> losses;
  double loss = 0, lr = 0, images_per_s = 0, eta_s = 0, elapsed_s = 0;
  int world_size = 1;
  double allreduce_ms = 0;  // this iteration's time in gradient and loss all-reduces (data parallel)
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
  // A new run's start: a weights file of the family's own format to
  // fine-tune (torchvision: a state dict .pth); empty: random weights from
  // solver.seed.
  std::string init_weights;
  // Val mAP@0.5 of the current model (eval mode set by the trainer); may
  // fill details (JSON). Empty: no periodic evaluation.
  std::function<double(pipeline::Detector&, std::string* details)> evaluate;
  // Called on rank 0 in eval mode, without gradients: before the first iteration of a new run, after every
  // periodic evaluation and at the end (the run's probe captures, pipeline/train_probes.h).
  std::function<void(pipeline::Detector&, int64_t iter)> probe;
  // Data parallelism: the group this process trains in (nullptr: alone).
  // Rank 0 alone writes checkpoints, metrics.jsonl and config.json and
  // evaluates; the others wait for it (up to eval_timeout_s).
  std::shared_ptr<dist::DistGroup> group;
  double eval_timeout_s = 4 * 3600;
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
  ~Trainer();
  TrainResult run(DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop = nullptr);
  // The detector being trained (after run(): its final weights).
  pipeline::Detector& detector() { return *detector_; }
  const DetectorConfig& config() const { return cfg_; }

 private:
  class Run;  // one run's state, in named steps (trainer.cpp)

  DetectorConfig cfg_;
  TrainOptions opt_;
  torch::Device device_;
  std::unique_ptr<pipeline::Detector> detector_;
};

}  // namespace rcnn::engine
