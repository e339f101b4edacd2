#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <nlohmann/json.hpp>

#include "distributed/grad_sync.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/lr_schedule.h"
#include "engine/metrics_log.h"
#include "engine/train_support.h"
#include "pipeline/families.h"

namespace fs = std::filesystem;

namespace rcnn::engine {

using Clock = std::chrono::steady_clock;

namespace {
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

// One run: the state the loop carries and its steps, in the order run() takes them.
class Trainer::Run {
 public:
  Run(Trainer& t, DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop)
      : t_(t), cfg_(t.cfg_), opt_(t.opt_), data_(data), hooks_(hooks), stop_(stop), group_(opt_.group),
        dist_(group_ && group_->world() > 1), lead_(!group_ || group_->rank() == 0),
        rank_(group_ ? group_->rank() : 0), world_(group_ ? group_->world() : 1),
        last_((fs::path(opt_.run_dir) / "last.pt").string()), best_((fs::path(opt_.run_dir) / "best.pt").string()),
        cfg_path_((fs::path(opt_.run_dir) / "config.json").string()),
        gen_(at::detail::createCPUGenerator(cfg_.solver.seed)) {}

  void say(const std::string& m) const {
    if (hooks_.on_message && lead_) hooks_.on_message(m);
  }

  // The detector, its optimizer and (--resume) the state last.pt holds.
  void open() {
    if (opt_.run_dir.empty()) throw std::invalid_argument("train: run directory is empty");
    fs::create_directories(opt_.run_dir);
    torch::manual_seed(cfg_.solver.seed);
    if (opt_.resume) {
      if (!fs::exists(last_))
        throw CheckpointError(last_ + ": nothing to resume (no last checkpoint in " + opt_.run_dir + ")");
      meta_ = read_checkpoint_meta(last_);
      const int64_t keep_iters = cfg_.solver.max_iters;
      const int keep_batch = cfg_.solver.batch_size;
      cfg_ = config_from_json_string(meta_.config_json, last_ + " (embedded config)");
      if (opt_.max_iters > 0) cfg_.solver.max_iters = int(std::max<int64_t>(keep_iters, meta_.iteration));
      cfg_.solver.batch_size = keep_batch;  // the resumed run's own (may differ with another world size)
    }
    t_.detector_ = pipeline::make_detector(cfg_, t_.device_, cfg_.solver.seed);
    det_ = t_.detector_.get();
    det_->start_training(opt_.resume ? "" : opt_.init_weights, [&](const std::string& m) { say(m); });
    optimizer_ = make_optimizer(det_->module(), cfg_.solver);
    const auto& s = cfg_.solver;
    say(std::string("train: the ") + det_->family() + " detector's losses (rpn_obj, rpn_box, roi_cls, roi_box); " +
        s.optimizer + (s.optimizer == "sgd" ? " momentum " + num(s.momentum) : std::string()) + ", lr " +
        num(s.lr) + " (" + s.schedule + ", warm-up " + std::to_string(s.warmup_iters) + "), weight decay " +
        num(s.weight_decay) + ", grad clip " + num(s.grad_clip) + ", solver.freeze_bn " +
        (s.freeze_bn ? "true" : "false") + "; weights: " +
        (opt_.resume ? "resumed" : opt_.init_weights.empty() ? "random (seed " + std::to_string(s.seed) + ")"
                                                             : opt_.init_weights));
    if (opt_.resume) {
      meta_ = load_checkpoint(last_, det_->checkpoint_tensors(), optimizer_.get(), &gen_);
      say("resumed " + last_ + " at iteration " + std::to_string(meta_.iteration) +
          (meta_.world_size != world_ ? " (written by " + std::to_string(meta_.world_size) + " processes, now " +
                                            std::to_string(world_) + ")"
                                      : ""));
    }
    iter_ = meta_.iteration;
    epoch_ = meta_.epoch;
    images_in_epoch_ = meta_.images_in_epoch >= 0 ? meta_.images_in_epoch
                                                  : meta_.batch_in_epoch * int64_t(cfg_.solver.batch_size);
    best_map_ = meta_.best_map;
    last_map_ = meta_.last_map;
    saved_iter_ = opt_.resume ? meta_.iteration : -1;
    budget_start_iter_ = iter_;
    budget_fixed_ = opt_.minutes <= 0;
    global_batch_ = data_.global_batch > 0 ? data_.global_batch : int64_t(cfg_.solver.batch_size);
  }

  // Data parallelism: the same config and data everywhere, then rank 0's weights everywhere.
  void join_group() {
    if (!dist_) return;
    group_->agree("config", config_to_json_string(cfg_), config_diff);
    group_->agree("dataset", data_.fingerprint, [](const std::string& a, const std::string& b) {
      return "\"" + b + "\" (rank 0: \"" + a + "\")";
    });
    group_->agree("resume point", std::to_string(meta_.iteration), [](const std::string& a, const std::string& b) {
      return "iteration " + b + " (rank 0: " + a + "); every rank must read the same last.pt";
    });
    dist::broadcast_module(*group_, det_->module());
    buckets_ = std::make_unique<dist::GradBuckets>(det_->module().parameters());
    say("data parallel: " + std::to_string(world_) + " processes (" + group_->backend() + "), global batch " +
        std::to_string(int64_t(cfg_.solver.batch_size) * world_) + ", " + std::to_string(buckets_->num_buckets()) +
        " gradient bucket(s), " + std::to_string(buckets_->bytes_per_step() >> 10) + " KiB all-reduced per iteration");
    // Each rank divides its loss sums by (all ranks' samples) / world: the
    // mean of the ranks' gradients is then the whole global batch's.
    normalizer_ = dist::global_sample_normalizer(*group_, [this] { return "iteration " + std::to_string(iter_); });
  }

  // The run directory: config.json, metrics.jsonl, and no temporary file a killed write left.
  void open_run_dir() {
    if (!lead_) return;
    save_config(cfg_, cfg_path_);
    log_.emplace((fs::path(opt_.run_dir) / "metrics.jsonl").string(), opt_.resume ? meta_.iteration : 0);
    for (const auto& e : fs::directory_iterator(opt_.run_dir)) {
      const auto n = e.path().filename().string();
      for (const char* f : {"last.pt.tmp.", "best.pt.tmp.", "last.pth.tmp", "best.pth.tmp", "metrics.jsonl.tmp.",
                            "config.json.tmp"})
        if (n.rfind(f, 0) == 0) fs::remove(e.path());
    }
  }

  void train_mode() { det_->set_training(true, cfg_.solver.freeze_bn); }

  // The loop: a step per iteration until the schedule ends, a stop or a failure.
  TrainResult loop() {
    if (iter_ == 0) probe();
    train_mode();
    data_.start_epoch(epoch_, images_in_epoch_);
    t0_ = window_start_ = Clock::now();  // the budget counts training, not the start-up
    while (iter_ < cfg_.solver.max_iters) {
      const bool stop_requested = stop_ && stop_->load();
      if (!dist_ && stop_requested) {
        stopped();
        break;
      }
      auto batch = next_batch();
      if (!batch) continue;  // no image of it could be read
      if (!step(*batch, stop_requested)) break;
      after_step();
    }
    if (res_.state == TrainResult::State::Completed) {
      evaluate();
      checkpoint(last_, false);
      res_.message = "completed " + std::to_string(iter_) + " iterations";
    }
    res_.iterations = iter_;
    res_.best_map = best_map_;
    res_.last_map = last_map_;
    return res_;
  }

 private:
  std::optional<pipeline::LossBatch> next_batch() {
    auto batch = data_.next();
    if (!batch) {
      ++epoch_;
      images_in_epoch_ = 0;
      data_.start_epoch(epoch_, 0);
      batch = data_.next();
      if (!batch) throw std::runtime_error("train: the dataset yields no batches");
    }
    if (batch->size() == 0) {
      if (dist_) throw std::runtime_error("train: no image of this rank's batch could be read (see the loader's issues)");
      images_in_epoch_ += global_batch_;
      return std::nullopt;
    }
    return batch;
  }

  // One iteration: losses, their all-reduce (with the stop request and the
  // fitted schedule), the NaN guard, backward, gradient average and clip,
  // the optimizer's step. false: the run ends here (stopped or failed).
  bool step(const pipeline::LossBatch& batch, bool stop_requested) {
    if (hooks_.before_step) hooks_.before_step(iter_);
    if (dist_) group_->arrive(iter_);
    comm0_ = dist_ ? group_->allreduce_seconds() : 0;
    lr_ = lr_at(cfg_.solver, iter_);
    set_learning_rate(*optimizer_, lr_);
    gen_.set_current_seed(step_seed(cfg_.solver.seed, iter_, rank_));
    auto losses = det_->batch_losses(batch, gen_, normalizer_);
    torch::Tensor total = torch::zeros({}, losses.begin()->second.options());
    for (auto& [k, v] : losses) total = total + v;
    if (!reduce_losses(losses, total, stop_requested)) return false;
    if (!std::isfinite(status_.loss)) {
      failed_non_finite();
      return false;
    }
    optimizer_->zero_grad();
    total.backward();
    if (dist_) buckets_->average(*group_);
    if (cfg_.solver.grad_clip > 0)
      torch::nn::utils::clip_grad_norm_(det_->module().parameters(), cfg_.solver.grad_clip);
    optimizer_->step();
    ++iter_;
    images_in_epoch_ += global_batch_;
    batch_images_ = batch.size();
    return true;
  }

  // The losses every rank reports are the global batch's; the same
  // all-reduce carries the stop request and rank 0's schedule length.
  bool reduce_losses(const std::map<std::string, torch::Tensor>& losses, const torch::Tensor& total,
                     bool stop_requested) {
    std::vector<std::string> names;
    std::vector<double> vals;
    for (auto& [k, v] : losses) names.push_back(k), vals.push_back(v.item<double>());
    vals.push_back(total.item<double>());
    if (dist_) {
      auto ctl = torch::zeros({int64_t(vals.size()) + 2}, torch::kDouble);
      for (size_t i = 0; i < vals.size(); ++i) ctl[int64_t(i)] = vals[i] / double(world_);
      ctl[int64_t(vals.size())] = stop_requested ? 1.0 : 0.0;
      ctl[int64_t(vals.size()) + 1] = lead_ ? double(pending_max_iters_) : 0.0;
      group_->allreduce_sum(ctl, "all-reducing the losses of iteration " + std::to_string(iter_));
      auto a = ctl.accessor<double, 1>();
      for (size_t i = 0; i < vals.size(); ++i) vals[i] = a[int64_t(i)];
      if (a[int64_t(names.size()) + 2] > 0) cfg_.solver.max_iters = int(a[int64_t(names.size()) + 2]);
      if (a[int64_t(names.size()) + 1] > 0) {
        stopped();
        return false;
      }
    }
    status_ = TrainStatus{};
    for (size_t i = 0; i < names.size(); ++i) status_.losses[names[i]] = vals[i];
    status_.loss = vals.back();
    return true;
  }

  void stopped() {
    checkpoint(last_, false);
    res_.state = TrainResult::State::Stopped;
    res_.message = "stopped at iteration " + std::to_string(iter_) + "; resume with --resume";
  }

  void failed_non_finite() {
    std::string parts;
    for (auto& [k, v] : status_.losses) parts += " " + k + "=" + std::to_string(v);
    res_.state = TrainResult::State::Failed;
    res_.message = "non-finite loss at iteration " + std::to_string(iter_) + " (" + parts.substr(1) +
                   "); training stopped, the last good checkpoint " +
                   (fs::exists(last_) ? last_ : std::string("(none yet)")) +
                   " is kept; lower solver.lr or raise solver.warmup_iters";
    if (lead_) log_->append(nlohmann::json{{"type", "error"}, {"iter", iter_}, {"message", res_.message}}.dump());
    say(res_.message);
  }

  // After a step: throughput, the --minutes schedule, the status, log, evaluation and checkpoint.
  void after_step() {
    measure_throughput();
    fit_budget();
    auto& st = status_;
    st.iter = iter_;
    st.max_iters = pending_max_iters_ > 0 ? pending_max_iters_ : cfg_.solver.max_iters;
    st.epoch = epoch_;
    st.lr = lr_;
    st.images_per_s = ips_;
    st.elapsed_s = elapsed();
    st.eta_s = double(st.max_iters - iter_) * st.elapsed_s / double(std::max<int64_t>(1, iter_ - budget_start_iter_));
    st.world_size = world_;
    st.allreduce_ms = dist_ ? 1000.0 * (group_->allreduce_seconds() - comm0_) : 0.0;
    if (hooks_.after_step && lead_) hooks_.after_step(st);
    if (iter_ % cfg_.solver.log_period == 0 || iter_ == cfg_.solver.max_iters) {
      if (lead_) log_->append(status_json(st));
      if (hooks_.on_log && lead_) hooks_.on_log(st);
    }
    if (cfg_.solver.eval_period > 0 && iter_ % cfg_.solver.eval_period == 0 && iter_ < cfg_.solver.max_iters)
      evaluate();
    if (cfg_.solver.checkpoint_period > 0 && iter_ % cfg_.solver.checkpoint_period == 0) checkpoint(last_, false);
  }

  // Images per second (all ranks) over a sliding window of about 10 s.
  void measure_throughput() {
    window_imgs_ += double(batch_images_) * world_;
    const double window_t = std::chrono::duration<double>(Clock::now() - window_start_).count();
    if (window_t > 0) ips_ = window_imgs_ / window_t;
    if (window_t > 10) {
      window_start_ = Clock::now();
      window_imgs_ = 0;
    }
  }

  // --minutes: after 20 iterations, the schedule's length from the measured
  // speed, once, so that the cosine schedule ends when the budget does.
  void fit_budget() {
    if (budget_fixed_ || iter_ - budget_start_iter_ < 20) return;
    const double per_iter = elapsed() / double(iter_ - budget_start_iter_);
    const int64_t fit = budget_start_iter_ + int64_t(opt_.minutes * 60.0 * 0.97 / per_iter);
    const int64_t n = std::max<int64_t>(iter_ + 2, std::min<int64_t>(cfg_.solver.max_iters, fit));
    if (dist_) {
      pending_max_iters_ = n;  // every rank applies it at the next step's all-reduce
    } else {
      cfg_.solver.max_iters = int(n);
    }
    if (lead_) {
      DetectorConfig c = cfg_;
      c.solver.max_iters = int(n);
      save_config(c, cfg_path_);
    }
    say("time budget " + std::to_string(opt_.minutes) + " min: schedule set to " + std::to_string(n) + " iterations");
    budget_fixed_ = true;
  }

  void checkpoint(const std::string& path, bool is_best) {
    if (!lead_) return;
    CheckpointMeta m;
    m.iteration = iter_;
    m.epoch = epoch_;
    m.images_in_epoch = images_in_epoch_;
    m.batch_in_epoch = images_in_epoch_ / std::max<int64_t>(1, global_batch_);
    m.world_size = world_;
    m.best_map = best_map_;
    m.last_map = last_map_;
    m.config_json = config_to_json_string(cfg_);
    std::string exported;
    try {
      save_checkpoint(path, det_->checkpoint_tensors(), optimizer_.get(), m, &gen_);
      exported = det_->export_weights(path);  // torchvision: <stem>.pth for torchvision's load_state_dict
    } catch (const std::exception& e) {
      // Nothing already saved is touched (atomic writes): say what is kept.
      throw CheckpointError(std::string(e.what()) + "; " +
                            (saved_iter_ >= 0 ? "the last good checkpoint " + last_ + " (iteration " +
                                                    std::to_string(saved_iter_) + ") is kept"
                                              : std::string("no checkpoint was written yet")) +
                            "; free space or fix the permissions, then --resume");
    }
    if (path == last_) saved_iter_ = iter_;
    // The model file a user opens: the family's own format where it has one.
    if (hooks_.on_checkpoint) hooks_.on_checkpoint(exported.empty() ? path : exported, is_best);
  }

  // The probe captures of rank 0 (TrainOptions::probe), in eval mode.
  void probe() {
    if (!lead_ || !opt_.probe) return;
    det_->set_training(false, false);
    torch::NoGradGuard ng;
    opt_.probe(*det_, iter_);
  }

  // Val mAP@0.5 on rank 0 (the others wait), best.pt when it improves.
  void evaluate() {
    if (lead_ && opt_.evaluate) {
      det_->set_training(false, false);
      std::string details;
      {
        torch::NoGradGuard ng;
        last_map_ = opt_.evaluate(*det_, &details);
      }
      probe();
      train_mode();
      nlohmann::ordered_json j{{"type", "eval"}, {"iter", iter_}, {"map50", last_map_}};
      if (!details.empty()) j["details"] = nlohmann::json::parse(details, nullptr, false);
      log_->append(j.dump());
      if (hooks_.on_eval) hooks_.on_eval(iter_, last_map_, details);
      if (last_map_ > best_map_) {
        best_map_ = last_map_;
        checkpoint(best_, true);
      }
    }
    if (dist_)
      group_->barrier(opt_.eval_timeout_s, "waiting for rank 0's evaluation at iteration " + std::to_string(iter_));
  }

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

  Trainer& t_;
  DetectorConfig& cfg_;
  const TrainOptions& opt_;
  DataSource& data_;
  const TrainHooks& hooks_;
  const std::atomic<bool>* stop_;
  std::shared_ptr<dist::DistGroup> group_;
  const bool dist_, lead_;
  const int rank_, world_;
  const std::string last_, best_, cfg_path_;

  pipeline::Detector* det_ = nullptr;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  torch::Generator gen_;
  std::unique_ptr<dist::GradBuckets> buckets_;
  modeling::SampleNormalizer normalizer_;
  std::optional<MetricsLog> log_;
  CheckpointMeta meta_;
  TrainResult res_;
  TrainStatus status_;

  int64_t iter_ = 0, epoch_ = 0, images_in_epoch_ = 0, global_batch_ = 1, batch_images_ = 0;
  int64_t saved_iter_ = -1;  // the iteration last.pt holds
  double best_map_ = -1, last_map_ = -1, lr_ = 0, comm0_ = 0;
  // --minutes
  bool budget_fixed_ = true;
  int64_t budget_start_iter_ = 0, pending_max_iters_ = 0;  // rank 0's fitted schedule, applied at the next step
  Clock::time_point t0_ = Clock::now();
  Clock::time_point window_start_ = Clock::now();
  double window_imgs_ = 0, ips_ = 0;
};

Trainer::Trainer(DetectorConfig cfg, TrainOptions opt)
    : cfg_(std::move(cfg)), opt_(std::move(opt)), device_(resolve_device(opt_.device)) {
  if (opt_.max_iters > 0) cfg_.solver.max_iters = int(opt_.max_iters);
  cfg_.validate();
}

Trainer::~Trainer() = default;

TrainResult Trainer::run(DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop) {
  Run r(*this, data, hooks, stop);
  try {
    r.open();
    r.join_group();
    r.open_run_dir();
    return r.loop();
  } catch (const dist::DistError&) {
    throw;
  } catch (const std::exception& e) {
    // Leave the reason where the other ranks look when their collective fails.
    if (opt_.group && opt_.group->world() > 1) opt_.group->post_error(e.what());
    throw;
  }
}

}  // namespace rcnn::engine
