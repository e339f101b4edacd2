#pragma once
// Options structs of every module, with the reference's defaults. Every field
// is also declared once in the field table (config_fields.h), which drives
// JSON load/save, validation and the studio. Plain C++ (no torch).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/torchvision_options.h"

namespace rcnn {

// Thrown for any invalid configuration value; what() names the field,
// e.g. "rpn.iou_thresholds: lo (0.7) must be <= hi (0.6)".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct InputOptions {
  int size = 224;                  // square model input
  std::string resize = "stretch";  // "stretch" | "letterbox"
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  bool hflip_train = true;
  double color_jitter = 0.0;  // training: random per-channel gain/offset and channel order (0 = off)
  double scale_jitter = 0.0;  // training: random zoom-out to a scale in [1 - scale_jitter, 1] (0 = off)
};

struct BackboneOptions {
  std::string name = "regnetx_400mf";  // "regnetx_400mf" | "fast"
  int fpn_channels = 64;
  std::string norm = "batch";  // "batch" | "group" | "none"
};

struct AnchorOptions {
  double stride_scale = 8.0;  // anchor side = stride * stride_scale
  std::vector<double> aspect_ratios{0.5, 1.0, 2.0};
  int scales_per_octave = 1;  // >1 adds sizes 2^(k/n) per level
};

struct RPNOptions {
  std::vector<int> stem_channels{64, 64};
  double iou_lo = 0.3, iou_hi = 0.6;  // reference: (0.3, 0.6)
  bool allow_low_quality_matches = false;
  int batch_size_per_image = 16;
  double fg_fraction = 0.5;
  double nms_thresh = 0.7;
  int pre_nms_topk_train = 400, pre_nms_topk_test = 400;
  int post_nms_topk_train = 100, post_nms_topk_test = 100;
  double min_box_size = 0.0;  // drop proposals smaller than this (px)
  double box_loss_weight = 1.0;
  // dw, dh are clamped here before exp() so a wild prediction cannot
  // overflow; the reference uses log(224 / 8).
  double box_scale_clamp = 3.332204510175204;
};

struct ROIHeadsOptions {
  int roi_size = 7;
  int sampling_ratio = -1;  // <= 0: adaptive (torchvision default)
  bool aligned = true;
  std::vector<int> stem_channels{64, 64};
  int fc_dim = 0;             // 0: linear classifier straight on the stem (seed)
  std::string norm = "none";  // stem normalization: "none" (seed) | "batch" | "group"
  double iou_lo = 0.5, iou_hi = 0.5;
  int batch_size_per_image = 32;
  double fg_fraction = 0.25;
  bool box_regression = false;  // class-specific box regression (not in the seed)
  bool add_gt_to_proposals = false;
  std::string level_assignment = "own";  // "own" (reference) | "size" (FPN paper eq. 1)
  // FPN eq. 1: k = floor(k0 + log2(sqrt(w h) / canonical_size)); a box of
  // canonical_size px goes to level k0 = canonical_level (ImageNet's 224, k0 = 4).
  double canonical_size = 224.0;
  int canonical_level = 4;
  double score_thresh = 0.05;
  double nms_thresh = 0.5;
  int detections_per_image = 100;
  double box_loss_weight = 1.0;
  double box_scale_clamp = 3.332204510175204;  // log(224 / 8), as the RPN's
};

struct SolverOptions {
  std::string optimizer = "sgd";  // "sgd" | "adamw"
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  int warmup_iters = 100;
  double warmup_factor = 0.001;
  std::string schedule = "cosine";  // "cosine" | "step" | "constant"
  std::vector<int> steps;           // for "step", as fractions of max_iters x1000
  double gamma = 0.1;
  int max_iters = 1000;
  // Images per process per iteration. With N data-parallel processes an
  // iteration sees N * batch_size images (the global batch), and `lr` is the
  // rate for that global batch as given: it is not rescaled with N (the
  // linear scaling rule, lr x N, is the user's choice to make).
  int batch_size = 16;
  double grad_clip = 10.0;  // 0: off
  int log_period = 10;
  int eval_period = 500;
  int checkpoint_period = 200;
  uint64_t seed = 42;
  int num_workers = 2;
  // BatchNorm layers use their running statistics and do not update them
  // while training. Off: each data-parallel process normalises with its own
  // batch's statistics (per-rank BatchNorm, as DistributedDataParallel
  // without SyncBatchNorm); rank 0's running statistics are the ones saved.
  bool freeze_bn = false;
};

struct DetectorConfig {
  std::string name = "seed";
  int num_classes = 10;
  std::vector<std::string> class_names;  // optional, size num_classes
  InputOptions input;
  BackboneOptions backbone;
  AnchorOptions anchors;
  RPNOptions rpn;
  ROIHeadsOptions roi;
  SolverOptions solver;
  // Used when `name` is a torchvision preset (then input, backbone, anchors,
  // rpn and roi are not): torchvision's own options under its names.
  TorchvisionOptions torchvision;

  bool is_torchvision() const { return rcnn::is_torchvision(name); }
  // Throws ConfigError naming the first invalid field.
  void validate() const;
};

// JSON (text) <-> config. Unknown keys are rejected; missing keys keep the
// defaults above. Throws ConfigError.
DetectorConfig config_from_json_string(const std::string& text, const std::string& origin = "<string>");
std::string config_to_json_string(const DetectorConfig& cfg);
DetectorConfig load_config(const std::string& path);
void save_config(const DetectorConfig& cfg, const std::string& path);

// "rpn.iou_hi=0.7" style override (the CLI's --set); value parsed as JSON.
void apply_override(DetectorConfig& cfg, const std::string& key_eq_value);

// Presets shipped in resources/configs/ (seed, default, fast); the search
// order is $RCNN_RESOURCES, the build's resource dir, ./resources.
std::string resource_dir();
// A torchvision preset name gives that builder's options with COCO's 90
// classes.
DetectorConfig load_preset(const std::string& name);
// The torchvision options with preset, arch and num_classes (background
// included) filled in from the config's name and num_classes.
TorchvisionOptions torchvision_options(const DetectorConfig& cfg);

}  // namespace rcnn
