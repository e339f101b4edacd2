#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "pipeline/tv_detector.h"
#include "detail/train_tv_internal.h"
#include "data/image_io.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/lr_schedule.h"
#include "engine/metrics_log.h"
#include "evaluation/voc_map.h"
#include "modeling/torchvision/tv_training.h"
#include "serialize/state_dict.h"

namespace fs = std::filesystem;

namespace rcnn::api {
namespace mt = modeling::tv;
namespace {

struct Sample {
  torch::Tensor image;  // (3, H, W) [0, 1]
  mt::TvTarget target;  // labels 1.. (the dataset's label + 1)
};

Sample load_sample(const data::ImageRecord& rec, bool flip) {
  cv::Mat rgb = data::load_image_rgb(rec.path);
  auto hwc = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kByte).clone();
  Sample s;
  s.image = mt::image_from_rgb8(hwc);
  std::vector<float> b;
  std::vector<int64_t> l;
  for (const auto& a : rec.objects) {
    if (a.crowd) continue;
    const float x1 = flip ? float(rgb.cols) - a.x2 : a.x1, x2 = flip ? float(rgb.cols) - a.x1 : a.x2;
    b.insert(b.end(), {x1, a.y1, x2, a.y2});
    l.push_back(a.label + 1);
  }
  if (flip) s.image = s.image.flip({2});
  s.target = {torch::tensor(b, torch::kFloat).view({-1, 4}), torch::tensor(l, torch::kLong)};
  return s;
}

// Val mAP@0.5 of the model (eval mode) over at most max_images images.
double evaluate(mt::TvFasterRCNNImpl& m, const data::Dataset& val, int max_images) {
  torch::NoGradGuard ng;
  m.eval();
  std::vector<std::vector<evaluation::EvalBox>> dets, gts;
  const size_t n = max_images > 0 ? std::min(val.images.size(), size_t(max_images)) : val.images.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& rec = val.images[i];
    auto s = load_sample(rec, false);
    const auto r = m.infer({s.image});
    const auto& d = r.detections[0];
    std::vector<evaluation::EvalBox> one;
    auto bx = d.boxes.contiguous(), scores = d.scores.contiguous(), labels = d.labels.contiguous();
    auto b = bx.accessor<float, 2>();
    auto sc = scores.accessor<float, 1>();
    auto lb = labels.accessor<int64_t, 1>();
    for (int64_t j = 0; j < bx.size(0); ++j)
      one.push_back({b[j][0], b[j][1], b[j][2], b[j][3], int(lb[j]) - 1, sc[j], false});
    dets.push_back(one);
    std::vector<evaluation::EvalBox> g;
    for (const auto& a : rec.objects)
      if (!a.crowd) g.push_back({a.x1, a.y1, a.x2, a.y2, a.label, 1.f, a.difficult});
    gts.push_back(g);
  }
  m.train();
  return evaluation::evaluate_detections(dets, gts, val.class_names).map50;
}

// The start: the user's state dict (its box predictor replaced by a fresh
// one when the dataset has another number of classes, as torchvision's
// fine-tuning tutorial does), or random weights.
void initialise(mt::TvFasterRCNNImpl& m, const std::string& path, const std::function<void(const std::string&)>& say) {
  if (path.empty()) {
    say("torchvision model: random weights (no --checkpoint)");
    return;
  }
  auto sd = serialize::read_state_dict(path);
  const auto* cls = sd.find("roi_heads.box_predictor.cls_score.weight");
  if (cls && cls->size(0) != m.opts.num_classes) {
    serialize::StateDict kept;
    for (auto& [k, v] : sd.entries)
      if (k.rfind("roi_heads.box_predictor.", 0) != 0) kept.entries.emplace_back(k, v);
    for (const auto& p : m.box_predictor->named_parameters())
      kept.entries.emplace_back("roi_heads.box_predictor." + p.key(), p.value().detach().clone());
    say(path + ": " + std::to_string(cls->size(0) - 1) + " classes in the checkpoint, " +
        std::to_string(m.opts.num_classes - 1) + " in the dataset: the box predictor starts fresh");
    sd = kept;
  }
  m.load(sd, path);
}

}  // namespace

TrainOutcome run_torchvision_training(const TrainRequest& req, DetectorConfig cfg, const data::Dataset& train,
                                      const std::optional<data::Dataset>& val, const TrainEvents& ev,
                                      const std::atomic<bool>& stop) {
  TrainOutcome out;
  out.run_dir = req.run_dir;
  auto say = [&](const std::string& m) {
    if (ev.on_message) ev.on_message(m);
  };
  fs::create_directories(req.run_dir);
  const std::string last = (fs::path(req.run_dir) / "last.pth").string();
  const std::string best = (fs::path(req.run_dir) / "best.pth").string();
  const std::string state = (fs::path(req.run_dir) / "run.json").string();
  int64_t start = 0;
  double best_map = -1;
  if (req.resume) {
    std::ifstream f(state);
    if (!f) throw std::runtime_error(state + ": no run to resume (run.json missing)");
    try {
      nlohmann::json j = nlohmann::json::parse(f);
      cfg = config_from_json_string(j.at("config").dump(), state);
      start = j.at("iteration").get<int64_t>();
      best_map = j.value("best_map", -1.0);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(state + ": unreadable run state (" + e.what() + ")");
    }
  }
  const auto o = torchvision_options(cfg);
  torch::manual_seed(cfg.solver.seed);
  mt::TvFasterRCNN model(o);
  if (req.resume)
    model->load(serialize::read_state_dict(last), last);
  else
    initialise(*model, req.init_checkpoint, say);
  mt::freeze_backbone(*model, o.trainable_backbone_layers);
  model->train();
  std::vector<torch::Tensor> params;
  int64_t trainable = 0;
  for (auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p), trainable += p.numel();
  say("torchvision " + cfg.name + ": " + std::to_string(trainable) + " trainable parameters (trainable_backbone_layers " +
      std::to_string(o.trainable_backbone_layers) + "), batch " + std::to_string(cfg.solver.batch_size));
  torch::optim::SGD opt(params, torch::optim::SGDOptions(cfg.solver.lr)
                                    .momentum(cfg.solver.momentum)
                                    .weight_decay(cfg.solver.weight_decay));
  int64_t max_iters = req.max_iters > 0 ? req.max_iters : cfg.solver.max_iters;
  engine::MetricsLog log((fs::path(req.run_dir) / "metrics.jsonl").string(), start);
  auto save = [&](int64_t iter) {
    serialize::write_state_dict(last, model->state_dict());
    nlohmann::json j;
    j["config"] = nlohmann::json::parse(config_to_json_string(cfg));
    j["iteration"] = iter;
    j["best_map"] = best_map;
    j["format"] = "torchvision state_dict (last.pth, best.pth)";
    engine::atomic_write(state, j.dump(2));
    if (ev.on_checkpoint) ev.on_checkpoint(last, false);
  };
  // Image order: a fresh shuffle per epoch from (seed, epoch), so a resumed run continues it.
  const int64_t B = std::max(1, cfg.solver.batch_size), n = int64_t(train.images.size());
  std::vector<size_t> order;
  int64_t order_epoch = -1;
  auto order_of = [&](int64_t epoch) -> const std::vector<size_t>& {
    if (epoch == order_epoch) return order;
    order.resize(static_cast<size_t>(n));
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::mt19937_64 rng(cfg.solver.seed * 1000003ULL + uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    order_epoch = epoch;
    return order;
  };
  auto gen = at::detail::createCPUGenerator(cfg.solver.seed + uint64_t(start));
  const auto t0 = std::chrono::steady_clock::now();
  int64_t it = start;
  for (; it < max_iters; ++it) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (stop || (req.minutes > 0 && elapsed > req.minutes * 60)) break;
    std::vector<torch::Tensor> images;
    std::vector<mt::TvTarget> targets;
    for (int64_t k = 0; k < B; ++k) {
      const int64_t pos = it * B + k;
      const auto& rec = train.images[order_of(pos / n)[size_t(pos % n)]];
      std::mt19937_64 coin(cfg.solver.seed ^ uint64_t(pos) * 0x9E3779B97F4A7C15ULL);
      auto s = load_sample(rec, cfg.input.hflip_train && (coin() & 1));
      images.push_back(s.image);
      targets.push_back(s.target);
    }
    for (auto& g : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(engine::lr_at(cfg.solver, it));
    const auto L = mt::training_losses(*model, images, targets, nullptr, nullptr, gen);
    auto total = L.total();
    if (!std::isfinite(total.item<double>()))
      throw std::runtime_error("iteration " + std::to_string(it) + ": the loss is not finite (lower solver.lr)");
    opt.zero_grad();
    total.backward();
    opt.step();
    TrainProgress p;
    p.iter = it + 1;
    p.max_iters = max_iters;
    p.epoch = (it * B) / n;
    p.losses = {{"rpn_obj", L.objectness.item<double>()}, {"rpn_box", L.rpn_box_reg.item<double>()},
                {"roi_cls", L.classifier.item<double>()}, {"roi_box", L.box_reg.item<double>()}};
    p.loss = total.item<double>();
    p.lr = engine::lr_at(cfg.solver, it);
    p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    p.images_per_s = double((it + 1 - start) * B) / std::max(1e-9, p.elapsed_s);
    p.eta_s = double(max_iters - it - 1) * B / std::max(1e-9, p.images_per_s);
    if (ev.on_progress) ev.on_progress(p);
    if ((it + 1) % std::max(1, cfg.solver.log_period) == 0 || it + 1 == max_iters) {
      nlohmann::json j{{"iter", p.iter}, {"loss", p.loss}, {"lr", p.lr}, {"losses", p.losses}};
      log.append(j.dump());
      if (ev.on_log) ev.on_log(p);
    }
    if (cfg.solver.checkpoint_period > 0 && (it + 1) % cfg.solver.checkpoint_period == 0) save(it + 1);
    if (val && cfg.solver.eval_period > 0 && (it + 1) % cfg.solver.eval_period == 0) {
      const double m = evaluate(*model, *val, req.eval_max_images);
      out.last_map = m;
      log.append(nlohmann::json{{"iter", it + 1}, {"val_map50", m}}.dump());
      if (ev.on_eval) ev.on_eval(it + 1, m);
      if (m > best_map) {
        best_map = m;
        serialize::write_state_dict(best, model->state_dict());
        if (ev.on_checkpoint) ev.on_checkpoint(best, true);
      }
    }
  }
  save(it);
  out.iterations = it;
  out.best_map = best_map;
  out.state = it >= max_iters ? "completed" : "stopped";
  out.message = "wrote " + last + " (torch.save(state_dict) format: torchvision's load_state_dict takes it)";
  return out;
}

}  // namespace rcnn::api
