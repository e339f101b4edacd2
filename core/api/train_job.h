#pragma once
// TrainJob: one training run (new or resumed) on a dataset directory, for
// the CLI and the studio's training panel. Blocking run(); request_stop()
// from any thread. No torch types here.
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rcnn::api {

struct TrainRequest {
  std::string dataset;                 // dataset dir/file; empty: the embedded default
  std::string config = "default";      // preset name or a .json path
  // torchvision presets: the state dict (.pth) to fine-tune; empty: random weights.
  std::string init_checkpoint;
  std::vector<std::string> overrides;  // "key=value"
  std::string run_dir;                 // runs/<name>
  bool resume = false;
  int64_t max_iters = -1;  // overrides solver.max_iters
  int epochs = 0;          // > 0: max_iters = epochs * batches per epoch
  double minutes = 0;      // wall-clock budget
  std::string device = "auto";
  std::string train_split = "train", val_split = "val";
  // > 0: hold out this fraction of the train split (by a hash of each image
  // id, the same on every run) as the validation set. A single COCO file has
  // no val split of its own and needs it.
  double val_fraction = 0;
  int eval_max_images = 0;  // 0: the whole val split
  // The first N val images captured at every evaluation (and before the first iteration) into
  // RUN/probes/ (api/timeline.h); 0: none.
  int probe_images = 8;
  // folds >= 2: train on the images of train_split outside fold `fold` (fold_of below), as the label
  // doctor's out-of-sample predictions need; recorded in the run's data.json.
  int folds = 0, fold = -1;

  // Data parallelism (every family). nproc processes on this machine
  // (this one is local rank 0; the others run the rcnn CLI), nnodes
  // machines, each started with its node_rank; master = "HOST:PORT" of node
  // 0's rendezvous (default with one node: a free local port). A process
  // started by torchrun (RANK, WORLD_SIZE, ... set) is one rank and starts
  // nothing. solver.batch_size is per process.
  int nproc = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master;
  double dist_timeout_s = 120;  // a rank waiting longer for the others fails, naming them
};

// The fold (0 .. folds-1) of an image id: FNV-1a of the id modulo folds, the same on every run.
int fold_of(const std::string& image_id, int folds);

// A run directory's data.json (written when a run starts): the dataset (absolute path), the split it trained
// on and the fold it left out (-1: none). found = false where the run has none (older runs, foreign files).
struct RunData {
  bool found = false;
  std::string dataset, train_split;
  int folds = 0, fold = -1, images = 0;
};
RunData read_run_data(const std::string& run_dir);

// The `rcnn train` arguments that make a worker process run `req` (absolute
// paths; what the launcher passes to ranks 1..N-1).
std::vector<std::string> train_worker_args(const TrainRequest& req);

struct TrainProgress {
  int64_t iter = 0, max_iters = 0, epoch = 0;
  std::map<std::string, double> losses;
  double loss = 0, lr = 0, images_per_s = 0, eta_s = 0, elapsed_s = 0;
};

struct TrainEvents {
  std::function<void(const TrainProgress&)> on_progress;  // every iteration
  std::function<void(const TrainProgress&)> on_log;       // every log period
  std::function<void(const std::string&)> on_message;
  std::function<void(int64_t iter, double map50)> on_eval;
  std::function<void(const std::string& path, bool best)> on_checkpoint;
};

struct TrainOutcome {
  std::string state;  // "completed" | "stopped" | "failed"
  std::string message;
  int64_t iterations = 0;
  double best_map = -1, last_map = -1;
  std::string run_dir;
  int rank = 0, world_size = 1;  // data parallel: rank 0 evaluates and writes the files
};

class TrainJob {
 public:
  explicit TrainJob(TrainRequest req);
  // Runs to completion, stop or failure. Errors (bad dataset, config,
  // checkpoint) come back as state "failed" with a message naming the file.
  TrainOutcome run(const TrainEvents& events);
  void request_stop() { stop_ = true; }

 private:
  TrainRequest req_;
  std::atomic<bool> stop_{false};
};

}  // namespace rcnn::api
