#include "api/eval_job.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/dataset_convert.h"
#include "api/job_session.h"
#include "data/image_io.h"
#include "data/json_numbers.h"
#include "data/loader.h"
#include "detail/eval_internal.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/precision.h"

namespace rcnn::api {

EvalReport evaluate_model(modeling::FasterRCNN& model, const DetectorConfig& cfg, const data::Dataset& ds,
                          const torch::Device& device, int max_images, int batch_size,
                          const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard ng;
  model->eval();
  data::Dataset sub = ds;
  if (max_images > 0 && sub.images.size() > size_t(max_images)) sub.images.resize(size_t(max_images));
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.shuffle = false;
  lo.drop_last = false;
  lo.num_workers = 1;
  lo.input_size = cfg.input.size;
  lo.resize = cfg.input.resize;
  lo.mean = cfg.input.mean;
  lo.std = cfg.input.std;
  lo.cache = false;
  data::DataLoader loader(sub, lo);
  loader.start_epoch(0);
  EvalReport rep;
  rep.class_names = ds.class_names;
  const size_t n = sub.images.size();
  rep.detections.resize(n);
  std::vector<char> seen(n, 0);
  int done = 0;
  while (auto b = loader.next()) {
    if (b->images.size(0) == 0) continue;
    auto dets = model->detect(b->images.to(device));
    for (size_t k = 0; k < b->indices.size(); ++k) {
      const size_t i = b->indices[k];
      seen[i] = 1;
      auto bx = dets[k].boxes.cpu().to(torch::kFloat).contiguous();
      auto sc = dets[k].scores.cpu(), cl = dets[k].classes.cpu(), pr = dets[k].proposal.cpu();
      auto acc = bx.accessor<float, 2>();
      for (int64_t j = 0; j < bx.size(0); ++j) {
        Detection d;
        d.box = {acc[j][0], acc[j][1], acc[j][2], acc[j][3]};
        d.box_original = d.box;
        b->transforms[k].backward(d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2);
        d.score = sc[j].item<float>();
        d.label = int(cl[j].item<int64_t>());
        d.proposal = int(pr[j].item<int64_t>());
        rep.detections[i].push_back(d);
      }
    }
    done += int(b->indices.size());
    if (progress) progress(done, int(n));
  }
  rep.issues = loader.issues();
  score_report(rep, sub.images, ds.class_names);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A torchvision model: image by image through the Session, as `rcnn analyze` runs it (its own transform,
// classes matched to the dataset's by name). GTs and crowd regions come from the traces, in the model's label
// space; the COCO area ranges then use box areas.
EvalReport evaluate_with_session(const EvalRequest& req, const data::Dataset& raw,
                                 const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto ds = to_info(raw);
  const auto session = open_job_session(req,
                                         ds.class_names);
  Session& s = *session;
  EvalReport rep;
  rep.class_names = ds.class_names;
  const size_t n = req.max_images > 0 ? std::min(size_t(req.max_images), ds.size()) : ds.size();
  std::vector<std::vector<evaluation::EvalBox>> E(n), G(n);
  rep.detections.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& im = ds.images[i];
    rep.image_paths.push_back(im.path);
    rep.gt.push_back(im.objects);
    s.open_image(im.path, im.objects, ds.class_names);
    const auto& t = s.run();
    if (i == 0) rep.class_names = t.class_names;  // the model's classes (GTs were matched to them by name)
    for (const auto& d : t.detections) {
      E[i].push_back({d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2, d.label, d.score,
                      false});
      rep.detections[i].push_back(d);
    }
    for (const auto& g : t.gt)
      G[i].push_back({g.box_original.x1, g.box_original.y1, g.box_original.x2, g.box_original.y2, g.label, 1.f,
                      g.difficult});
    for (const auto& c : t.crowd)
      G[i].push_back({c.box_original.x1, c.box_original.y1, c.box_original.x2, c.box_original.y2, c.label, 1.f, true});
    if (progress) progress(int(i + 1), int(n));
  }
  rep.result = evaluation::evaluate_detections(E, G, rep.class_names);
  rep.coco = evaluation::coco_evaluate(E, G, int(rep.class_names.size()));
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace

EvalReport run_evaluation(const EvalRequest& req, const std::function<void(int, int)>& progress) {
  engine::init_threads();
  auto device = engine::resolve_device(req.device);
  data::LoadOptions lo;
  lo.split = req.split;
  auto ds = data::open_dataset(req.dataset.empty() ? data::default_dataset_dir() : req.dataset, lo);
  if (!req.image_ids.empty()) {
    const std::set<std::string> want(req.image_ids.begin(), req.image_ids.end());
    std::vector<data::ImageRecord> keep;
    for (auto& im : ds.images)
      if (want.count(im.id)) keep.push_back(std::move(im));
    ds.images = std::move(keep);
    if (ds.images.empty()) throw std::runtime_error(ds.root + ": none of the requested images is in the split");
  }
  bool torchvision = is_torchvision(req.config) || ends_with(req.checkpoint, ".pth");
  if (!req.config_json.empty() && !torchvision)
    torchvision = config_from_json_string(req.config_json, "the studio's config").is_torchvision();
  if (torchvision) {
    if (ends_with(req.checkpoint, ".pth") && !is_torchvision(req.config) && req.config_json.empty())
      throw std::runtime_error(req.checkpoint + ": a torchvision state dict: say which architecture with --config "
                               "(torchvision_resnet50_fpn, torchvision_resnet50_fpn_v2, "
                               "torchvision_mobilenet_v3_large_fpn, torchvision_mobilenet_v3_large_320_fpn)");
    auto r = req;
    if (!is_torchvision(r.config) && !r.config_json.empty())
      r.config = config_from_json_string(r.config_json, "the studio's config").name;
    return evaluate_with_session(r, ds, progress);
  }
  DetectorConfig cfg;
  modeling::FasterRCNN model{nullptr};
  if (!req.checkpoint.empty()) {
    model = engine::load_model(req.checkpoint, device, &cfg);
  } else {
    cfg = load_preset(req.config);
    cfg.num_classes = int(ds.class_names.size());
    cfg.class_names = ds.class_names;
    model = modeling::FasterRCNN(cfg);
    model->to(device);
  }
  if (cfg.num_classes != int(ds.class_names.size()))
    throw std::runtime_error(req.checkpoint + ": model has " + std::to_string(cfg.num_classes) + " classes, dataset " +
                             ds.root + " has " + std::to_string(ds.class_names.size()));
  if (!req.config_json.empty()) {
    // The studio's current settings; they may not change the model's shape.
    auto c = config_from_json_string(req.config_json, "the studio's config");
    c.num_classes = cfg.num_classes;
    c.class_names = cfg.class_names;
    if (!model->compatible_with(c))
      throw std::runtime_error("the current settings change the model's shape: evaluate after retraining");
    cfg = c;
    model->update_config(cfg);
  }
  if (req.score_thresh >= 0) {
    cfg.roi.score_thresh = req.score_thresh;
    model->update_config(cfg);
  }
  const auto precision = engine::parse_precision(req.precision);
  engine::check_precision(precision, device);
  engine::PrecisionScope scope(precision);
  return evaluate_model(model, cfg, ds, device, req.max_images, req.batch_size, progress);
}

std::vector<DetectResult> detect_files(const std::string& checkpoint, const std::vector<std::string>& paths,
                                       const std::string& device_s, double score_thresh,
                                       std::vector<std::string>* class_names, const std::string& precision_s) {
  engine::init_threads();
  auto device = engine::resolve_device(device_s);
  const auto precision = engine::parse_precision(precision_s);
  engine::check_precision(precision, device);
  engine::PrecisionScope scope(precision);
  DetectorConfig cfg;
  auto model = engine::load_model(checkpoint, device, &cfg);
  if (score_thresh >= 0) {
    cfg.roi.score_thresh = score_thresh;
    model->update_config(cfg);
  }
  if (class_names) *class_names = cfg.class_names;
  torch::NoGradGuard ng;
  return detect_each(paths, [&](const cv::Mat& rgb, DetectResult& r) {
    auto tf = data::make_resize(rgb.cols, rgb.rows, cfg.input.size, cfg.input.resize);
    auto x = data::to_tensor(data::apply_resize(rgb, tf), cfg.input.mean, cfg.input.std).unsqueeze(0).to(device);
    auto det = model->detect(x)[0];
    auto bx = det.boxes.cpu().to(torch::kFloat).contiguous();
    auto acc = bx.accessor<float, 2>();
    for (int64_t j = 0; j < bx.size(0); ++j) {
      Detection d;
      d.box = {acc[j][0], acc[j][1], acc[j][2], acc[j][3]};
      d.box_original = d.box;
      tf.backward(d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2);
      d.score = det.scores[j].item<float>();
      d.label = int(det.classes[j].item<int64_t>());
      d.proposal = int(det.proposal[j].item<int64_t>());
      r.detections.push_back(d);
    }
  });
}

std::vector<DetectResult> detect_each(const std::vector<std::string>& paths,
                                      const std::function<void(const cv::Mat&, DetectResult&)>& one) {
  std::vector<DetectResult> out;
  for (const auto& p : paths) {
    DetectResult r;
    r.path = p;
    try {
      cv::Mat rgb = data::load_image_rgb(p);
      r.width = rgb.cols;
      r.height = rgb.rows;
      one(rgb, r);
    } catch (const std::exception& e) {
      r.error = e.what();
      r.detections.clear();
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::vector<evaluation::EvalBox>> read_detections_file(const std::string& json_path,
                                                                   const std::vector<std::string>& image_paths,
                                                                   int num_classes_i) {
  namespace fs = std::filesystem;
  std::ifstream in(json_path);
  if (!in) throw std::runtime_error(json_path + ": cannot open detections file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(json_path + ": malformed JSON: " + e.what());
  }
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < image_paths.size(); ++i) by_name[fs::path(image_paths[i]).filename().string()] = i;
  std::vector<std::vector<evaluation::EvalBox>> E(image_paths.size());
  const int64_t num_classes = num_classes_i;
  try {
    for (const auto& im : j) {
      const std::string image = im.at("image").get<std::string>();
      auto it = by_name.find(fs::path(image).filename().string());
      if (it == by_name.end()) continue;
      size_t k = 0;
      for (const auto& d : im.at("detections")) {
        // Every number strictly: a label outside the dataset's classes would
        // index past the evaluator's tables.
        auto bad = [&](const std::string& field, const nlohmann::json& v, const std::string& want) {
          return std::runtime_error(json_path + ": " + image + ", detection " + std::to_string(k) + ": " + field +
                                    " is " + v.dump().substr(0, 60) + ", " + want);
        };
        const auto& b = d.at("box");
        if (!b.is_array() || b.size() != 4) throw bad("box", b, "not [x1, y1, x2, y2]");
        float box[4];
        for (size_t c = 0; c < 4; ++c) {
          const auto v = data::json_real(b[c], -1e9, 1e9);
          if (!v) throw bad("box[" + std::to_string(c) + "]", b[c], "not a number in [-1e9, 1e9]");
          box[c] = float(*v);
        }
        const auto label = data::json_integer(d.at("label"));
        if (!label || *label < 0 || *label >= num_classes)
          throw bad("label", d.at("label"), "not a class index in 0.." + std::to_string(num_classes - 1));
        const auto score = data::json_real(d.at("score"), -1e30, 1e30);
        if (!score) throw bad("score", d.at("score"), "not a finite number");
        E[it->second].push_back({box[0], box[1], box[2], box[3], int(*label), float(*score), false});
        ++k;
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(json_path + ": " + e.what());
  }
  return E;
}

EvalReport evaluate_detections_file(const std::string& json_path, const std::string& dataset,
                                                const std::string& split) {
  data::LoadOptions lo;
  lo.split = split;
  auto ds = data::open_dataset(dataset.empty() ? data::default_dataset_dir() : dataset, lo);
  std::vector<std::string> paths;
  for (const auto& im : ds.images) paths.push_back(im.path);
  auto E = read_detections_file(json_path, paths, int(ds.class_names.size()));
  std::vector<std::vector<evaluation::EvalBox>> G(ds.size());
  for (size_t i = 0; i < ds.size(); ++i)
    for (const auto& a : ds.images[i].objects)
      G[i].push_back({a.x1, a.y1, a.x2, a.y2, a.label, 1.f, a.difficult || a.crowd, a.area});
  EvalReport rep;
  rep.result = evaluation::evaluate_detections(E, G, ds.class_names);
  rep.coco = evaluation::coco_evaluate(E, G, int(ds.class_names.size()));
  rep.class_names = ds.class_names;
  return rep;
}

std::string eval_report_to_json(const EvalReport& r) {
  auto j = nlohmann::ordered_json::parse(evaluation::eval_to_json(r.result));
  j["coco"] = nlohmann::ordered_json::parse(evaluation::coco_to_json(r.coco));
  return j.dump(1);
}

}  // namespace rcnn::api
