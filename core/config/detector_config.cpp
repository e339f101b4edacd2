#include "config/detector_config.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#ifndef RCNN_RESOURCE_DIR
#define RCNN_RESOURCE_DIR "resources"
#endif

namespace rcnn {
using json = nlohmann::ordered_json;

namespace {

json to_j(const DetectorConfig& c) {
  json j;
  j["name"] = c.name;
  j["num_classes"] = c.num_classes;
  j["class_names"] = c.class_names;
  j["input"] = {{"size", c.input.size},
                {"resize", c.input.resize},
                {"mean", c.input.mean},
                {"std", c.input.std},
                {"hflip_train", c.input.hflip_train},
                {"color_jitter", c.input.color_jitter},
                {"scale_jitter", c.input.scale_jitter}};
  j["backbone"] = {{"name", c.backbone.name}, {"fpn_channels", c.backbone.fpn_channels}, {"norm", c.backbone.norm}};
  j["anchors"] = {{"stride_scale", c.anchors.stride_scale},
                  {"aspect_ratios", c.anchors.aspect_ratios},
                  {"scales_per_octave", c.anchors.scales_per_octave}};
  const auto& r = c.rpn;
  j["rpn"] = {{"stem_channels", r.stem_channels},
              {"iou_lo", r.iou_lo},
              {"iou_hi", r.iou_hi},
              {"allow_low_quality_matches", r.allow_low_quality_matches},
              {"batch_size_per_image", r.batch_size_per_image},
              {"fg_fraction", r.fg_fraction},
              {"nms_thresh", r.nms_thresh},
              {"pre_nms_topk_train", r.pre_nms_topk_train},
              {"pre_nms_topk_test", r.pre_nms_topk_test},
              {"post_nms_topk_train", r.post_nms_topk_train},
              {"post_nms_topk_test", r.post_nms_topk_test},
              {"min_box_size", r.min_box_size},
              {"box_loss_weight", r.box_loss_weight}};
  const auto& o = c.roi;
  j["roi"] = {{"roi_size", o.roi_size},
              {"sampling_ratio", o.sampling_ratio},
              {"aligned", o.aligned},
              {"stem_channels", o.stem_channels},
              {"fc_dim", o.fc_dim},
              {"norm", o.norm},
              {"iou_lo", o.iou_lo},
              {"iou_hi", o.iou_hi},
              {"batch_size_per_image", o.batch_size_per_image},
              {"fg_fraction", o.fg_fraction},
              {"box_regression", o.box_regression},
              {"add_gt_to_proposals", o.add_gt_to_proposals},
              {"level_assignment", o.level_assignment},
              {"score_thresh", o.score_thresh},
              {"nms_thresh", o.nms_thresh},
              {"detections_per_image", o.detections_per_image},
              {"box_loss_weight", o.box_loss_weight}};
  const auto& s = c.solver;
  j["solver"] = {{"optimizer", s.optimizer},
                 {"lr", s.lr},
                 {"momentum", s.momentum},
                 {"weight_decay", s.weight_decay},
                 {"warmup_iters", s.warmup_iters},
                 {"warmup_factor", s.warmup_factor},
                 {"schedule", s.schedule},
                 {"steps", s.steps},
                 {"gamma", s.gamma},
                 {"max_iters", s.max_iters},
                 {"batch_size", s.batch_size},
                 {"grad_clip", s.grad_clip},
                 {"log_period", s.log_period},
                 {"eval_period", s.eval_period},
                 {"checkpoint_period", s.checkpoint_period},
                 {"seed", s.seed},
                 {"num_workers", s.num_workers}};
  return j;
}

template <typename T>
void get(const json& j, const char* key, T& out, const std::string& path) {
  try {
    j.at(key).get_to(out);
  } catch (const json::exception& e) {
    throw ConfigError(path + "." + key + ": " + e.what());
  }
}

DetectorConfig from_j(const json& j) {
  DetectorConfig c;
  get(j, "name", c.name, "");
  get(j, "num_classes", c.num_classes, "");
  get(j, "class_names", c.class_names, "");
  const auto& in = j.at("input");
  get(in, "size", c.input.size, "input");
  get(in, "resize", c.input.resize, "input");
  get(in, "mean", c.input.mean, "input");
  get(in, "std", c.input.std, "input");
  get(in, "hflip_train", c.input.hflip_train, "input");
  get(in, "color_jitter", c.input.color_jitter, "input");
  get(in, "scale_jitter", c.input.scale_jitter, "input");
  const auto& b = j.at("backbone");
  get(b, "name", c.backbone.name, "backbone");
  get(b, "fpn_channels", c.backbone.fpn_channels, "backbone");
  get(b, "norm", c.backbone.norm, "backbone");
  const auto& a = j.at("anchors");
  get(a, "stride_scale", c.anchors.stride_scale, "anchors");
  get(a, "aspect_ratios", c.anchors.aspect_ratios, "anchors");
  get(a, "scales_per_octave", c.anchors.scales_per_octave, "anchors");
  const auto& r = j.at("rpn");
  auto& R = c.rpn;
  get(r, "stem_channels", R.stem_channels, "rpn");
  get(r, "iou_lo", R.iou_lo, "rpn");
  get(r, "iou_hi", R.iou_hi, "rpn");
  get(r, "allow_low_quality_matches", R.allow_low_quality_matches, "rpn");
  get(r, "batch_size_per_image", R.batch_size_per_image, "rpn");
  get(r, "fg_fraction", R.fg_fraction, "rpn");
  get(r, "nms_thresh", R.nms_thresh, "rpn");
  get(r, "pre_nms_topk_train", R.pre_nms_topk_train, "rpn");
  get(r, "pre_nms_topk_test", R.pre_nms_topk_test, "rpn");
  get(r, "post_nms_topk_train", R.post_nms_topk_train, "rpn");
  get(r, "post_nms_topk_test", R.post_nms_topk_test, "rpn");
  get(r, "min_box_size", R.min_box_size, "rpn");
  get(r, "box_loss_weight", R.box_loss_weight, "rpn");
  const auto& o = j.at("roi");
  auto& O = c.roi;
  get(o, "roi_size", O.roi_size, "roi");
  get(o, "sampling_ratio", O.sampling_ratio, "roi");
  get(o, "aligned", O.aligned, "roi");
  get(o, "stem_channels", O.stem_channels, "roi");
  get(o, "fc_dim", O.fc_dim, "roi");
  get(o, "norm", O.norm, "roi");
  get(o, "iou_lo", O.iou_lo, "roi");
  get(o, "iou_hi", O.iou_hi, "roi");
  get(o, "batch_size_per_image", O.batch_size_per_image, "roi");
  get(o, "fg_fraction", O.fg_fraction, "roi");
  get(o, "box_regression", O.box_regression, "roi");
  get(o, "add_gt_to_proposals", O.add_gt_to_proposals, "roi");
  get(o, "level_assignment", O.level_assignment, "roi");
  get(o, "score_thresh", O.score_thresh, "roi");
  get(o, "nms_thresh", O.nms_thresh, "roi");
  get(o, "detections_per_image", O.detections_per_image, "roi");
  get(o, "box_loss_weight", O.box_loss_weight, "roi");
  const auto& s = j.at("solver");
  auto& S = c.solver;
  get(s, "optimizer", S.optimizer, "solver");
  get(s, "lr", S.lr, "solver");
  get(s, "momentum", S.momentum, "solver");
  get(s, "weight_decay", S.weight_decay, "solver");
  get(s, "warmup_iters", S.warmup_iters, "solver");
  get(s, "warmup_factor", S.warmup_factor, "solver");
  get(s, "schedule", S.schedule, "solver");
  get(s, "steps", S.steps, "solver");
  get(s, "gamma", S.gamma, "solver");
  get(s, "max_iters", S.max_iters, "solver");
  get(s, "batch_size", S.batch_size, "solver");
  get(s, "grad_clip", S.grad_clip, "solver");
  get(s, "log_period", S.log_period, "solver");
  get(s, "eval_period", S.eval_period, "solver");
  get(s, "checkpoint_period", S.checkpoint_period, "solver");
  get(s, "seed", S.seed, "solver");
  get(s, "num_workers", S.num_workers, "solver");
  return c;
}

const char* type_name(const json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

// Merge `user` into `base`, rejecting keys base does not have and values of
// another JSON type; error messages carry the dotted field path.
void merge(json& base, const json& user, const std::string& path) {
  if (!user.is_object()) throw ConfigError((path.empty() ? "config" : path) + ": expected an object");
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string field = path.empty() ? it.key() : path + "." + it.key();
    if (!base.contains(it.key())) throw ConfigError(field + ": unknown key");
    json& dst = base[it.key()];
    const json& v = it.value();
    if (dst.is_object()) {
      merge(dst, v, field);
      continue;
    }
    const bool num_ok = dst.is_number() && v.is_number();
    const bool arr_ok = dst.is_array() && v.is_array();
    if (!num_ok && !arr_ok && std::string(type_name(dst)) != type_name(v))
      throw ConfigError(field + ": expected a " + type_name(dst) + ", got a " + type_name(v));
    if (dst.is_number_integer() && v.is_number_float() && std::floor(v.get<double>()) != v.get<double>())
      throw ConfigError(field + ": expected an integer, got " + v.dump());
    dst = v;
  }
}

void require(bool ok, const std::string& field, const std::string& msg) {
  if (!ok) throw ConfigError(field + ": " + msg);
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_unit(double v, const std::string& field) {
  require(std::isfinite(v) && v >= 0.0 && v <= 1.0, field, "must be in [0, 1], got " + num(v));
}

}  // namespace

void DetectorConfig::validate() const {
  require(num_classes >= 1, "num_classes", "must be >= 1, got " + num(num_classes));
  require(class_names.empty() || static_cast<int>(class_names.size()) == num_classes, "class_names",
          "has " + num(class_names.size()) + " names but num_classes is " + num(num_classes));
  require(input.size >= 32 && input.size % 32 == 0, "input.size",
          "must be a multiple of 32 and >= 32, got " + num(input.size));
  require(input.resize == "stretch" || input.resize == "letterbox", "input.resize",
          "must be \"stretch\" or \"letterbox\", got \"" + input.resize + "\"");
  require(input.mean.size() == 3, "input.mean", "must have 3 values");
  require(input.std.size() == 3, "input.std", "must have 3 values");
  for (float s : input.std) require(s > 0, "input.std", "values must be > 0");
  check_unit(input.color_jitter, "input.color_jitter");
  require(std::isfinite(input.scale_jitter) && input.scale_jitter >= 0 && input.scale_jitter < 1, "input.scale_jitter",
          "must be in [0, 1), got " + num(input.scale_jitter));
  require(backbone.name == "regnetx_400mf" || backbone.name == "fast", "backbone.name",
          "must be \"regnetx_400mf\" or \"fast\", got \"" + backbone.name + "\"");
  require(backbone.fpn_channels >= 1, "backbone.fpn_channels", "must be >= 1");
  require(backbone.norm == "batch" || backbone.norm == "group" || backbone.norm == "none", "backbone.norm",
          "must be batch, group or none, got \"" + backbone.norm + "\"");
  require(anchors.stride_scale > 0, "anchors.stride_scale", "must be > 0, got " + num(anchors.stride_scale));
  require(!anchors.aspect_ratios.empty(), "anchors.aspect_ratios", "must not be empty");
  for (double r : anchors.aspect_ratios)
    require(std::isfinite(r) && r > 0, "anchors.aspect_ratios", "values must be > 0, got " + num(r));
  require(anchors.scales_per_octave >= 1 && anchors.scales_per_octave <= 4, "anchors.scales_per_octave",
          "must be in [1, 4]");
  check_unit(rpn.iou_lo, "rpn.iou_lo");
  check_unit(rpn.iou_hi, "rpn.iou_hi");
  require(rpn.iou_lo <= rpn.iou_hi, "rpn.iou_lo",
          "lo (" + num(rpn.iou_lo) + ") must be <= rpn.iou_hi (" + num(rpn.iou_hi) + ")");
  require(rpn.batch_size_per_image >= 1, "rpn.batch_size_per_image", "must be >= 1");
  check_unit(rpn.fg_fraction, "rpn.fg_fraction");
  check_unit(rpn.nms_thresh, "rpn.nms_thresh");
  require(rpn.pre_nms_topk_train >= 1 && rpn.pre_nms_topk_test >= 1, "rpn.pre_nms_topk", "must be >= 1");
  require(rpn.post_nms_topk_train >= 1 && rpn.post_nms_topk_test >= 1, "rpn.post_nms_topk", "must be >= 1");
  require(rpn.min_box_size >= 0, "rpn.min_box_size", "must be >= 0");
  for (int ch : rpn.stem_channels) require(ch >= 1, "rpn.stem_channels", "values must be >= 1");
  require(roi.roi_size >= 1 && roi.roi_size <= 32, "roi.roi_size", "must be in [1, 32]");
  for (int ch : roi.stem_channels) require(ch >= 1, "roi.stem_channels", "values must be >= 1");
  require(roi.fc_dim >= 0, "roi.fc_dim", "must be >= 0");
  require(roi.norm == "none" || roi.norm == "batch" || roi.norm == "group", "roi.norm",
          "must be none, batch or group, got \"" + roi.norm + "\"");
  check_unit(roi.iou_lo, "roi.iou_lo");
  check_unit(roi.iou_hi, "roi.iou_hi");
  require(roi.iou_lo <= roi.iou_hi, "roi.iou_lo",
          "lo (" + num(roi.iou_lo) + ") must be <= roi.iou_hi (" + num(roi.iou_hi) + ")");
  require(roi.batch_size_per_image >= 1, "roi.batch_size_per_image", "must be >= 1");
  check_unit(roi.fg_fraction, "roi.fg_fraction");
  require(roi.level_assignment == "own" || roi.level_assignment == "size", "roi.level_assignment",
          "must be \"own\" or \"size\"");
  check_unit(roi.score_thresh, "roi.score_thresh");
  check_unit(roi.nms_thresh, "roi.nms_thresh");
  require(roi.detections_per_image >= 1, "roi.detections_per_image", "must be >= 1");
  require(solver.optimizer == "sgd" || solver.optimizer == "adamw", "solver.optimizer",
          "must be \"sgd\" or \"adamw\", got \"" + solver.optimizer + "\"");
  require(std::isfinite(solver.lr) && solver.lr > 0, "solver.lr", "must be > 0, got " + num(solver.lr));
  require(solver.schedule == "cosine" || solver.schedule == "step" || solver.schedule == "constant", "solver.schedule",
          "must be cosine, step or constant");
  require(solver.max_iters >= 1, "solver.max_iters", "must be >= 1");
  require(solver.batch_size >= 1, "solver.batch_size", "must be >= 1");
  require(solver.warmup_iters >= 0, "solver.warmup_iters", "must be >= 0");
  require(solver.grad_clip >= 0, "solver.grad_clip", "must be >= 0");
  require(solver.log_period >= 1, "solver.log_period", "must be >= 1");
  require(solver.num_workers >= 0 && solver.num_workers <= 32, "solver.num_workers", "must be in [0, 32]");
}

DetectorConfig config_from_json_string(const std::string& text, const std::string& origin) {
  json user;
  try {
    user = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ConfigError(origin + ": malformed JSON: " + e.what());
  }
  json base = to_j(DetectorConfig{});
  try {
    merge(base, user, "");
  } catch (const ConfigError& e) {
    throw ConfigError(origin + ": " + e.what());
  }
  DetectorConfig c = from_j(base);
  try {
    c.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(origin + ": " + e.what());
  }
  return c;
}

std::string config_to_json_string(const DetectorConfig& cfg) {
  return to_j(cfg).dump(2) + "\n";
}

DetectorConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return config_from_json_string(ss.str(), path);
}

void save_config(const DetectorConfig& cfg, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw ConfigError(path + ": cannot write config file");
    out << config_to_json_string(cfg);
    if (!out) throw ConfigError(path + ": write failed");
  }
  std::filesystem::rename(tmp, path);
}

void apply_override(DetectorConfig& cfg, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set " + kv + ": expected key=value");
  const std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
  json v;
  try {
    v = json::parse(val);
  } catch (...) {
    v = val;  // bare word: treat as a string
  }
  json patch = v;
  std::string rest = key;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = json{{*it, patch}};
  json base = to_j(cfg);
  merge(base, patch, "");
  DetectorConfig c = from_j(base);
  c.validate();
  cfg = c;
}

std::string resource_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("RCNN_RESOURCES"); env && fs::is_directory(env)) return env;
  if (fs::is_directory(RCNN_RESOURCE_DIR)) return RCNN_RESOURCE_DIR;
  return "resources";
}

DetectorConfig load_preset(const std::string& name) {
  if (name.find('/') != std::string::npos || name.find(".json") != std::string::npos) return load_config(name);
  return load_config(resource_dir() + "/configs/" + name + ".json");
}

}  // namespace rcnn
