#pragma once
// `rcnn label-issues` and the studio's Label issues panel: the predictions
// the finder (api/label_issues.h) needs, out of sample, then the finder.
// A model that trained on an image has memorised its label errors, so with
// folds >= 2 the job trains one model per fold on the other folds (the one
// trainer: resumable, with progress and cancel) and predicts each fold with
// the model that did not see it. With a checkpoint, that model predicts the
// whole split (and the job warns when the run says it trained on it).
// No torch types here.
#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "api/dataset.h"
#include "api/label_issues.h"
#include "api/model_spec.h"
#include "api/train_job.h"

namespace rcnn::api {

struct LabelIssuesRequest : ModelSpec {  // checkpoint: the model to use (folds = 0)
  std::string dataset;                   // empty: the embedded default
  std::string split = "train";
  int folds = 0;                       // >= 2: train one model per fold
  std::string run_root;                // fold runs in <run_root>/fold<k> (default: runs/label-issues-<split>)
  double minutes = 0;                  // the whole job's training budget, shared equally by the folds
  int64_t max_iters = -1;              // per fold (overrides solver.max_iters)
  std::vector<std::string> overrides;  // "key=value" for the fold runs
  int eval_max_images = 0;             // the fold runs' periodic evaluation
  LabelIssueOptions options;
};

struct LabelIssuesEvents {
  std::function<void(const std::string&)> on_message;
  // Training: fold k of n, the trainer's progress.
  std::function<void(int fold, int folds, const TrainProgress&)> on_train_progress;
  std::function<void(int done, int total)> on_predict;  // images predicted so far
};

struct LabelIssuesResult {
  std::string state = "completed";  // "completed" | "stopped" | "failed"
  std::string message;
  std::vector<std::string> warnings;
  std::vector<std::string> class_names;
  DatasetInfo dataset;               // the split as read (what export_corrected copies)
  std::vector<LabeledImage> images;  // the split, with the out-of-sample predictions
  LabelIssueReport report;
  double seconds_training = 0, seconds_predicting = 0, seconds_scoring = 0;
};

class LabelIssuesJob {
 public:
  explicit LabelIssuesJob(LabelIssuesRequest req);
  LabelIssuesResult run(const LabelIssuesEvents& ev = {});
  void request_stop();

 private:
  bool train_fold(int k, const std::filesystem::path& dir, size_t train_images, const LabelIssuesEvents& ev,
                  LabelIssuesResult& res);
  bool predict_out_of_sample(const DatasetInfo& ds, const LabelIssuesEvents& ev, LabelIssuesResult& res,
                             double* seconds_predicting);
  void predict_with_checkpoint(const DatasetInfo& ds, const LabelIssuesEvents& ev, LabelIssuesResult& res);

  LabelIssuesRequest req_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  TrainJob* current_ = nullptr;  // the fold being trained (request_stop reaches it), under mu_
};

}  // namespace rcnn::api
