#include "engine/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/lr_schedule.h"
#include "engine/metrics_log.h"
#include "distributed/grad_sync.h"

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
  if (st.world_size > 1) {
    j["world_size"] = st.world_size;
    j["allreduce_ms"] = st.allreduce_ms;
  }
  return j.dump();
}

// BatchNorm layers to eval mode (solver.freeze_bn): running statistics used, not updated.
void freeze_batch_norm(torch::nn::Module& m) {
  for (auto& c : m.modules(/*include_self=*/false))
    if (c->as<torch::nn::BatchNorm2d>() || c->as<torch::nn::BatchNorm1d>()) c->eval();
}

// The sampling generator's seed for one iteration on one rank: a pure
// function of (seed, iteration, rank), so a resumed run draws what the
// uninterrupted one would have, whatever happened in between.
uint64_t step_seed(uint64_t seed, int64_t iter, int rank) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * uint64_t(iter + 1) + 0xD1B54A32D192ED03ULL * uint64_t(rank + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Names the first keys where two configs (JSON) differ, for a rank mismatch.
std::string config_diff(const std::string& a, const std::string& b) {
  auto ja = nlohmann::json::parse(a, nullptr, false), jb = nlohmann::json::parse(b, nullptr, false);
  if (ja.is_discarded() || jb.is_discarded()) return "unreadable config";
  std::string out;
  int n = 0;
  for (const auto& op : nlohmann::json::diff(ja, jb)) {
    const std::string path = op.value("path", "");
    if (n++ == 3) {
      out += ", ...";
      break;
    }
    nlohmann::json::json_pointer ptr(path);
    const std::string va = ja.contains(ptr) ? ja.at(ptr).dump() : "(absent)";
    const std::string vb = jb.contains(ptr) ? jb.at(ptr).dump() : "(absent)";
    out += (out.empty() ? "" : ", ") + path.substr(1) + " = " + vb + " (rank 0: " + va + ")";
  }
  for (auto& ch : out)
    if (ch == '/') ch = '.';
  return out.empty() ? "differs" : out;
}
}  // namespace

TrainResult Trainer::run(DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop) {
  const auto group = opt_.group;
  const bool dist = group && group->world() > 1;
  const bool lead = !group || group->rank() == 0;  // writes files, evaluates, reports
  auto say = [&](const std::string& m) {
    if (hooks.on_message && lead) hooks.on_message(m);
  };
  try {
    return run_loop(data, hooks, stop, say);
  } catch (const dist::DistError&) {
    throw;
  } catch (const std::exception& e) {
    // Leave the reason where the other ranks look when their collective fails.
    if (dist) group->post_error(e.what());
    throw;
  }
}

TrainResult Trainer::run_loop(DataSource& data, const TrainHooks& hooks, const std::atomic<bool>* stop,
                              const std::function<void(const std::string&)>& say) {
  const auto group = opt_.group;
  const bool dist = group && group->world() > 1;
  const bool lead = !group || group->rank() == 0;
  const int rank = group ? group->rank() : 0, world = group ? group->world() : 1;
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
    const int keep_batch = cfg_.solver.batch_size;
    cfg_ = config_from_json_string(meta.config_json, last + " (embedded config)");
    if (opt_.max_iters > 0) cfg_.solver.max_iters = int(std::max<int64_t>(keep_iters, meta.iteration));
    cfg_.solver.batch_size = keep_batch;  // the resumed run's own (may differ with another world size)
  }
  model_ = modeling::FasterRCNN(cfg_);
  model_->to(device_);
  auto optimizer = make_optimizer(model_, cfg_.solver);
  if (opt_.resume) {
    meta = load_checkpoint(last, model_, optimizer.get(), &gen);
    say("resumed " + last + " at iteration " + std::to_string(meta.iteration) +
        (meta.world_size != world ? " (written by " + std::to_string(meta.world_size) + " processes, now " +
                                        std::to_string(world) + ")"
                                  : ""));
  }
  std::unique_ptr<dist::GradBuckets> buckets;
  if (dist) {
    // Same config and data everywhere, then rank 0's weights everywhere.
    group->agree("config", config_to_json_string(cfg_), config_diff);
    group->agree("dataset", data.fingerprint, [](const std::string& a, const std::string& b) {
      return "\"" + b + "\" (rank 0: \"" + a + "\")";
    });
    group->agree("resume point", std::to_string(meta.iteration), [](const std::string& a, const std::string& b) {
      return "iteration " + b + " (rank 0: " + a + "); every rank must read the same last.pt";
    });
    dist::broadcast_module(*group, *model_);
    buckets = std::make_unique<dist::GradBuckets>(model_->parameters());
    say("data parallel: " + std::to_string(world) + " processes (" + group->backend() + "), global batch " +
        std::to_string(int64_t(cfg_.solver.batch_size) * world) + ", " + std::to_string(buckets->num_buckets()) +
        " gradient bucket(s), " + std::to_string(buckets->bytes_per_step() >> 10) + " KiB all-reduced per iteration");
  }
  if (lead) save_config(cfg_, cfg_path);
  std::optional<MetricsLog> log;
  if (lead) log.emplace((fs::path(opt_.run_dir) / "metrics.jsonl").string(), opt_.resume ? meta.iteration : 0);

  const int64_t global_batch = data.global_batch > 0 ? data.global_batch : int64_t(cfg_.solver.batch_size);
  int64_t iter = meta.iteration;
  int64_t epoch = meta.epoch;
  int64_t images_in_epoch =
      meta.images_in_epoch >= 0 ? meta.images_in_epoch : meta.batch_in_epoch * int64_t(cfg_.solver.batch_size);
  double best_map = meta.best_map, last_map = meta.last_map;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  bool budget_fixed = opt_.minutes <= 0;
  const int64_t budget_start_iter = iter;
  int64_t pending_max_iters = 0;  // rank 0's fitted schedule, applied by all ranks at the next step
  double window_t = 0, window_imgs = 0;
  auto window_start = std::chrono::steady_clock::now();
  double ips = 0;

  // A killed write leaves its temporary file (the file itself is whole): clear them.
  if (lead)
    for (const auto& e : fs::directory_iterator(opt_.run_dir)) {
      const auto n = e.path().filename().string();
      for (const char* f : {"last.pt.tmp.", "best.pt.tmp.", "metrics.jsonl.tmp.", "config.json.tmp"})
        if (n.rfind(f, 0) == 0) fs::remove(e.path());
    }
  int64_t saved_iter = opt_.resume ? meta.iteration : -1;  // the iteration last.pt holds
  auto checkpoint = [&](const std::string& path, bool is_best) {
    if (!lead) return;
    CheckpointMeta m;
    m.iteration = iter;
    m.epoch = epoch;
    m.images_in_epoch = images_in_epoch;
    m.batch_in_epoch = images_in_epoch / std::max<int64_t>(1, global_batch);
    m.world_size = world;
    m.best_map = best_map;
    m.last_map = last_map;
    m.config_json = config_to_json_string(cfg_);
    try {
      save_checkpoint(path, model_, optimizer.get(), m, &gen);
    } catch (const CheckpointError& e) {
      // Nothing already saved is touched (atomic_write): say what is kept.
      throw CheckpointError(std::string(e.what()) + "; " +
                            (saved_iter >= 0 ? "the last good checkpoint " + last + " (iteration " +
                                                   std::to_string(saved_iter) + ") is kept"
                                             : std::string("no checkpoint was written yet")) +
                            "; free space or fix the permissions, then --resume");
    }
    if (path == last) saved_iter = iter;
    if (hooks.on_checkpoint) hooks.on_checkpoint(path, is_best);
  };
  auto train_mode = [&] {
    model_->train();
    if (cfg_.solver.freeze_bn) freeze_batch_norm(*model_);
  };
  auto evaluate = [&] {
    if (lead && opt_.evaluate) {
      model_->eval();
      std::string details;
      {
        torch::NoGradGuard ng;
        last_map = opt_.evaluate(model_, &details);
      }
      train_mode();
      nlohmann::ordered_json j{{"type", "eval"}, {"iter", iter}, {"map50", last_map}};
      if (!details.empty()) j["details"] = nlohmann::json::parse(details, nullptr, false);
      log->append(j.dump());
      if (hooks.on_eval) hooks.on_eval(iter, last_map, details);
      if (last_map > best_map) {
        best_map = last_map;
        checkpoint(best, true);
      }
    }
    if (dist) group->barrier(opt_.eval_timeout_s, "waiting for rank 0's evaluation at iteration " + std::to_string(iter));
  };
  // Each rank divides its loss sums by (all ranks' samples) / world: the
  // mean of the ranks' gradients is then the whole global batch's.
  modeling::SampleNormalizer normalizer;
  if (dist) normalizer = dist::global_sample_normalizer(*group, [&] { return "iteration " + std::to_string(iter); });

  train_mode();
  data.start_epoch(epoch, images_in_epoch);
  while (iter < cfg_.solver.max_iters) {
    const bool stop_requested = stop && stop->load();
    if (!dist && stop_requested) {
      checkpoint(last, false);
      res.state = TrainResult::State::Stopped;
      res.message = "stopped at iteration " + std::to_string(iter) + "; resume with --resume";
      break;
    }
    auto batch = data.next();
    if (!batch) {
      ++epoch;
      images_in_epoch = 0;
      data.start_epoch(epoch, 0);
      batch = data.next();
      if (!batch) throw std::runtime_error("train: the dataset yields no batches");
    }
    if (batch->images.size(0) == 0) {
      if (dist) throw std::runtime_error("train: no image of this rank's batch could be read (see the loader's issues)");
      images_in_epoch += global_batch;
      continue;
    }
    if (hooks.before_step) hooks.before_step(iter);
    if (dist) group->arrive(iter);
    const double comm0 = dist ? group->allreduce_seconds() : 0;
    const double lr = lr_at(cfg_.solver, iter);
    for (auto& g : optimizer->param_groups()) g.options().set_lr(lr);
    auto images = batch->images.to(device_), gt = batch->gt.to(device_);
    gen.set_current_seed(step_seed(cfg_.solver.seed, iter, rank));
    auto losses = model_->forward_train(images, gt, gen, normalizer);
    torch::Tensor total = torch::zeros({}, images.options());
    for (auto& [k, v] : losses) total = total + v;
    // The losses every rank reports are the global batch's; the same
    // all-reduce carries the stop request and rank 0's schedule length.
    std::vector<std::string> names;
    std::vector<double> vals;
    for (auto& [k, v] : losses) names.push_back(k), vals.push_back(v.item<double>());
    vals.push_back(total.item<double>());
    if (dist) {
      auto ctl = torch::zeros({int64_t(vals.size()) + 2}, torch::kDouble);
      for (size_t i = 0; i < vals.size(); ++i) ctl[int64_t(i)] = vals[i] / double(world);
      ctl[int64_t(vals.size())] = stop_requested ? 1.0 : 0.0;
      ctl[int64_t(vals.size()) + 1] = lead ? double(pending_max_iters) : 0.0;
      group->allreduce_sum(ctl, "all-reducing the losses of iteration " + std::to_string(iter));
      auto a = ctl.accessor<double, 1>();
      for (size_t i = 0; i < vals.size(); ++i) vals[i] = a[int64_t(i)];
      if (a[int64_t(names.size()) + 2] > 0) cfg_.solver.max_iters = int(a[int64_t(names.size()) + 2]);
      if (a[int64_t(names.size()) + 1] > 0) {
        checkpoint(last, false);
        res.state = TrainResult::State::Stopped;
        res.message = "stopped at iteration " + std::to_string(iter) + "; resume with --resume";
        break;
      }
    }
    TrainStatus st;
    for (size_t i = 0; i < names.size(); ++i) st.losses[names[i]] = vals[i];
    st.loss = vals.back();
    if (!std::isfinite(st.loss)) {
      std::string parts;
      for (auto& [k, v] : st.losses) parts += " " + k + "=" + std::to_string(v);
      res.state = TrainResult::State::Failed;
      res.message = "non-finite loss at iteration " + std::to_string(iter) + " (" + parts.substr(1) +
                    "); training stopped, the last good checkpoint " +
                    (fs::exists(last) ? last : std::string("(none yet)")) +
                    " is kept; lower solver.lr or raise solver.warmup_iters";
      if (lead) log->append(nlohmann::json{{"type", "error"}, {"iter", iter}, {"message", res.message}}.dump());
      say(res.message);
      break;
    }
    optimizer->zero_grad();
    total.backward();
    if (dist) buckets->average(*group);
    if (cfg_.solver.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), cfg_.solver.grad_clip);
    optimizer->step();
    ++iter;
    images_in_epoch += global_batch;

    // Throughput (all ranks) over a sliding window of log periods.
    window_imgs += double(images.size(0)) * world;
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
      const int64_t n = std::max<int64_t>(iter + 2, std::min<int64_t>(cfg_.solver.max_iters, fit));
      if (dist) {
        pending_max_iters = n;  // every rank applies it at the next step's all-reduce
      } else {
        cfg_.solver.max_iters = int(n);
      }
      if (lead) {
        DetectorConfig c = cfg_;
        c.solver.max_iters = int(n);
        save_config(c, cfg_path);
      }
      say("time budget " + std::to_string(opt_.minutes) + " min: schedule set to " + std::to_string(n) +
          " iterations");
      budget_fixed = true;
    }
    st.iter = iter;
    st.max_iters = pending_max_iters > 0 ? pending_max_iters : cfg_.solver.max_iters;
    st.epoch = epoch;
    st.lr = lr;
    st.images_per_s = ips;
    st.elapsed_s = elapsed();
    st.eta_s =
        double(st.max_iters - iter) * st.elapsed_s / double(std::max<int64_t>(1, iter - budget_start_iter));
    st.world_size = world;
    st.allreduce_ms = dist ? 1000.0 * (group->allreduce_seconds() - comm0) : 0.0;
    if (hooks.after_step && lead) hooks.after_step(st);
    if (iter % cfg_.solver.log_period == 0 || iter == cfg_.solver.max_iters) {
      if (lead) log->append(status_json(st));
      if (hooks.on_log && lead) hooks.on_log(st);
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
