#pragma once
// The RPN matcher's per-GT facts for one image, computed from the anchors
// near each GT only (plain C++, no torch). The dataset coverage
// (`rcnn anchors`, the Anchors (dataset) panel and the anchor search) runs it
// on every image of a split.
//
// It gives exactly what modeling::Matcher on the dense (anchors x GT) IoU
// matrix, then fill_gt_match_facts and account_matching give for each GT:
// positive_anchors, best_iou, best_anchor (lowest index on ties),
// best_iou_per_level_shape, rescued_by_low_quality, no_positive and its
// reason, plus the positive count without the low-quality rule. Why it may
// skip the rest: an anchor whose IoU is 0 with every GT has max IoU 0 and is
// never positive (hi > 0, and the low-quality rule needs IoU > 0), so it adds
// to no GT's count, best IoU or reason. The anchors that overlap a GT are
// found per level and shape from the grid (anchor (y, x, a) is anchor
// (0, 0, a) moved by (x, y) strides; checked when the grid is set, with a dense
// scan as the fallback) and a one-cell margin; each IoU uses the same float
// arithmetic as ops::box_iou, so every number is bit-equal.
#include <vector>

#include "api/trace.h"

namespace rcnn::analysis {

class SparseMatcher {
 public:
  // The anchors and matcher settings of `grid` (levels, anchors, iou_lo,
  // iou_hi, low_quality); `grid` must outlive the matcher.
  explicit SparseMatcher(const api::PipelineTrace& grid);

  // Fills the matching facts of every GT of t (t must be the grid given to
  // the constructor, with its gt list set for the current image).
  // positives_no_lq[g]: positives of GT g without the low-quality rule.
  void match(api::PipelineTrace& t, std::vector<int>& positives_no_lq);

  bool grid_ok() const { return grid_ok_; }  // false: dense scan per GT

 private:
  struct Pair {
    int k, g;
    float v;
    int level, shape;
  };
  struct Anchor {  // per-anchor scratch, reset after each image
    float max_v = 0, rescue_v = -1;
    int arg = 0, rescue_g = -1;
    // The GT (highest IoU, then lowest index) it is a best anchor of, whatever the rule: whom the low-quality
    // rule, turned on, would give it to.
    float best_of_v = -1;
    int best_of_g = -1;
    bool touched = false;
  };
  void candidates(const api::Box& gt, int g, std::vector<Pair>& out) const;

  const api::PipelineTrace& grid_;
  bool grid_ok_ = true;
  std::vector<float> area_;  // per anchor
  std::vector<Anchor> scratch_;
  std::vector<Pair> pairs_;
  std::vector<size_t> gt_begin_;
};

}  // namespace rcnn::analysis
