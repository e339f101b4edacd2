#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/lr_schedule.h"
#include "engine/metrics_log.h"

namespace fs = std::filesystem;

namespace rcnn::engine {

Trainer::Trainer(DetectorConfig cfg, TrainOptions opt)
    : cfg_(std::move(cfg)), opt_(std::move(opt)), device_(resolve_device(opt_.device)) {
  if (opt_.max_iters > 0) cfg_.solver.max_iters = int(opt_.max_iters);
  cfg_.validate();
}

namespace {
std::unique_ptr<torch::optim::Optimizer> make_optimizer(modeling::FasterRCNN& m, const SolverOptions& s) {
  // No weight decay on norm layers and biases (standard practice; decaying
  // BatchNorm scales hurts small from-scratch models).
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : m->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    (p.value().dim() <= 1 ? no_decay : decay).push_back(p.value());
  }
  if (s.optimizer == "adamw") {
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                              torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay)));
    g.emplace_back(no_decay,
                   std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(s.lr).weight_decay(0)));
    return std::make_unique<torch::optim::AdamW>(g);
  }
  std::vector<torch::optim::OptimizerParamGroup> g;
  g.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(
                            torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(s.weight_decay)));
  g.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(
                               torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(0)));
  return std::make_unique<torch::optim::SGD>(g, torch::optim::SGDOptions(s.lr));
}

std::string status_json(const TrainStatus& st) {
  nlohmann::ordered_json j;
  j["type"] = "train";
  j["iter"] = st.iter;
  j["epoch"] = st.epoch;
  j["loss"] = st.loss;
  for (const auto& [k, v] : st.losses) j[k] = v;
  j["lr"] = st.lr;
  j["images_per_s"] = st.images_per_s;
  j["eta_s"] = st.eta_s;
  j["elapsed_s"] = st.elapsed_s;
  return j.dump();
}
}  // namespace

TrainResult Trainer::run(DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop) {
  auto say = [&](const std::string& m) {
    if (hooks.on_message) hooks.on_message(m);
  };
  TrainResult res;
  if (opt_.run_dir.empty()) throw std::invalid_argument("train: run directory is empty");
  fs::create_directories(opt_.run_dir);
  const std::string last = (fs::path(opt_.run_dir) / "last.pt").string();
  const std::string best = (fs::path(opt_.run_dir) / "best.pt").string();
  const std::string cfg_path = (fs::path(opt_.run_dir) / "config.json").string();

  CheckpointMeta meta;
  torch::Generator gen = at::detail::createCPUGenerator(cfg_.solver.seed);
  torch::manual_seed(cfg_.solver.seed);
  if (opt_.resume) {
    if (!fs::exists(last))
      throw CheckpointError(last + ": nothing to resume (no last checkpoint in " + opt_.run_dir + ")");
    meta = read_checkpoint_meta(last);
    const int64_t keep_iters = cfg_.solver.max_iters;
    cfg_ = config_from_json_string(meta.config_json, last + " (embedded config)");
    if (opt_.max_iters > 0) cfg_.solver.max_iters = int(std::max<int64_t>(keep_iters, meta.iteration));
  }
  model_ = modeling::FasterRCNN(cfg_);
  model_->to(device_);
  auto optimizer = make_optimizer(model_, cfg_.solver);
  if (opt_.resume) {
    meta = load_checkpoint(last, model_, optimizer.get(), &gen);
    say("resumed " + last + " at iteration " + std::to_string(meta.iteration));
  }
  save_config(cfg_, cfg_path);
  MetricsLog log((fs::path(opt_.run_dir) / "metrics.jsonl").string(), opt_.resume ? meta.iteration : 0);

  int64_t iter = meta.iteration;
  int64_t epoch = meta.epoch, batch_in_epoch = meta.batch_in_epoch;
  double best_map = meta.best_map, last_map = meta.last_map;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  bool budget_fixed = opt_.minutes <= 0;
  const int64_t budget_start_iter = iter;
  double window_t = 0, window_imgs = 0;
  auto window_start = std::chrono::steady_clock::now();
  double ips = 0;

  auto checkpoint = [&](const std::string& path, bool is_best) {
    CheckpointMeta m;
    m.iteration = iter;
    m.epoch = epoch;
    m.batch_in_epoch = batch_in_epoch;
    m.best_map = best_map;
    m.last_map = last_map;
    m.config_json = config_to_json_string(cfg_);
    save_checkpoint(path, model_, optimizer.get(), m, &gen);
    if (hooks.on_checkpoint) hooks.on_checkpoint(path, is_best);
  };
  auto evaluate = [&] {
    if (!opt_.evaluate) return;
    model_->eval();
    std::string details;
    {
      torch::NoGradGuard ng;
      last_map = opt_.evaluate(model_, &details);
    }
    model_->train();
    nlohmann::ordered_json j{{"type", "eval"}, {"iter", iter}, {"map50", last_map}};
    if (!details.empty()) j["details"] = nlohmann::json::parse(details, nullptr, false);
    log.append(j.dump());
    if (hooks.on_eval) hooks.on_eval(iter, last_map, details);
    if (last_map > best_map) {
      best_map = last_map;
      checkpoint(best, true);
    }
  };

  model_->train();
  data.start_epoch(epoch, batch_in_epoch);
  while (iter < cfg_.solver.max_iters) {
    if (stop && stop->load()) {
      checkpoint(last, false);
      res.state = TrainResult::State::Stopped;
      res.message = "stopped at iteration " + std::to_string(iter) + "; resume with --resume";
      break;
    }
    auto batch = data.next();
    if (!batch) {
      ++epoch;
      batch_in_epoch = 0;
      data.start_epoch(epoch, 0);
      batch = data.next();
      if (!batch) throw std::runtime_error("train: the dataset yields no batches");
    }
    ++batch_in_epoch;
    if (batch->images.size(0) == 0) continue;
    if (hooks.before_step) hooks.before_step(iter);
    const double lr = lr_at(cfg_.solver, iter);
    for (auto& g : optimizer->param_groups()) g.options().set_lr(lr);
    auto images = batch->images.to(device_), gt = batch->gt.to(device_);
    auto losses = model_->forward_train(images, gt, gen);
    torch::Tensor total = torch::zeros({}, images.options());
    TrainStatus st;
    for (auto& [k, v] : losses) {
      total = total + v;
      st.losses[k] = v.item<double>();
    }
    st.loss = total.item<double>();
    if (!std::isfinite(st.loss)) {
      std::string parts;
      for (auto& [k, v] : st.losses) parts += " " + k + "=" + std::to_string(v);
      res.state = TrainResult::State::Failed;
      res.message = "non-finite loss at iteration " + std::to_string(iter) + " (" + parts.substr(1) +
                    "); training stopped, the last good checkpoint " +
                    (fs::exists(last) ? last : std::string("(none yet)")) +
                    " is kept; lower solver.lr or raise solver.warmup_iters";
      log.append(nlohmann::json{{"type", "error"}, {"iter", iter}, {"message", res.message}}.dump());
      say(res.message);
      break;
    }
    optimizer->zero_grad();
    total.backward();
    if (cfg_.solver.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), cfg_.solver.grad_clip);
    optimizer->step();
    ++iter;

    // Throughput over a sliding window of log periods.
    window_imgs += double(images.size(0));
    window_t = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
    if (window_t > 0) ips = window_imgs / window_t;
    if (window_t > 10) {
      window_start = std::chrono::steady_clock::now();
      window_imgs = 0;
    }
    if (!budget_fixed && iter - budget_start_iter >= 20) {
      // Fix the schedule length from the measured speed, once, so that the
      // cosine schedule ends when the wall-clock budget does.
      const double per_iter = elapsed() / double(iter - budget_start_iter);
      const int64_t fit = budget_start_iter + int64_t(opt_.minutes * 60.0 * 0.97 / per_iter);
      cfg_.solver.max_iters = int(std::max<int64_t>(iter + 1, std::min<int64_t>(cfg_.solver.max_iters, fit)));
      save_config(cfg_, cfg_path);
      say("time budget " + std::to_string(opt_.minutes) + " min: schedule set to " +
          std::to_string(cfg_.solver.max_iters) + " iterations");
      budget_fixed = true;
    }
    st.iter = iter;
    st.max_iters = cfg_.solver.max_iters;
    st.epoch = epoch;
    st.lr = lr;
    st.images_per_s = ips;
    st.elapsed_s = elapsed();
    st.eta_s =
        double(cfg_.solver.max_iters - iter) * st.elapsed_s / double(std::max<int64_t>(1, iter - budget_start_iter));
    if (hooks.after_step) hooks.after_step(st);
    if (iter % cfg_.solver.log_period == 0 || iter == cfg_.solver.max_iters) {
      log.append(status_json(st));
      if (hooks.on_log) hooks.on_log(st);
    }
    if (cfg_.solver.eval_period > 0 && iter % cfg_.solver.eval_period == 0 && iter < cfg_.solver.max_iters) evaluate();
    if (cfg_.solver.checkpoint_period > 0 && iter % cfg_.solver.checkpoint_period == 0) checkpoint(last, false);
  }
  if (res.state == TrainResult::State::Completed) {
    evaluate();
    checkpoint(last, false);
    res.message = "completed " + std::to_string(iter) + " iterations";
  }
  res.iterations = iter;
  res.best_map = best_map;
  res.last_map = last_map;
  return res;
}

}  // namespace rcnn::engine
