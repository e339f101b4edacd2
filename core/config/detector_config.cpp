#include "config/detector_config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/config_fields.h"
#include "config/config_json.h"

#ifndef RCNN_RESOURCE_DIR
#define RCNN_RESOURCE_DIR "resources"
#endif

namespace rcnn {
using json = nlohmann::ordered_json;

namespace {

template <typename T>
T& at(DetectorConfig& c, const FieldSpec& f) {
  return *static_cast<T*>(f.ref(c));
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  return parts;
}

json to_j(const DetectorConfig& c) {
  return detail::config_to_json(c);
}
DetectorConfig from_j(const json& j) {
  return detail::config_from_json(j);
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

}  // namespace

void DetectorConfig::validate() const {
  // Ranges and choices come from the field table; what follows are the rules
  // that relate several fields.
  for (const auto& f : config_fields()) check_field(*this, f);
  require(class_names.empty() || static_cast<int>(class_names.size()) == num_classes, "class_names",
          "has " + num(class_names.size()) + " names but num_classes is " + num(num_classes));
  require(input.size % 32 == 0, "input.size", "must be a multiple of 32 and >= 32, got " + num(input.size));
  require(input.mean.size() == 3, "input.mean", "must have 3 values");
  require(input.std.size() == 3, "input.std", "must have 3 values");
  require(rpn.iou_lo <= rpn.iou_hi, "rpn.iou_lo",
          "lo (" + num(rpn.iou_lo) + ") must be <= rpn.iou_hi (" + num(rpn.iou_hi) + ")");
  require(roi.iou_lo <= roi.iou_hi, "roi.iou_lo",
          "lo (" + num(roi.iou_lo) + ") must be <= roi.iou_hi (" + num(roi.iou_hi) + ")");
  if (!is_torchvision()) return;
  const auto o = torchvision_options(*this);
  const size_t L = size_t(o.num_levels());
  require(o.anchor_sizes.size() == L, "torchvision.anchor_sizes",
          "needs one list per feature map (" + num(L) + " for " + name + "), got " + num(o.anchor_sizes.size()));
  require(o.aspect_ratios.size() == 1 || o.aspect_ratios.size() == L, "torchvision.aspect_ratios",
          "needs one list, or one per feature map (" + num(L) + "), got " + num(o.aspect_ratios.size()));
  for (size_t l = 0; l < L; ++l)
    require(o.anchors_per_location(l) == o.anchors_per_location(0), "torchvision.anchor_sizes",
            "every level needs the same number of anchors per location (sizes x ratios): the RPN head is shared");
  require(o.image_mean.size() == 3, "torchvision.image_mean", "must have 3 values");
  require(o.image_std.size() == 3, "torchvision.image_std", "must have 3 values");
  require(o.bbox_reg_weights.size() == 4, "torchvision.bbox_reg_weights", "must have 4 values");
  require(o.min_size <= o.max_size, "torchvision.min_size",
          "must be <= max_size (" + num(o.max_size) + "), got " + num(o.min_size));
  require(o.rpn_bg_iou_thresh <= o.rpn_fg_iou_thresh, "torchvision.rpn_bg_iou_thresh",
          "must be <= rpn_fg_iou_thresh (" + num(o.rpn_fg_iou_thresh) + ")");
  require(o.box_bg_iou_thresh <= o.box_fg_iou_thresh, "torchvision.box_bg_iou_thresh",
          "must be <= box_fg_iou_thresh (" + num(o.box_fg_iou_thresh) + ")");
  const int max_layers = o.arch == TvArch::MobileNetV3LargeFPN ? 6 : 5;
  require(o.trainable_backbone_layers <= max_layers, "torchvision.trainable_backbone_layers",
          "must be <= " + num(max_layers) + " for " + name);
}

TorchvisionOptions torchvision_options(const DetectorConfig& cfg) {
  TorchvisionOptions o = cfg.torchvision;
  o.preset = cfg.name;
  o.arch = torchvision_preset(cfg.name).arch;
  o.num_classes = cfg.num_classes + 1;
  return o;
}

DetectorConfig config_from_json_string(const std::string& text, const std::string& origin) {
  json user;
  try {
    user = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e400
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
    if (!out) throw ConfigError(path + ": cannot write config file (" + std::strerror(errno) + ")");
    out << config_to_json_string(cfg);
    out.flush();
    if (!out) throw ConfigError(path + ": write failed (" + std::strerror(errno) + ")");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw ConfigError(path + ": cannot replace it (" + ec.message() + ")");
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

namespace detail {

json field_to_json(const DetectorConfig& cfg_in, const FieldSpec& f) {
  auto& c = const_cast<DetectorConfig&>(cfg_in);
  switch (f.kind) {
    case FieldKind::Int:
      return at<int>(c, f);
    case FieldKind::UInt64:
      return at<uint64_t>(c, f);
    case FieldKind::Double:
      return at<double>(c, f);
    case FieldKind::Bool:
      return at<bool>(c, f);
    case FieldKind::String:
      return at<std::string>(c, f);
    case FieldKind::IntList:
      return at<std::vector<int>>(c, f);
    case FieldKind::DoubleList:
      return at<std::vector<double>>(c, f);
    case FieldKind::FloatList:
      return at<std::vector<float>>(c, f);
    case FieldKind::StringList:
      return at<std::vector<std::string>>(c, f);
    case FieldKind::DoubleLists:
      return at<std::vector<std::vector<double>>>(c, f);
  }
  return nullptr;
}

void field_from_json(DetectorConfig& c, const FieldSpec& f, const json& v) {
  try {
    switch (f.kind) {
      case FieldKind::Int:
        v.get_to(at<int>(c, f));
        break;
      case FieldKind::UInt64:
        v.get_to(at<uint64_t>(c, f));
        break;
      case FieldKind::Double:
        v.get_to(at<double>(c, f));
        break;
      case FieldKind::Bool:
        v.get_to(at<bool>(c, f));
        break;
      case FieldKind::String:
        v.get_to(at<std::string>(c, f));
        break;
      case FieldKind::IntList:
        v.get_to(at<std::vector<int>>(c, f));
        break;
      case FieldKind::DoubleList:
        v.get_to(at<std::vector<double>>(c, f));
        break;
      case FieldKind::FloatList:
        v.get_to(at<std::vector<float>>(c, f));
        break;
      case FieldKind::StringList:
        v.get_to(at<std::vector<std::string>>(c, f));
        break;
      case FieldKind::DoubleLists:
        v.get_to(at<std::vector<std::vector<double>>>(c, f));
        break;
    }
  } catch (const json::exception& e) {
    throw ConfigError(f.key + ": " + e.what());
  }
}

json config_to_json(const DetectorConfig& c) {
  json j = json::object();
  for (const auto& f : config_fields()) {
    json* node = &j;
    const auto parts = split_key(f.key);
    for (size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
    (*node)[parts.back()] = field_to_json(c, f);
  }
  return j;
}

DetectorConfig config_from_json(const json& j) {
  DetectorConfig c;
  for (const auto& f : config_fields()) {
    const json* node = &j;
    for (const auto& p : split_key(f.key)) {
      if (!node->is_object() || !node->contains(p)) throw ConfigError(f.key + ": missing");
      node = &node->at(p);
    }
    field_from_json(c, f, *node);
  }
  return c;
}

}  // namespace detail

std::string resource_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("RCNN_RESOURCES"); env && fs::is_directory(env)) return env;
  if (fs::is_directory(RCNN_RESOURCE_DIR)) return RCNN_RESOURCE_DIR;
  return "resources";
}

DetectorConfig load_preset(const std::string& name) {
  if (is_torchvision(name)) {
    DetectorConfig c;
    c.name = name;
    c.num_classes = 90;
    c.torchvision = torchvision_preset(name, 91);
    // Fine-tuning as torchvision's detection tutorial does it: SGD, lr 0.005,
    // momentum 0.9, weight decay 5e-4, two whole images per step.
    c.solver.batch_size = 2;
    c.solver.lr = 0.005;
    c.solver.weight_decay = 5e-4;
    return c;
  }
  if (name.find('/') != std::string::npos || name.find(".json") != std::string::npos) return load_config(name);
  return load_config(resource_dir() + "/configs/" + name + ".json");
}

}  // namespace rcnn
