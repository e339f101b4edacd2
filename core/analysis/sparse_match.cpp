#include "analysis/sparse_match.h"

#include <algorithm>
#include <cmath>

#include "analysis/accounting.h"

namespace rcnn::analysis {
using namespace api;

namespace {

// ops::box_iou's arithmetic for one (anchor, GT) pair, operation for
// operation (this file is built with -ffp-contract=off, as box_iou.cpp is).
inline float pair_iou(const Box& a, float area_a, const Box& b, float area_b) {
  const float iw = std::max(std::min(a.x2, b.x2) - std::max(a.x1, b.x1), 0.f);
  const float ih = std::max(std::min(a.y2, b.y2) - std::max(a.y1, b.y1), 0.f);
  const float inter = iw * ih;
  const float uni = area_a + area_b - inter;
  return uni > 0.f ? inter / uni : 0.f;
}

inline float box_area(const Box& b) {
  return (b.x2 - b.x1) * (b.y2 - b.y1);
}

}  // namespace

SparseMatcher::SparseMatcher(const PipelineTrace& grid) : grid_(grid) {
  const auto& A = grid.anchors;
  area_.resize(A.size());
  for (size_t k = 0; k < A.size(); ++k) area_[k] = box_area(A[k]);
  scratch_.assign(A.size(), Anchor{});
  // The window search needs anchor (y, x, a) = anchor (0, 0, a) + (x, y) * stride.
  for (const auto& L : grid.levels) {
    if (L.offset + L.count() > int(A.size()) || L.anchors_per_location <= 0 || L.stride <= 0) {
      grid_ok_ = false;
      break;
    }
    const float tol = 1e-3f * float(L.stride) + 1e-3f;
    for (int y = 0; y < L.height && grid_ok_; ++y)
      for (int x = 0; x < L.width && grid_ok_; ++x)
        for (int a = 0; a < L.anchors_per_location; ++a) {
          const Box& b0 = A[size_t(L.offset + a)];
          const Box& b = A[size_t(L.offset + (y * L.width + x) * L.anchors_per_location + a)];
          const float dx = float(x * L.stride), dy = float(y * L.stride);
          if (std::abs(b.x1 - b0.x1 - dx) > tol || std::abs(b.x2 - b0.x2 - dx) > tol ||
              std::abs(b.y1 - b0.y1 - dy) > tol || std::abs(b.y2 - b0.y2 - dy) > tol) {
            grid_ok_ = false;
            break;
          }
        }
  }
  int covered = 0;
  for (const auto& L : grid.levels) covered += L.count();
  if (covered != int(A.size())) grid_ok_ = false;
}

// Every anchor with IoU > 0 with gt, in increasing anchor index.
void SparseMatcher::candidates(const Box& gt, int g, std::vector<Pair>& out) const {
  const auto& A = grid_.anchors;
  const float area_g = box_area(gt);
  auto consider = [&](int k, int level, int shape) {
    const float v = pair_iou(A[size_t(k)], area_[size_t(k)], gt, area_g);
    if (v > 0.f) out.push_back({k, g, v, level, shape});
  };
  if (!grid_ok_) {
    for (size_t l = 0; l < grid_.levels.size(); ++l) {
      const auto& L = grid_.levels[l];
      for (int k = L.offset; k < L.offset + L.count(); ++k)
        consider(k, int(l), (k - L.offset) % L.anchors_per_location);
    }
    return;
  }
  for (size_t l = 0; l < grid_.levels.size(); ++l) {
    const auto& L = grid_.levels[l];
    const int na = L.anchors_per_location;
    // Cells whose anchor of some shape can overlap gt: x2 > gt.x1 and x1 < gt.x2.
    float lo_x = 0, hi_x = 0, lo_y = 0, hi_y = 0;
    for (int a = 0; a < na; ++a) {
      const Box& b0 = A[size_t(L.offset + a)];
      lo_x = a ? std::min(lo_x, gt.x1 - b0.x2) : gt.x1 - b0.x2;
      hi_x = a ? std::max(hi_x, gt.x2 - b0.x1) : gt.x2 - b0.x1;
      lo_y = a ? std::min(lo_y, gt.y1 - b0.y2) : gt.y1 - b0.y2;
      hi_y = a ? std::max(hi_y, gt.y2 - b0.y1) : gt.y2 - b0.y1;
    }
    const float s = float(L.stride);
    auto cell = [](float v) {  // clamp before converting: a GT may lie far outside the grid
      return int(std::max(-2.f, std::min(v, 1e6f)));
    };
    const int x0 = std::max(0, cell(std::floor(lo_x / s)) - 1);
    const int x1 = std::min(L.width - 1, cell(std::ceil(hi_x / s)) + 1);
    const int y0 = std::max(0, cell(std::floor(lo_y / s)) - 1);
    const int y1 = std::min(L.height - 1, cell(std::ceil(hi_y / s)) + 1);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const int base = L.offset + (y * L.width + x) * na;
        for (int a = 0; a < na; ++a) consider(base + a, int(l), a);
      }
  }
}

void SparseMatcher::match(PipelineTrace& t, std::vector<int>& positives_no_lq) {
  const int M = int(t.gt.size());
  // The matcher compares float IoUs with float thresholds. Only `hi` matters
  // here: below lo or between the thresholds, an anchor is positive for no GT.
  const float hi = float(t.iou_hi);
  const bool lq = t.low_quality;
  const size_t A = grid_.levels.empty() ? 0 : size_t(grid_.levels[0].anchors_per_location);
  pairs_.clear();
  gt_begin_.assign(size_t(M) + 1, 0);
  for (int g = 0; g < M; ++g) {
    gt_begin_[size_t(g)] = pairs_.size();
    candidates(t.gt[size_t(g)].box, g, pairs_);
  }
  gt_begin_[size_t(M)] = pairs_.size();
  // Per GT: best IoU and anchor (lowest index on ties), best per (level, shape).
  for (int g = 0; g < M; ++g) {
    auto& info = t.gt[size_t(g)];
    info.best_iou = 0;
    info.best_anchor = -1;
    info.best_iou_per_level_shape.assign(grid_.levels.size() * A, 0.f);
    for (size_t p = gt_begin_[size_t(g)]; p < gt_begin_[size_t(g) + 1]; ++p) {
      const Pair& q = pairs_[p];
      if (q.v > info.best_iou || (q.v == info.best_iou && info.best_anchor >= 0 && q.k < info.best_anchor))
        info.best_iou = q.v, info.best_anchor = q.k;
      float& b = info.best_iou_per_level_shape[size_t(q.level) * A + size_t(q.shape)];
      b = std::max(b, q.v);
    }
  }
  // Per anchor: max IoU over the GTs and its first GT; under the low-quality
  // rule, the GT (highest IoU, then lowest index) it is a best anchor of.
  for (const Pair& q : pairs_) {  // in GT order
    Anchor& s = scratch_[size_t(q.k)];
    if (!s.touched || q.v > s.max_v) s.max_v = q.v, s.arg = q.g;
    s.touched = true;
    if (lq && q.v == t.gt[size_t(q.g)].best_iou && q.v > s.rescue_v) s.rescue_v = q.v, s.rescue_g = q.g;
    if (q.v > 0 && q.v == t.gt[size_t(q.g)].best_iou && q.v > s.best_of_v) s.best_of_v = q.v, s.best_of_g = q.g;
  }
  auto positive_for = [&](const Anchor& s) {  // the GT anchor s is positive for, or -1
    if (s.max_v >= hi) return s.arg;
    return s.rescue_g;  // -1 unless rescued
  };
  positives_no_lq.assign(size_t(M), 0);
  for (int g = 0; g < M; ++g) {
    auto& info = t.gt[size_t(g)];
    info.positive_anchors = 0;
    info.rescued_by_low_quality = false;
    info.no_positive = NoPositive::None;
    info.no_positive_reason.clear();
    bool all_rescued = true;
    TakenBy taken;
    bool taken_at_hi = false;
    for (size_t p = gt_begin_[size_t(g)]; p < gt_begin_[size_t(g) + 1]; ++p) {
      const Pair& q = pairs_[p];
      const Anchor& s = scratch_[size_t(q.k)];
      const int owner = positive_for(s);
      if (owner == g) {
        info.positive_anchors++;
        if (s.max_v >= hi) all_rescued = false;
      }
      if (s.max_v >= hi && s.arg == g) positives_no_lq[size_t(g)]++;
      // As account_matching: an anchor reaching hi for it first, then one of its best anchors, positive for
      // another GT (highest IoU, then lowest index).
      const bool at_hi = q.v >= hi, best = q.v > 0 && q.v == info.best_iou;
      if ((at_hi || best) && owner >= 0 && owner != g &&
          (taken.anchor < 0 || (at_hi && !taken_at_hi) ||
           (at_hi == taken_at_hi && (q.v > taken.iou || (q.v == taken.iou && q.k < taken.anchor)))))
        taken.anchor = q.k, taken.iou = q.v, taken_at_hi = at_hi;
      // With the rule off: the lowest best anchor that the rule would give to this GT.
      if (!lq && best && s.max_v < hi && (t.torchvision ? s.arg : s.best_of_g) == g &&
          (taken.rescue_anchor < 0 || q.k < taken.rescue_anchor))
        taken.rescue_anchor = q.k;
    }
    if (info.positive_anchors > 0) {
      info.rescued_by_low_quality = all_rescued;
      continue;
    }
    if (taken.anchor >= 0) {
      const Anchor& s = scratch_[size_t(taken.anchor)];
      taken.gt = positive_for(s);
      const Box& gb = t.gt[size_t(taken.gt)].box;
      taken.gt_iou = pair_iou(grid_.anchors[size_t(taken.anchor)], area_[size_t(taken.anchor)], gb, box_area(gb));
    }
    explain_no_positive(t, info, taken);
  }
  for (const Pair& q : pairs_) scratch_[size_t(q.k)] = Anchor{};
}

}  // namespace rcnn::analysis
