#include "config/config_fields.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/config_json.h"

namespace rcnn {
namespace {
using json = nlohmann::ordered_json;
constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
constexpr double kBig = 1e9;
using K = FieldKind;

// One declaration per field. `ref` is written out by the macro so the key
// string and the member it names cannot drift apart.
#define FIELD(path, kind)                                                        \
  FieldSpec {                                                                    \
#path, "", "", kind, kNone, kNone, false, false,                             \
        {}, 0, false, false, [](DetectorConfig & c) -> void* { return &c.path; } \
  }

struct Builder {
  std::vector<FieldSpec> v;
  std::string group;
  FieldSpec& add(FieldSpec f, const char* doc) {
    f.group = group;
    f.doc = doc;
    v.push_back(std::move(f));
    return v.back();
  }
};
FieldSpec& range(FieldSpec& f, double lo, double hi, bool open = false) {
  f.min = lo;
  f.max = hi;
  f.min_open = open;
  return f;
}
FieldSpec& dirt(FieldSpec& f, unsigned d) {
  f.dirties = d;
  return f;
}

// torchvision's options under torchvision's names (the keyword arguments of
// FasterRCNN / GeneralizedRCNNTransform / AnchorGenerator), used by the
// torchvision presets.
void add_torchvision_fields(Builder& b) {
  b.group = "torchvision: transform";
  dirt(range(b.add(FIELD(torchvision.min_size, K::Int), "resize so the short side is min_size..."), 1, 8192),
       kStageImage);
  dirt(range(b.add(FIELD(torchvision.max_size, K::Int), "...unless the long side then exceeds max_size"), 1, 8192),
       kStageImage);
  dirt(range(b.add(FIELD(torchvision.size_divisible, K::Int), "the batch is zero-padded to a multiple of this"), 1,
             256),
       kStageImage);
  dirt(b.add(FIELD(torchvision.image_mean, K::DoubleList), "per-channel mean subtracted from the [0, 1] image"),
       kStageImage);
  dirt(range(b.add(FIELD(torchvision.image_std, K::DoubleList), "per-channel std the image is divided by"), 0, kBig,
             true),
       kStageImage);
  b.group = "torchvision: backbone";
  dirt(range(b.add(FIELD(torchvision.frozen_bn_eps, K::Double),
                   "FrozenBatchNorm2d eps (0: weights from torchvision's COCO_V1; 1e-5 otherwise)"),
             0, 1),
       kStageBackbone);
  range(b.add(FIELD(torchvision.trainable_backbone_layers, K::Int),
              "fine-tuning: backbone stages that train, from the top (0-5 ResNet, 0-6 MobileNet)"),
        0, 6);
  b.group = "torchvision: anchors";
  auto& as = dirt(range(b.add(FIELD(torchvision.anchor_sizes, K::DoubleLists),
                              "AnchorGenerator sizes: one list per feature map ('0'-'3', 'pool')"),
                        0, kBig, true),
                  kStageAnchors);
  as.non_empty = true;
  auto& ar = dirt(range(b.add(FIELD(torchvision.aspect_ratios, K::DoubleLists),
                              "AnchorGenerator aspect ratios h / w: one list for all maps, or one per map"),
                        0, 1000, true),
                  kStageAnchors);
  ar.non_empty = true;
  b.group = "torchvision: RPN";
  range(b.add(FIELD(torchvision.rpn_pre_nms_top_n_train, K::Int), "training: candidates per level before NMS"), 1,
        kBig);
  dirt(range(b.add(FIELD(torchvision.rpn_pre_nms_top_n_test, K::Int), "candidates per level before NMS"), 1, kBig),
       kStageProposals);
  range(b.add(FIELD(torchvision.rpn_post_nms_top_n_train, K::Int), "training: proposals per image after NMS"), 1,
        kBig);
  dirt(range(b.add(FIELD(torchvision.rpn_post_nms_top_n_test, K::Int), "proposals per image after NMS"), 1, kBig),
       kStageProposals);
  dirt(range(b.add(FIELD(torchvision.rpn_nms_thresh, K::Double), "NMS IoU threshold, per level"), 0, 1),
       kStageProposals);
  dirt(range(b.add(FIELD(torchvision.rpn_score_thresh, K::Double), "proposals need objectness >= this"), 0, 1),
       kStageProposals);
  dirt(range(b.add(FIELD(torchvision.rpn_fg_iou_thresh, K::Double), "anchor IoU >= this: positive"), 0, 1),
       kStageMatch);
  dirt(range(b.add(FIELD(torchvision.rpn_bg_iou_thresh, K::Double), "anchor IoU < this: negative"), 0, 1),
       kStageMatch);
  dirt(range(b.add(FIELD(torchvision.rpn_batch_size_per_image, K::Int), "anchors sampled per image"), 1, kBig),
       kStageSample);
  dirt(range(b.add(FIELD(torchvision.rpn_positive_fraction, K::Double), "at most this share of them positive"), 0, 1),
       kStageSample);
  b.group = "torchvision: RoI heads";
  dirt(range(b.add(FIELD(torchvision.roi_sampling_ratio, K::Int), "MultiScaleRoIAlign sampling_ratio"), -1, 64),
       kStageRoi);
  range(b.add(FIELD(torchvision.roi_output_size, K::Int), "MultiScaleRoIAlign output_size"), 1, 32).shape = true;
  dirt(range(b.add(FIELD(torchvision.box_score_thresh, K::Double), "detections need a class score above this"), 0,
             1),
       kStagePred);
  dirt(range(b.add(FIELD(torchvision.box_nms_thresh, K::Double), "per-class NMS IoU threshold"), 0, 1), kStagePred);
  dirt(range(b.add(FIELD(torchvision.box_detections_per_img, K::Int), "at most this many detections"), 1, kBig),
       kStagePred);
  dirt(range(b.add(FIELD(torchvision.bbox_reg_weights, K::DoubleList), "BoxCoder weights (wx, wy, ww, wh)"), 0,
             kBig, true),
       kStagePred);
  range(b.add(FIELD(torchvision.box_fg_iou_thresh, K::Double), "training: RoI IoU >= this is foreground"), 0, 1);
  range(b.add(FIELD(torchvision.box_bg_iou_thresh, K::Double), "training: RoI IoU < this is background"), 0, 1);
  range(b.add(FIELD(torchvision.box_batch_size_per_image, K::Int), "training: RoIs sampled per image"), 1, kBig);
  range(b.add(FIELD(torchvision.box_positive_fraction, K::Double), "training: at most this share foreground"), 0, 1);
}

std::vector<FieldSpec> build() {
  Builder b;
  b.group = "Model";
  b.add(FIELD(name, K::String), "preset or run name").from_model = true;
  auto& nc = range(b.add(FIELD(num_classes, K::Int), "number of object classes (background excluded)"), 1, kBig);
  nc.shape = true;
  nc.from_model = true;
  b.add(FIELD(class_names, K::StringList), "class names, one per class (optional)").from_model = true;

  b.group = "Input";
  dirt(range(b.add(FIELD(input.size, K::Int), "side of the square model input (px, multiple of 32)"), 32, 4096),
       kStageImage);
  auto& rs = dirt(b.add(FIELD(input.resize, K::String), "stretch to the square, or letterbox (keep aspect, pad)"),
                  kStageImage);
  rs.choices = {"stretch", "letterbox"};
  dirt(b.add(FIELD(input.mean, K::FloatList), "per-channel mean subtracted after scaling to [0, 1]"), kStageImage);
  dirt(range(b.add(FIELD(input.std, K::FloatList), "per-channel std the input is divided by"), 0, kBig, true),
       kStageImage);
  b.add(FIELD(input.hflip_train, K::Bool), "training: random horizontal flip");
  range(b.add(FIELD(input.color_jitter, K::Double), "training: random per-channel gain/offset (0 = off)"), 0, 1);
  range(b.add(FIELD(input.scale_jitter, K::Double), "training: random zoom-out to [1 - s, 1] (0 = off)"), 0, 0.999);

  b.group = "Backbone (changing these resets to random weights)";
  auto& bn = b.add(FIELD(backbone.name, K::String), "feature extractor");
  bn.choices = {"regnetx_400mf", "fast"};
  bn.shape = true;
  range(b.add(FIELD(backbone.fpn_channels, K::Int), "channels of every FPN level"), 1, 4096).shape = true;
  auto& bnorm = b.add(FIELD(backbone.norm, K::String), "normalisation in the backbone");
  bnorm.choices = {"batch", "group", "none"};
  bnorm.shape = true;

  b.group = "Anchors";
  dirt(range(b.add(FIELD(anchors.stride_scale, K::Double), "anchor side = level stride x stride_scale"), 0, 1000, true),
       kStageAnchors);
  auto& ar = dirt(
      range(b.add(FIELD(anchors.aspect_ratios, K::DoubleList), "aspect ratios h / w at every location"), 0, 1000, true),
      kStageAnchors);
  ar.non_empty = true;
  dirt(range(b.add(FIELD(anchors.scales_per_octave, K::Int), "sizes per level: side x 2^(k / n), k < n"), 1, 4),
       kStageAnchors);

  b.group = "RPN";
  range(b.add(FIELD(rpn.stem_channels, K::IntList), "3x3 conv layers of the RPN head before the predictors"), 1, 4096)
      .shape = true;
  dirt(range(b.add(FIELD(rpn.iou_lo, K::Double), "IoU <= lo: background anchor"), 0, 1), kStageMatch);
  dirt(range(b.add(FIELD(rpn.iou_hi, K::Double), "IoU >= hi: positive anchor; between lo and hi: neutral"), 0, 1),
       kStageMatch);
  dirt(b.add(FIELD(rpn.allow_low_quality_matches, K::Bool), "each GT's best anchors are positive even below hi"),
       kStageMatch);
  dirt(range(b.add(FIELD(rpn.batch_size_per_image, K::Int), "anchors sampled per image for the RPN losses"), 1, kBig),
       kStageSample);
  dirt(range(b.add(FIELD(rpn.fg_fraction, K::Double), "at most this share of the samples is positive"), 0, 1),
       kStageSample);
  dirt(range(b.add(FIELD(rpn.nms_thresh, K::Double), "NMS IoU threshold between proposals of a level"), 0, 1),
       kStageProposals);
  dirt(range(b.add(FIELD(rpn.pre_nms_topk_train, K::Int), "training: candidates per level before NMS"), 1, kBig), kStageTrain);
  dirt(range(b.add(FIELD(rpn.pre_nms_topk_test, K::Int), "candidates per level before NMS"), 1, kBig), kStageProposals);
  dirt(range(b.add(FIELD(rpn.post_nms_topk_train, K::Int), "training: proposals kept per level after NMS"), 1, kBig),
       kStageTrain);
  dirt(range(b.add(FIELD(rpn.post_nms_topk_test, K::Int), "proposals kept per level after NMS"), 1, kBig),
       kStageProposals);
  dirt(range(b.add(FIELD(rpn.min_box_size, K::Double), "drop proposals whose side is <= this (px)"), 0, kBig),
       kStageProposals);
  dirt(range(b.add(FIELD(rpn.box_loss_weight, K::Double), "weight of the RPN box loss"), 0, kBig), kStageTrain);
  dirt(range(b.add(FIELD(rpn.box_scale_clamp, K::Double),
                   "dw, dh are clamped here before exp() (reference: log(224 / 8))"),
             0, 20),
       kStageProposals);

  b.group = "RoIAlign and second stage";
  range(b.add(FIELD(roi.roi_size, K::Int), "RoIAlign output side S (S x S bins)"), 1, 32).shape = true;
  dirt(range(b.add(FIELD(roi.sampling_ratio, K::Int), "samples per bin side; <= 0: adaptive ceil(bin size)"), -1, 64),
       kStageRoi);
  dirt(b.add(FIELD(roi.aligned, K::Bool), "shift by half a pixel (pixel-centre convention)"), kStageRoi);
  range(b.add(FIELD(roi.stem_channels, K::IntList), "3x3 conv layers of the RoI head"), 1, 4096).shape = true;
  range(b.add(FIELD(roi.fc_dim, K::Int), "hidden FC layer of the RoI head (0: none)"), 0, 65536).shape = true;
  auto& rn = b.add(FIELD(roi.norm, K::String), "normalisation in the RoI head stem");
  rn.choices = {"none", "batch", "group"};
  rn.shape = true;
  dirt(range(b.add(FIELD(roi.iou_lo, K::Double), "training: proposal IoU <= lo is background"), 0, 1), kStageTrain);
  dirt(range(b.add(FIELD(roi.iou_hi, K::Double), "training: proposal IoU >= hi is foreground"), 0, 1), kStageTrain);
  dirt(range(b.add(FIELD(roi.batch_size_per_image, K::Int), "training: RoIs sampled per image"), 1, kBig), kStageTrain);
  dirt(range(b.add(FIELD(roi.fg_fraction, K::Double), "training: at most this share of RoIs is foreground"), 0, 1),
       kStageTrain);
  b.add(FIELD(roi.box_regression, K::Bool), "class-specific box regression in the second stage").shape = true;
  dirt(b.add(FIELD(roi.add_gt_to_proposals, K::Bool), "training: GT boxes join the proposals"), kStageTrain);
  auto& la =
      dirt(b.add(FIELD(roi.level_assignment, K::String), "RoI level: its proposal's own, or by size (FPN)"), kStageRoi);
  la.choices = {"own", "size"};
  dirt(range(
           b.add(FIELD(roi.canonical_size, K::Double), "size-based levels: a box of this side goes to canonical_level"),
           0, kBig, true),
       kStageRoi);
  dirt(range(b.add(FIELD(roi.canonical_level, K::Int), "size-based levels: level k0 of FPN eq. 1"), 0, 10), kStageRoi);
  dirt(range(b.add(FIELD(roi.score_thresh, K::Double), "detections need a class score above this"), 0, 1), kStagePred);
  dirt(range(b.add(FIELD(roi.nms_thresh, K::Double), "per-class NMS IoU threshold of detections"), 0, 1), kStagePred);
  dirt(range(b.add(FIELD(roi.detections_per_image, K::Int), "at most this many detections per image"), 1, kBig),
       kStagePred);
  dirt(range(b.add(FIELD(roi.box_loss_weight, K::Double), "weight of the RoI box loss"), 0, kBig), kStageTrain);
  dirt(range(b.add(FIELD(roi.box_scale_clamp, K::Double), "second stage: dw, dh clamp before exp()"), 0, 20),
       kStagePred);

  b.group = "Solver (training)";
  b.add(FIELD(solver.optimizer, K::String), "optimizer").choices = {"sgd", "adamw"};
  range(b.add(FIELD(solver.lr, K::Double), "base learning rate"), 0, 100, true);
  range(b.add(FIELD(solver.momentum, K::Double), "SGD momentum / AdamW beta1"), 0, 1);
  range(b.add(FIELD(solver.weight_decay, K::Double), "weight decay (not on norms and biases)"), 0, 1);
  range(b.add(FIELD(solver.warmup_iters, K::Int), "linear warm-up iterations"), 0, kBig);
  range(b.add(FIELD(solver.warmup_factor, K::Double), "learning-rate factor at iteration 0 of warm-up"), 0, 1);
  b.add(FIELD(solver.schedule, K::String), "learning-rate schedule after warm-up").choices = {"cosine", "step",
                                                                                              "constant"};
  range(b.add(FIELD(solver.steps, K::IntList), "step schedule: decay points in thousandths of max_iters"), 0, 1000);
  range(b.add(FIELD(solver.gamma, K::Double), "step schedule: factor at each step"), 0, 1);
  range(b.add(FIELD(solver.max_iters, K::Int), "iterations of the run"), 1, kBig);
  range(b.add(FIELD(solver.batch_size, K::Int),
              "images per process per iteration (N processes: N x this; lr is for that global batch)"),
        1, 4096);
  range(b.add(FIELD(solver.grad_clip, K::Double), "gradient norm clip (0: off)"), 0, kBig);
  range(b.add(FIELD(solver.log_period, K::Int), "iterations between metric lines"), 1, kBig);
  range(b.add(FIELD(solver.eval_period, K::Int), "iterations between validations (0: off)"), 0, kBig);
  range(b.add(FIELD(solver.checkpoint_period, K::Int), "iterations between checkpoints (0: end only)"), 0, kBig);
  b.add(FIELD(solver.seed, K::UInt64), "seed of weights, data order and sampling");
  range(b.add(FIELD(solver.num_workers, K::Int), "data loading threads"), 0, 32);
  b.add(FIELD(solver.freeze_bn, K::Bool),
        "BatchNorm keeps its running statistics while training (off: per-process batch statistics)");
  add_torchvision_fields(b);
  return b.v;
}
#undef FIELD

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_number(double v, const FieldSpec& f, bool element) {
  const std::string what = element ? "values must be " : "must be ";
  auto fail = [&](const std::string& rule) { throw ConfigError(f.key + ": " + what + rule + ", got " + num(v)); };
  const bool lo = !std::isnan(f.min), hi = !std::isnan(f.max) && f.max < kBig;
  if (!std::isfinite(v)) fail("finite");
  if (lo && hi && !f.min_open && (v < f.min || v > f.max)) fail("in [" + num(f.min) + ", " + num(f.max) + "]");
  if (lo && (f.min_open ? v <= f.min : v < f.min)) fail((f.min_open ? "> " : ">= ") + num(f.min));
  if (hi && v > f.max) fail("<= " + num(f.max));
}

}  // namespace

const std::vector<FieldSpec>& config_fields() {
  static const std::vector<FieldSpec> fields = build();
  return fields;
}

const FieldSpec* find_field(const std::string& key) {
  for (const auto& f : config_fields())
    if (f.key == key) return &f;
  return nullptr;
}

std::string field_json(const DetectorConfig& cfg, const FieldSpec& f) {
  return detail::field_to_json(cfg, f).dump();
}

void check_field(const DetectorConfig& cfg, const FieldSpec& f) {
  void* p = f.ref(const_cast<DetectorConfig&>(cfg));
  switch (f.kind) {
    case K::Int:
      if (!std::isnan(f.min)) check_number(*static_cast<int*>(p), f, false);
      break;
    case K::UInt64:
      break;
    case K::Double:
      if (!std::isnan(f.min)) check_number(*static_cast<double*>(p), f, false);
      break;
    case K::Bool:
      break;
    case K::String: {
      const auto& s = *static_cast<std::string*>(p);
      if (f.choices.empty()) break;
      for (const auto& c : f.choices)
        if (c == s) return;
      std::string all;
      for (size_t i = 0; i < f.choices.size(); ++i) all += (i ? ", \"" : "\"") + f.choices[i] + "\"";
      throw ConfigError(f.key + ": must be one of " + all + ", got \"" + s + "\"");
    }
    case K::IntList: {
      const auto& v = *static_cast<std::vector<int>*>(p);
      if (f.non_empty && v.empty()) throw ConfigError(f.key + ": must not be empty");
      if (!std::isnan(f.min))
        for (int x : v) check_number(x, f, true);
      break;
    }
    case K::DoubleList: {
      const auto& v = *static_cast<std::vector<double>*>(p);
      if (f.non_empty && v.empty()) throw ConfigError(f.key + ": must not be empty");
      if (!std::isnan(f.min))
        for (double x : v) check_number(x, f, true);
      break;
    }
    case K::FloatList: {
      const auto& v = *static_cast<std::vector<float>*>(p);
      if (f.non_empty && v.empty()) throw ConfigError(f.key + ": must not be empty");
      if (!std::isnan(f.min))
        for (float x : v) check_number(x, f, true);
      break;
    }
    case K::StringList:
      break;
    case K::DoubleLists: {
      const auto& v = *static_cast<std::vector<std::vector<double>>*>(p);
      if (f.non_empty && v.empty()) throw ConfigError(f.key + ": must not be empty");
      for (const auto& row : v) {
        if (f.non_empty && row.empty()) throw ConfigError(f.key + ": every list must be non-empty");
        if (!std::isnan(f.min))
          for (double x : row) check_number(x, f, true);
      }
      break;
    }
  }
}

std::vector<std::string> changed_fields(const DetectorConfig& a, const DetectorConfig& b) {
  std::vector<std::string> out;
  for (const auto& f : config_fields())
    if (detail::field_to_json(a, f) != detail::field_to_json(b, f)) out.push_back(f.key);
  return out;
}

unsigned changed_stages(const DetectorConfig& a, const DetectorConfig& b) {
  unsigned d = 0;
  for (const auto& f : config_fields())
    if (f.dirties && detail::field_to_json(a, f) != detail::field_to_json(b, f)) d |= f.dirties;
  return d;
}

bool same_weight_shapes(const DetectorConfig& a, const DetectorConfig& b) {
  for (const auto& f : config_fields())
    if (f.shape && detail::field_to_json(a, f) != detail::field_to_json(b, f)) return false;
  // The RPN predictors have one output per anchor shape at a location.
  if (a.is_torchvision() || b.is_torchvision()) {
    if (a.is_torchvision() != b.is_torchvision()) return false;
    const auto ta = torchvision_options(a), tb = torchvision_options(b);
    return ta.arch == tb.arch && ta.anchors_per_location(0) == tb.anchors_per_location(0);
  }
  return a.anchors.aspect_ratios.size() * size_t(a.anchors.scales_per_octave) ==
         b.anchors.aspect_ratios.size() * size_t(b.anchors.scales_per_octave);
}

}  // namespace rcnn
