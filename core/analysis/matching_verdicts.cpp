// The matching stage's verdicts of the accounting engine: for each GT with no
// positive anchor, why (accounting.h lists the reasons), and which fix the
// matcher's own rules would apply.
#include <algorithm>
#include <limits>
#include <sstream>

#include "analysis/accounting.h"
#include "analysis/words.h"

namespace rcnn::analysis {
using namespace api;
using namespace words;

void explain_no_positive(const PipelineTrace& t, GtInfo& info, const TakenBy& taken) {
  // Smallest and largest anchor area over every level (an anchor's area is
  // its size squared whatever its ratio).
  float amin = std::numeric_limits<float>::infinity(), amax = 0;
  for (const auto& L : t.levels)
    for (float s : L.sizes) amin = std::min(amin, s * s), amax = std::max(amax, s * s);
  const float a = area(info.box);
  std::ostringstream os;
  if (info.best_anchor < 0 || info.best_iou <= 0) {
    info.no_positive = NoPositive::NoOverlap;
    os << "no anchor overlaps it at all";
  } else if (taken.anchor >= 0) {
    info.no_positive = NoPositive::TakenByOtherGt;
    os << "anchor #" << taken.anchor << " (" << anchor_words(t, taken.anchor) << ") reaches IoU " << num(taken.iou);
    if (taken.iou >= float(t.iou_hi))
      os << " >= hi " << num(t.iou_hi) << " with it, but is positive for GT #" << taken.gt << " (IoU "
         << num(taken.gt_iou) << ")";
    else
      os << ", its best anchor (below hi " << num(t.iou_hi) << "), but is positive for GT #" << taken.gt
         << " (IoU " << num(taken.gt_iou) << ")";
  } else if (a > 0 && a < amin && a / amin < t.iou_hi) {
    info.no_positive = NoPositive::SmallerThanEveryAnchor;
    os << "smaller than every anchor: its area " << num(a, 4) << " px² is " << num(a / amin)
       << " of the smallest anchor's (" << num(amin, 4) << " px²), so no anchor can reach IoU " << num(t.iou_hi)
       << "; best IoU " << num(info.best_iou) << " (" << anchor_words(t, info.best_anchor) << ")";
  } else if (a > amax && amax / a < t.iou_hi) {
    info.no_positive = NoPositive::LargerThanEveryAnchor;
    os << "larger than every anchor: the largest anchor's area (" << num(amax, 4) << " px²) is " << num(amax / a)
       << " of its area " << num(a, 4) << " px², so no anchor can reach IoU " << num(t.iou_hi) << "; best IoU "
       << num(info.best_iou) << " (" << anchor_words(t, info.best_anchor) << ")";
  } else if (info.best_iou <= t.iou_lo) {
    info.no_positive = NoPositive::BelowLo;
    os << "best anchor IoU " << num(info.best_iou) << " (" << anchor_words(t, info.best_anchor)
       << ") is <= lo " << num(t.iou_lo) << ": every anchor is background for it";
  } else {
    info.no_positive = NoPositive::BetweenThresholds;
    os << "best anchor IoU " << num(info.best_iou) << " (" << anchor_words(t, info.best_anchor)
       << ") is between lo " << num(t.iou_lo) << " and hi " << num(t.iou_hi) << ": neutral, never trained on";
  }
  // A fix is suggested only when the matcher's rules would apply it.
  if (!t.low_quality && info.no_positive != NoPositive::NoOverlap) {
    if (taken.rescue_anchor >= 0)
      os << "; low-quality matching would make its best anchor #" << taken.rescue_anchor << " positive for it";
    else if (taken.anchor >= 0)
      os << "; turning on the low-quality rule would not give it an anchor: its best anchors stay with other GTs";
  }
  info.no_positive_reason = os.str();
}

namespace {

// Whether the low-quality rule, were it on, would give GT g one of its best anchors (IoU == g's best > 0),
// as modeling::Matcher decides: an anchor already >= hi for some GT is foreground and keeps its own best GT;
// otherwise it is rescued and goes, under the seed's rules, to the GT it overlaps most among those it is best
// for (ties: lower index), under torchvision's to its own best GT (ties: lower index). Returns the anchor, or -1.
int low_quality_rescue_anchor(const PipelineTrace& t, int g) {
  const int K = int(t.anchors.size()), M = int(t.gt.size());
  if (t.iou_matrix.size() != size_t(K) * size_t(M)) return -1;
  auto iou = [&](int k, int h) { return t.iou_matrix[size_t(k) * size_t(M) + size_t(h)]; };
  std::vector<float> best(size_t(M), 0.f);
  for (int k = 0; k < K; ++k)
    for (int h = 0; h < M; ++h) best[size_t(h)] = std::max(best[size_t(h)], iou(k, h));
  const float hi = float(t.iou_hi);
  for (int k = 0; k < K; ++k) {
    if (best[size_t(g)] <= 0 || iou(k, g) != best[size_t(g)]) continue;
    int own = 0, rescue = -1;
    for (int h = 0; h < M; ++h) {
      if (iou(k, h) > iou(k, own)) own = h;
      if (best[size_t(h)] > 0 && iou(k, h) == best[size_t(h)] && (rescue < 0 || iou(k, h) > iou(k, rescue)))
        rescue = h;
    }
    if (iou(k, own) >= hi) continue;  // foreground on its own IoU: it keeps its best GT
    if ((t.torchvision ? own : rescue) == g) return k;
  }
  return -1;
}

}  // namespace

void account_matching(PipelineTrace& t) {
  const int K = int(t.anchors.size()), M = int(t.gt.size());
  const bool have_iou = t.iou_matrix.size() == size_t(K) * size_t(M);
  for (int g = 0; g < M; ++g) {
    auto& info = t.gt[size_t(g)];
    info.rescued_by_low_quality = false;
    info.no_positive = NoPositive::None;
    info.no_positive_reason.clear();
    if (info.positive_anchors > 0) {
      // Marked when every positive it has exists only through the low-quality rule.
      bool all_rescued = !t.anchor_rescued.empty();
      for (int k = 0; k < K && all_rescued; ++k)
        if (t.anchor_label[size_t(k)] == AnchorLabel::Positive && t.anchor_gt[size_t(k)] == g &&
            !t.anchor_rescued[size_t(k)])
          all_rescued = false;
      info.rescued_by_low_quality = all_rescued;
      continue;
    }
    // No positive anchor: the anchor that would have been positive for it, or its best anchor, that is
    // positive for another GT (an anchor reaching hi first, then its best ones; highest IoU, lowest index).
    TakenBy taken;
    const float hi = float(t.iou_hi);  // the matcher compares float IoUs with float thresholds
    if (have_iou) {
      bool taken_at_hi = false;
      for (int k = 0; k < K; ++k) {
        const float v = t.iou_matrix[size_t(k) * size_t(M) + size_t(g)];
        const bool at_hi = v >= hi, best = v > 0 && v == info.best_iou;
        if (!(at_hi || best) || t.anchor_label[size_t(k)] != AnchorLabel::Positive || t.anchor_gt[size_t(k)] == g)
          continue;
        if (taken.anchor < 0 || (at_hi && !taken_at_hi) || (at_hi == taken_at_hi && v > taken.iou))
          taken.anchor = k, taken.iou = v, taken_at_hi = at_hi;
      }
    }
    if (taken.anchor >= 0) {
      taken.gt = int(t.anchor_gt[size_t(taken.anchor)]);
      taken.gt_iou = t.iou_matrix[size_t(taken.anchor) * size_t(M) + size_t(taken.gt)];
    }
    if (!t.low_quality) taken.rescue_anchor = low_quality_rescue_anchor(t, g);
    explain_no_positive(t, info, taken);
  }
}

}  // namespace rcnn::analysis
