#pragma once
// Anchor/proposal to GT matching (the reference walkthrough's
// rcnn_match_anchors_to_gt, with Detectron2's explicit label output).
//
// Shape shorthand: K anchors (or proposals), M GT rows (x1, y1, x2, y2, class);
// class -1 rows are padding.
#include <torch/torch.h>

namespace rcnn::modeling {

// What the matcher decided for one anchor. Values are Detectron2's
// match_labels; torchvision names the two non-positive outcomes
// BELOW_LOW_THRESHOLD and BETWEEN_THRESHOLDS.
enum MatchLabel : int8_t {
  kNeutral = -1,    // lo < IoU < hi: never trained on (torchvision's BETWEEN_THRESHOLDS)
  kBackground = 0,  // IoU <= lo, or no GT at all (torchvision's BELOW_LOW_THRESHOLD)
  kForeground = 1,  // IoU >= hi, or rescued by the low-quality rule
};

struct MatchResult {
  torch::Tensor gt_index;  // (K,) int64 best GT (index into valid_gt) even for non-positives; -1 when there is no GT
  torch::Tensor labels;    // (K,) int8 MatchLabel
  torch::Tensor max_iou;   // (K,) best IoU with any real GT (0 when there is none)
  torch::Tensor rescued;   // (K,) bool: made positive by the low-quality rule only
  torch::Tensor valid_gt;  // (M', 5) the unpadded GT rows
  torch::Tensor iou;       // (K, M') IoU of every anchor with every unpadded GT
};

struct Matcher {
  double lo = 0.3, hi = 0.6;
  // Detectron2/torchvision extension: each GT's best-IoU anchors (ties
  // included) are positive even below `hi`, so no object goes unsupervised.
  bool allow_low_quality = false;
  // torchvision's Matcher instead: IoU < lo is background (IoU == lo is
  // neutral), and an anchor made positive by the low-quality rule keeps its
  // own best GT (torchvision assigns all_matches), which may be another GT
  // than the one it is best for.
  bool torchvision_rules = false;

  // IoU <= lo -> background; lo < IoU < hi -> neutral; IoU >= hi -> foreground.
  MatchResult operator()(const torch::Tensor& anchors, const torch::Tensor& gt) const;
};

// The matched GT row of every anchor, (K, 5): the GT's (x1, y1, x2, y2, class)
// for foreground, and the reference's row encoding elsewhere: all -1 for
// background and all kSentinel (-1e8) for neutral. Only the code that
// reproduces the reference functions (and its tests) needs this form.
torch::Tensor seed_rows(const MatchResult& m);

// Box targets of foreground anchors: the matched GT box of each anchor, (K, 4)
// (rows of non-foreground anchors hold their best GT's box, or zeros when
// there is no GT; mask them with labels).
torch::Tensor matched_boxes(const MatchResult& m);

}  // namespace rcnn::modeling
