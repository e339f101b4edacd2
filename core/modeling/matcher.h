#pragma once
// Anchor/proposal to GT matching (seed: rcnn_match_anchors_to_gt).
//
// Shape shorthand: K anchors (or proposals), M GT rows (x1, y1, x2, y2, class);
// class -1 rows are padding.
#include <torch/torch.h>

namespace rcnn::modeling {

struct MatchResult {
  torch::Tensor matched;   // (K, 5): GT row, all -1 (background) or all -1e8 (neutral)
  torch::Tensor max_iou;   // (K,) best IoU with any real GT (0 when there is none)
  torch::Tensor gt_index;  // (K,) int64 index into the *unpadded* GT rows, -1 when none
  torch::Tensor valid_gt;  // (M', 5) the unpadded GT rows
  torch::Tensor iou;       // (K, M') IoU of every anchor with every unpadded GT
};

struct Matcher {
  double lo = 0.3, hi = 0.6;
  // Detectron2/torchvision extension: each GT's best-IoU anchors (ties
  // included) are positive even below `hi`, so no object goes unsupervised.
  bool allow_low_quality = false;

  // IoU <= lo -> background; lo < IoU < hi -> neutral; IoU >= hi -> GT.
  MatchResult operator()(const torch::Tensor& anchors, const torch::Tensor& gt) const;
};

}  // namespace rcnn::modeling
