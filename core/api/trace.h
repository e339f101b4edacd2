#pragma once
// PipelineTrace: every intermediate stage of the detector on one image, as
// plain vectors for the UI (no torch types).
//
// Shorthand: K anchors over all levels (level-major, then location, then
// scale, then aspect ratio), M GT boxes, P pre-NMS candidates, R kept
// proposals (the RoI head's input), C classes, F FPN channels, S RoI size.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "api/types.h"

namespace rcnn::api {

struct LevelInfo {
  std::string name;  // "p3", "p4", "p5"
  int stride = 0, height = 0, width = 0;
  int anchors_per_location = 0;  // A
  int offset = 0;                // first anchor index of the level
  std::vector<float> sizes;      // sqrt(area) per scale
  std::vector<float> ratios;     // aspect ratios (h / w)
  // Order of the shapes within a cell: scale-major (the seed's) or
  // ratio-major (torchvision's AnchorGenerator).
  bool ratio_major = false;
  // Rows' stride when it differs from the columns' (torchvision: padded
  // height // feature height; 0 = stride), and where a cell's anchors are
  // centred in strides: 0.5 = cell centre (seed), 0 = cell corner (torchvision).
  int stride_h = 0;
  float centre_offset = 0.5f;
  int sy() const { return stride_h > 0 ? stride_h : stride; }
  float centre_x(int j) const { return (float(j) + centre_offset) * float(stride); }
  float centre_y(int i) const { return (float(i) + centre_offset) * float(sy()); }
  // The cell whose anchor centre is nearest to input pixel (x, y).
  int cell_x(float x) const { return int(std::floor(x / float(stride) + 0.5f - centre_offset)); }
  int cell_y(float y) const { return int(std::floor(y / float(sy()) + 0.5f - centre_offset)); }
  int count() const { return height * width * anchors_per_location; }
  int size_index(int shape) const {
    return ratio_major ? shape % int(sizes.size()) : shape / int(ratios.size());
  }
  int ratio_index(int shape) const {
    return ratio_major ? shape / int(sizes.size()) : shape % int(ratios.size());
  }
};

enum class AnchorLabel : int8_t { Negative = -1, Neutral = 0, Positive = 1 };

// Where the pipeline lost a GT box: the first stage, in pipeline order, whose
// exact test it fails (core/analysis/accounting.h has the tests). A GT that
// the evaluation's one-to-one matching pairs with a detection is Detected,
// whatever happened before; difficult GTs are Ignored, as the evaluation
// ignores them.
enum class Funnel : int {
  NoPositiveAnchor = 0,  // anchors: no positive anchor under the matcher as configured
  CutByPreNmsTopk,       // no top-k candidate covers it, but a candidate beyond the pre-NMS top-k does
  SuppressedByNms,       // every covering candidate was suppressed by RPN NMS
  CutByPostNmsTopk,      // covering survivors all cut by the post-NMS top-k
  Misclassified,         // RoI classification: covering RoIs score another class (or background) highest
  BelowScoreThreshold,   // RoI classification: right class highest but not above the score threshold
  RemovedByFinalNms,     // a right-class box with IoU >= 0.5 scored above threshold but is not a detection
  Detected,
  TooSmall,              // every covering candidate was dropped by the min-size filter
  Localization,          // right class above threshold, but IoU < 0.5 after box regression
  AssignedToOtherGt,     // a covering detection was matched to another GT (one-to-one)
  Ignored,               // difficult: neither counted nor missed
  BelowRpnScore,         // every covering candidate was below the RPN's score threshold (torchvision's rpn_score_thresh)
  NoCoveringCandidate,   // no RPN candidate at all (any anchor's decoded box) reaches IoU 0.5 with it: the RPN's boxes
  Undetected,            // no detection matched it, and no model trace says where it was lost (a detections file)
};
constexpr int kNumFunnel = 15;
const char* funnel_name(Funnel f);
// Pipeline order of the funnel outcomes (for summaries and tables).
const std::vector<Funnel>& funnel_order();

// Why a GT has no positive anchor.
enum class NoPositive : int {
  None = 0,                // it has positives
  NoOverlap,               // no anchor overlaps it at all
  SmallerThanEveryAnchor,  // sqrt(area) below half the smallest anchor side
  LargerThanEveryAnchor,   // sqrt(area) above twice the largest anchor side
  BelowLo,                 // best IoU <= lo
  BetweenThresholds,       // lo < best IoU < hi (and the low-quality rule is off)
  TakenByOtherGt,          // anchors reaching hi (or its best anchors) went to another GT
};

// A detection's verdict under VOC's one-to-one matching (score order,
// IoU >= 0.5 with a same-class GT; difficult GTs absorb without counting).
enum class DetOutcome : int8_t { TruePositive = 0, FalsePositive, Ignored };
// TIDE's error type of a false positive (Bolya et al. 2020; tidecv's
// quantify.py), foreground IoU 0.5, background IoU 0.1, checked in TIDE's
// order: localisation, classification, duplicate, background, both. Only the
// GTs that count take part (difficult GTs and crowd regions are ignore regions).
enum class ErrorType : int8_t {
  None = 0,
  Duplicate,       // IoU >= 0.5 with a right-class GT taken by another detection
  Classification,  // IoU >= 0.5 with a GT of another class
  Localization,    // right class, 0.1 <= IoU <= 0.5 (tested first)
  Both,            // none of the others
  Background,      // IoU <= 0.1 with every GT
};
const char* error_name(ErrorType e);

struct DetectionVerdict {
  DetOutcome outcome = DetOutcome::FalsePositive;
  ErrorType error = ErrorType::None;
  int gt = -1;       // the GT it matched (TP / Ignored), or the GT that explains its error
  float iou = 0;     // IoU with that GT (or with the crowd region)
  int crowd = -1;    // Ignored on a crowd region: index into PipelineTrace::crowd
};

// A COCO crowd box (iscrowd): an ignore region, as the evaluation treats it. Not a GT: no anchor is matched to
// it and no loss trains on it; a detection of its class on it is ignored, neither true nor false.
struct CrowdRegion {
  Box box;           // model-input coordinates
  Box box_original;  // original-image coordinates
  int label = 0;
};

struct GtInfo {
  Box box;           // model-input coordinates
  Box box_original;  // original-image coordinates
  int label = 0;
  bool difficult = false;
  int positive_anchors = 0;
  int best_anchor = -1;
  float best_iou = 0;
  // best IoU per (level, anchor shape): index level * A + a
  std::vector<float> best_iou_per_level_shape;
  // Its positives exist only through the low-quality rule (marked, not lost).
  bool rescued_by_low_quality = false;
  NoPositive no_positive = NoPositive::None;
  std::string no_positive_reason;  // empty when it has positives
  Funnel funnel = Funnel::Detected;
  std::string funnel_reason;  // the verdict in words, built from the facts below
  int funnel_ref = -1;        // the proposal that suppressed it, the detection that suppressed or took it, or
                              // the GT its detection went to
  int funnel_class = -1;      // Misclassified: the class it was taken for (-1 = background)
  int matched_detection = -1;
};

// BelowScore: dropped by a score threshold before NMS (torchvision's rpn_score_thresh).
enum class ProposalState : int8_t { Kept = 0, Suppressed, CutByPostTopk, TooSmall, BelowScore };

struct Proposal {
  Box box;               // decoded and clipped, input coordinates
  float objectness = 0;  // sigmoid(logit)
  int level = 0;
  int anchor = -1;  // global anchor index
  ProposalState state = ProposalState::Kept;
  int suppressed_by = -1;  // index into PipelineTrace::proposals
  int kept_index = -1;     // index into PipelineTrace::kept when Kept
};

// One FPN level of the current image as images, for the RoIAlign stage's
// feature-map view. Feature coordinate v (the RoIAlign kernel's, cell centres
// at integers) sits at input pixel (v + offset) · step.
struct FeatureMap {
  int channels = 0, height = 0, width = 0;
  float step = 0;    // input pixels per cell (1 / RoIAlign's spatial scale)
  float offset = 0;  // 0.5 under RoIAlign's aligned mode, else 0
  std::vector<float> mean, max, channel;  // H * W each: over channels, and PipelineTrace::feature_channel
  float input_x(float v) const { return (v + offset) * step; }
  float input_y(float v) const { return (v + offset) * step; }
  float feature_x(float x) const { return x / step - offset; }
  float feature_y(float y) const { return y / step - offset; }
};

// The bilinear tap RoIAlign takes at feature-map point (x, y) of an H x W map:
// four cells (flat y * W + x) and their weights, zero outside [-1, H] x [-1, W]
// (the CPU kernel's own make_tap, in float).
struct BilinearTap {
  int cell[4] = {0, 0, 0, 0};
  float weight[4] = {0, 0, 0, 0};
  bool inside = false;
};
BilinearTap roi_align_tap(int H, int W, float x, float y);

// The training step on this image (a batch of one, the sampling seed; the
// trainer's own step, FasterRCNNImpl::train_step, on the model as the studio
// holds it, in eval mode).
struct TrainRoi {  // a candidate RoI of the second stage's training
  Box box;                 // input coordinates
  bool from_gt = false;    // a GT box added to the proposals (roi.add_gt_to_proposals)
  int level = 0;           // FPN level it is pooled on
  AnchorLabel label = AnchorLabel::Neutral;  // at roi.iou_lo / roi.iou_hi
  int gt = -1;             // its best GT (index into gt)
  float iou = 0;           // IoU with that GT
  int class_target = 0;    // matched GT class + 1 when positive, 0 (background) otherwise
  int sample = -1;         // index into TrainView::roi when sampled
};

struct LossTerm {  // one sample's part of the losses (fg samples first)
  int index = -1;          // RPN: global anchor index; RoI: index into TrainView::rois
  bool fg = false;
  int target_class = 0;    // RPN: 1 / 0; RoI: class target (0 = background)
  float prob = 0;          // RPN: sigmoid(objectness); RoI: softmax probability of target_class
  float cls = 0;           // its BCE-with-logits (RPN) or cross-entropy (RoI) term
  float box = 0;           // fg: its box term (RPN: L1, RoI: smooth L1 beta 1/9), summed over the 4 deltas, unweighted
  float target[4] = {0, 0, 0, 0};  // fg: encoded GT deltas (dx, dy, dw, dh)
  float pred[4] = {0, 0, 0, 0};    // fg: predicted deltas (RoI: of target_class)
  int gt = -1;             // fg: the GT it regresses to
};

struct TrainView {
  bool valid = false;
  std::string note;  // when not valid: why
  std::vector<TrainRoi> rois;
  std::vector<LossTerm> rpn, roi;  // the sampled anchors / RoIs, fg first
  int rpn_fg = 0, roi_fg = 0;
  int rpn_count = 1, roi_count = 0;  // the divisors: max(#RPN samples, 1), #RoI samples
  // The four losses as the trainer reports them: rpn_obj = Σ cls / rpn_count,
  // rpn_box = rpn_box_weight · Σ box / rpn_count, roi_cls = Σ cls / roi_count,
  // roi_box = roi_box_weight · Σ box / roi_count.
  double rpn_obj = 0, rpn_box = 0, roi_cls = 0, roi_box = 0;
  double rpn_box_weight = 1, roi_box_weight = 1;
  // The settings the step ran with.
  double roi_iou_lo = 0.5, roi_iou_hi = 0.5, roi_fg_fraction = 0.25;
  int roi_batch = 128, pre_nms_topk_train = 0, post_nms_topk_train = 0, num_proposals = 0;
  bool add_gt = true, batchnorm = false;  // batchnorm: eval-mode statistics differ from training's
  // The RPN box term: smooth L1 with beta 1/9 (torchvision's), else L1 (the seed's).
  bool rpn_smooth_l1 = false;
  uint64_t seed = 0;
  double total() const { return rpn_obj + rpn_box + roi_cls + roi_box; }
};

struct PipelineTrace {
  // Image
  int image_width = 0, image_height = 0;  // original
  std::string image_path;                 // the file it was read from (empty: an image given as pixels)
  int input_size = 224;                   // the larger side of the input
  int input_width = 224, input_height = 224;  // the model input (padded), what input_rgb holds
  float scale_x = 1, scale_y = 1, pad_x = 0, pad_y = 0;  // original -> input
  float clip_width = 224, clip_height = 224;  // decoded boxes are clipped to [0, clip_width] x [0, clip_height]
  std::string input_note;  // how the input was made from the image, in words with the numbers
  std::vector<uint8_t> input_rgb;                        // input_height * input_width * 3, what the model saw
  std::vector<std::string> class_names;
  bool random_weights = true;
  bool torchvision = false;  // a torchvision preset's semantics (anchors, transform, levels)
  std::string model_label;  // "random weights (seed 0)" or the checkpoint path
  std::string device;
  std::string precision = "fp32";  // "bf16": the opt-in bf16 inference path (Session::set_precision)

  // Anchors
  std::vector<LevelInfo> levels;
  std::vector<Box> anchors;  // K

  // Matching
  std::vector<GtInfo> gt;                 // M
  std::vector<CrowdRegion> crowd;         // ignore regions, not in M
  std::vector<float> anchor_iou;          // K, best IoU with any GT
  std::vector<int> anchor_gt;             // K, index into gt (-1: none)
  std::vector<AnchorLabel> anchor_label;  // K
  std::vector<float> iou_matrix;          // K * M, row-major (anchor, gt)
  std::vector<uint8_t> anchor_rescued;    // K, positive through the low-quality rule only
  double iou_lo = 0.3, iou_hi = 0.6;
  bool low_quality = false;

  // Sampling
  std::vector<int> sampled_fg, sampled_bg;  // anchor indices
  int target_fg = 0, target_bg = 0, num_samples = 0;
  uint64_t sample_seed = 0;

  // RPN predictions
  std::vector<float> objectness;  // K, sigmoid
  std::vector<float> deltas;      // K * 4, predicted (dx, dy, dw, dh)

  // Proposals
  std::vector<Proposal> proposals;  // P, per level in objectness order
  std::vector<int> kept;            // R indices into proposals
  double rpn_scale_clamp = 0;       // dw, dh clamp of the RPN's decode (rpn.box_scale_clamp)

  // RoIAlign (per kept proposal)
  int roi_size = 7, feature_channels = 0, crop_size = 32;
  std::vector<int> roi_level;    // R, level the RoI was pooled on
  std::string level_assignment;  // "own" or "size"
  double canonical_size = 224;   // size rule: a box of this side goes to canonical_level
  int canonical_level = 4;
  int sampling_ratio = 0;  // <= 0: adaptive
  bool aligned = true;
  // RoIAlign sampling points of every kept RoI in input-image pixels, (x, y)
  // pairs ordered (bin row, sample row, bin column, sample column);
  // RoI r's points start at roi_point_offset[r] (floats), its grid is
  // roi_grid[2r] x roi_grid[2r + 1] samples per bin.
  std::vector<float> roi_points;
  std::vector<int> roi_point_offset;  // R + 1
  std::vector<int> roi_grid;          // R * 2
  std::vector<float> roi_features;    // R * F * S * S
  std::vector<float> roi_crops;       // R * 3 * crop^2, RGB 0..1 (RoIAlign of the input image)
  // The same points in feature-map coordinates of the RoI's level (what the kernel samples), same layout.
  std::vector<float> roi_points_fmap;
  // Every level of the current image (display outputs only); index as levels.
  std::vector<FeatureMap> feature_maps;
  int feature_channel = 0;

  // Predictions
  std::vector<float> class_probs;  // R * (C + 1), column 0 = background
  std::vector<Detection> detections;
  std::vector<DetectionVerdict> verdicts;  // per detection
  // Each kept RoI's box for every class after class-specific regression
  // (R * C * 4; the proposal box repeated when regression is off).
  std::vector<float> roi_class_boxes;
  bool box_regression = false;
  // The RoI head's class-specific deltas (R * C * 4, (dx, dy, dw, dh) per
  // kept RoI and class; empty when regression is off), and its box coder:
  // roi_class_boxes = apply_deltas(proposal, deltas, roi_box_weights, roi_scale_clamp).
  std::vector<float> roi_deltas;
  float roi_box_weights[4] = {10, 10, 5, 5};
  double roi_scale_clamp = 0;
  int detections_per_image = 100;
  double score_thresh = 0.05;
  double nms_thresh = 0.5;  // per-class NMS of the detections

  // Training step (empty with valid = false when display outputs are off or
  // for a torchvision model)
  TrainView train;

  std::map<std::string, double> timings_ms;  // per recomputed stage
  // The arithmetic those stages did: 2 FLOPs per multiply-add of their
  // convolutions and matrix products (engine/op_cost.h); with timings_ms,
  // the achieved GFLOP/s the status bar sets beside the measured peak.
  double flops = 0;
  std::vector<std::string> recomputed;       // stages run for this trace

  int num_classes() const { return int(class_names.size()); }
  // Kept RoI r's box for class c after regression (its proposal's box when regression is off).
  Box roi_class_box(int r, int c) const {
    const float* b = &roi_class_boxes[(size_t(r) * size_t(num_classes()) + size_t(c)) * 4];
    return {b[0], b[1], b[2], b[3]};
  }

  // Level, cell (row-major index within the level) and anchor shape
  // (scale-major, ratio-minor within a cell) of global anchor index k.
  struct AnchorPos {
    int level = 0, location = 0, shape = 0;
  };
  AnchorPos anchor_pos(int k) const {
    AnchorPos a;
    while (a.level + 1 < int(levels.size()) && k >= levels[size_t(a.level + 1)].offset) ++a.level;
    const auto& L = levels[size_t(a.level)];
    a.location = (k - L.offset) / L.anchors_per_location;
    a.shape = (k - L.offset) % L.anchors_per_location;
    return a;
  }
};

// Where deltas d = (dx, dy, dw, dh) move box `from` under a box coder with
// weights w: centre += (width · dx / w0, height · dy / w1), sides ·=
// exp(min(d2 / w2, clamp)), exp(min(d3 / w3, clamp)); then clipped to
// [0, W] × [0, H]. The RPN's coder has weights 1 (clamp rpn_scale_clamp),
// the RoI head's roi_box_weights (clamp roi_scale_clamp).
Box apply_deltas(const Box& from, const float* d, const float* w, double clamp, float W, float H);

}  // namespace rcnn::api
