#include "api/label_issues_job.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "api/dataset.h"
#include "api/eval_job.h"

namespace fs = std::filesystem;

namespace rcnn::api {

LabelIssuesJob::LabelIssuesJob(LabelIssuesRequest req) : req_(std::move(req)) {}

void LabelIssuesJob::request_stop() {
  stop_ = true;
  std::lock_guard<std::mutex> lk(mu_);
  if (current_) current_->request_stop();
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string canonical(const std::string& p) {
  return fs::weakly_canonical(fs::absolute(p)).string();
}

// Predictions of `model` on these images of the split, into images[*].predictions (matched by path).
void predict(const LabelIssuesRequest& req, const ModelSpec& model, const std::vector<std::string>& ids,
             std::vector<LabeledImage>& images, const std::function<void(int, int)>& progress) {
  EvalRequest er;
  static_cast<ModelSpec&>(er) = model;
  er.score_thresh = req.options.min_score;
  er.dataset = req.dataset;
  er.split = req.split;
  er.image_ids = ids;
  const auto rep = run_evaluation(er, progress);
  std::map<std::string, size_t> by_path;
  for (size_t i = 0; i < images.size(); ++i) by_path[images[i].path] = i;
  for (size_t k = 0; k < rep.image_paths.size(); ++k) {
    auto it = by_path.find(rep.image_paths[k]);
    if (it != by_path.end()) images[it->second].predictions = rep.detections[k];
  }
}

// Whether a fold's run finished before (its fold.json says completed with the same images).
bool fold_done(const fs::path& dir, size_t images) {
  std::ifstream in(dir / "fold.json");
  if (!in) return false;
  try {
    const auto j = nlohmann::json::parse(in);
    return j.at("state") == "completed" && j.at("images").get<size_t>() == images && fs::exists(dir / "last.pt");
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

// Trains fold k (every fold of the split but k) unless a finished run is there; false (res says why) when
// the run did not complete.
bool LabelIssuesJob::train_fold(int k, const fs::path& dir, size_t train_images, const LabelIssuesEvents& ev,
                                LabelIssuesResult& res) {
  auto say = [&](const std::string& m) {
    if (ev.on_message) ev.on_message("fold " + std::to_string(k) + ": " + m);
  };
  if (fold_done(dir, train_images)) {
    say("trained before (" + dir.string() + "), reused");
    return true;
  }
  TrainRequest tr;
  tr.dataset = req_.dataset;
  tr.config = req_.config;
  tr.overrides = req_.overrides;
  tr.run_dir = dir.string();
  tr.resume = fs::exists(dir / "last.pt");
  tr.max_iters = req_.max_iters;
  tr.minutes = req_.minutes > 0 ? req_.minutes / req_.folds : 0;
  tr.device = req_.device;
  tr.train_split = req_.split;
  tr.folds = req_.folds;
  tr.fold = k;
  tr.eval_max_images = req_.eval_max_images;
  TrainJob job(tr);
  {
    std::lock_guard<std::mutex> lk(mu_);
    current_ = &job;
  }
  if (stop_) job.request_stop();
  TrainEvents te;
  te.on_message = say;
  te.on_progress = [&](const TrainProgress& p) {
    if (ev.on_train_progress) ev.on_train_progress(k, req_.folds, p);
  };
  const auto out = job.run(te);
  {
    std::lock_guard<std::mutex> lk(mu_);
    current_ = nullptr;
  }
  if (out.state != "completed") {
    res.state = out.state;
    res.message = "fold " + std::to_string(k) + ": " + (out.message.empty() ? out.state : out.message) +
                  " (run the same command again to resume)";
    return false;
  }
  const nlohmann::json done{{"state", "completed"},
                            {"fold", k},
                            {"folds", req_.folds},
                            {"images", train_images},
                            {"iterations", out.iterations}};
  std::ofstream(dir / "fold.json") << done.dump(1) << "\n";
  return true;
}

// K fold models, each fold predicted by the one that did not see it; false when a fold did not complete.
bool LabelIssuesJob::predict_out_of_sample(const DatasetInfo& ds, const LabelIssuesEvents& ev, LabelIssuesResult& res,
                                           double* seconds_predicting) {
  if (!req_.checkpoint.empty()) throw std::runtime_error("--folds trains its own models: leave out --checkpoint");
  const fs::path root =
      req_.run_root.empty() ? fs::path("runs") / ("label-issues-" + req_.split) : fs::path(req_.run_root);
  for (int k = 0; k < req_.folds && !stop_; ++k) {
    std::vector<std::string> ids;
    for (const auto& im : ds.images)
      if (fold_of(im.id, req_.folds) == k) ids.push_back(im.id);
    const fs::path dir = root / ("fold" + std::to_string(k));
    if (!train_fold(k, dir, ds.size() - ids.size(), ev, res)) return false;
    const auto t0 = Clock::now();
    ModelSpec m = req_;
    m.checkpoint = (dir / "last.pt").string();
    m.config_json.clear();
    if (!ids.empty())
      predict(req_, m, ids, res.images, [&](int d, int) {
        if (ev.on_predict) ev.on_predict(d, int(ids.size()));
      });
    *seconds_predicting += since(t0);
  }
  if (!stop_) return true;
  res.state = "stopped";
  res.message = "stopped; run the same command again to resume";
  return false;
}

// One given model on the whole split, with a warning when its run trained on this split.
void LabelIssuesJob::predict_with_checkpoint(const DatasetInfo& ds, const LabelIssuesEvents& ev,
                                             LabelIssuesResult& res) {
  if (req_.checkpoint.empty())
    throw std::runtime_error("label-issues needs --checkpoint C (a trained model) or --folds K (train K models)");
  const RunData rd = read_run_data(fs::path(req_.checkpoint).parent_path().string());
  if (rd.found && rd.train_split == req_.split && rd.dataset == canonical(ds.root)) {
    const std::string but =
        rd.folds >= 2 ? " (all but fold " + std::to_string(rd.fold) + " of " + std::to_string(rd.folds) + ")" : "";
    res.warnings.push_back(req_.checkpoint + " was trained on this split" + but + " (" + rd.dataset + ", " +
                           rd.train_split +
                           "): it has memorised these labels, their errors too, and will miss many; use --folds K "
                           "for out-of-sample predictions");
  }
  predict(req_, req_, {}, res.images, ev.on_predict);
}

LabelIssuesResult LabelIssuesJob::run(const LabelIssuesEvents& ev) {
  LabelIssuesResult res;
  try {
    OpenOptions oo;
    oo.split = req_.split;
    res.dataset = open_dataset(req_.dataset.empty() ? default_dataset_dir() : req_.dataset, oo);
    const DatasetInfo& ds = res.dataset;
    if (ds.format == "folder") throw std::runtime_error(ds.root + ": a folder of images has no labels to check");
    res.class_names = ds.class_names;
    for (const auto& im : ds.images)
      res.images.push_back({fs::path(im.path).stem().string(), im.path, im.width, im.height, im.objects, {}});
    const auto t0 = Clock::now();
    double predicting = 0;
    if (req_.folds >= 2) {
      if (!predict_out_of_sample(ds, ev, res, &predicting)) return res;
    } else {
      predict_with_checkpoint(ds, ev, res);
      predicting = since(t0);
    }
    res.seconds_predicting = predicting;
    res.seconds_training = since(t0) - predicting;
    for (const auto& w : res.warnings)
      if (ev.on_message) ev.on_message("warning: " + w);
    const auto t1 = Clock::now();
    res.report = find_label_issues(res.images, res.class_names, req_.options);
    res.seconds_scoring = since(t1);
  } catch (const std::exception& e) {
    res.state = "failed";
    res.message = e.what();
  }
  return res;
}

}  // namespace rcnn::api
