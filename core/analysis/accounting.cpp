#include "analysis/accounting.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

namespace rcnn::analysis {
using namespace api;

namespace {

std::string num(double v, int precision = 3) {
  std::ostringstream os;
  os.precision(precision);
  os << v;
  return os.str();
}

// "p4, size 32, ratio 1" of anchor k.
std::string anchor_words(const PipelineTrace& t, int k) {
  const auto a = t.anchor_pos(k);
  const auto& L = t.levels[size_t(a.level)];
  return L.name + ", size " + num(L.sizes[size_t(L.size_index(a.shape))]) + ", ratio " +
         num(L.ratios[size_t(L.ratio_index(a.shape))]);
}

float area(const Box& b) {
  return std::max(0.f, b.width()) * std::max(0.f, b.height());
}

std::string class_words(const PipelineTrace& t, int label) {
  if (label < 0) return "background";
  return label < t.num_classes() ? t.class_names[size_t(label)] : "class " + std::to_string(label);
}

}  // namespace

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
    os << "anchor #" << taken.anchor << " (" << anchor_words(t, taken.anchor) << ") reaches IoU " << num(taken.iou)
       << (taken.iou >= float(t.iou_hi) ? " >= hi " + num(t.iou_hi) : " (its best, low-quality rule)")
       << " but was assigned to GT #" << taken.gt << ", which it overlaps more (IoU " << num(taken.gt_iou) << ")";
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
  if (!t.low_quality && info.no_positive != NoPositive::NoOverlap && info.no_positive != NoPositive::TakenByOtherGt)
    os << "; low-quality matching would make its best anchor positive";
  info.no_positive_reason = os.str();
}

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
    // No positive anchor: the anchor that would have been positive for it but went to another GT.
    TakenBy taken;
    const float hi = float(t.iou_hi);  // the matcher compares float IoUs with float thresholds
    if (have_iou)
      for (int k = 0; k < K; ++k) {
        const float v = t.iou_matrix[size_t(k) * size_t(M) + size_t(g)];
        const bool would_be_positive = v >= hi || (t.low_quality && v > 0 && v == info.best_iou);
        if (would_be_positive && t.anchor_label[size_t(k)] == AnchorLabel::Positive && t.anchor_gt[size_t(k)] != g &&
            v > taken.iou)
          taken.anchor = k, taken.iou = v;
      }
    if (taken.anchor >= 0) {
      taken.gt = int(t.anchor_gt[size_t(taken.anchor)]);
      taken.gt_iou = t.iou_matrix[size_t(taken.anchor) * size_t(M) + size_t(taken.gt)];
    }
    explain_no_positive(t, info, taken);
  }
}

namespace {

// VOC one-to-one matching of the detections, in original coordinates.
void account_detections(PipelineTrace& t) {
  const size_t D = t.detections.size(), G = t.gt.size();
  t.verdicts.assign(D, DetectionVerdict{});
  for (auto& g : t.gt) g.matched_detection = -1;
  std::vector<size_t> order(D);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return t.detections[a].score > t.detections[b].score; });
  std::vector<char> taken(G, 0);
  for (size_t d : order) {
    const auto& det = t.detections[d];
    auto& v = t.verdicts[d];
    int same = -1, other = -1;
    float same_iou = -1, other_iou = -1, any_iou = 0;
    for (size_t g = 0; g < G; ++g) {
      const float iou = box_iou(det.box_original, t.gt[g].box_original);
      any_iou = std::max(any_iou, iou);
      if (t.gt[g].label == det.label) {
        if (iou > same_iou) same_iou = iou, same = int(g);
      } else if (iou > other_iou) {
        other_iou = iou, other = int(g);
      }
    }
    if (same >= 0 && same_iou >= kCoverIou) {
      v.gt = same;
      v.iou = same_iou;
      if (t.gt[size_t(same)].difficult) {
        v.outcome = DetOutcome::Ignored;
      } else if (!taken[size_t(same)]) {
        v.outcome = DetOutcome::TruePositive;
        taken[size_t(same)] = 1;
        t.gt[size_t(same)].matched_detection = int(d);
      } else {
        v.outcome = DetOutcome::FalsePositive;
        v.error = ErrorType::Duplicate;
      }
      continue;
    }
    v.outcome = DetOutcome::FalsePositive;
    if (other >= 0 && other_iou >= kCoverIou) {
      v.error = ErrorType::Classification;
      v.gt = other, v.iou = other_iou;
    } else if (same >= 0 && same_iou >= kBackgroundIou) {
      v.error = ErrorType::Localization;
      v.gt = same, v.iou = same_iou;
    } else if (any_iou >= kBackgroundIou) {
      v.error = ErrorType::Both;
      v.gt = other, v.iou = other_iou;
    } else {
      v.error = ErrorType::Background;
      v.iou = std::max(0.f, any_iou);
    }
  }
}

}  // namespace

void account_detections_and_gts(PipelineTrace& t) {
  account_detections(t);
  const int C = t.num_classes(), C1 = C + 1;
  const int R = int(t.kept.size());
  const bool have_probs = t.class_probs.size() >= size_t(R) * size_t(C1);
  const bool have_boxes = t.roi_class_boxes.size() == size_t(R) * size_t(C) * 4;
  for (size_t g = 0; g < t.gt.size(); ++g) {
    auto& info = t.gt[g];
    info.funnel_ref = -1;
    info.funnel_class = -1;
    std::ostringstream os;
    auto set = [&](Funnel f) {
      info.funnel = f;
      info.funnel_reason = os.str();
    };
    if (info.difficult) {
      os << "difficult: ignored by the evaluation";
      set(Funnel::Ignored);
      continue;
    }
    if (info.matched_detection >= 0) {
      const auto& det = t.detections[size_t(info.matched_detection)];
      os << "detection #" << info.matched_detection << " (" << class_words(t, det.label) << " " << num(det.score)
         << ", IoU " << num(t.verdicts[size_t(info.matched_detection)].iou) << ")";
      info.funnel_ref = info.matched_detection;
      set(Funnel::Detected);
      continue;
    }
    // 1. anchors
    if (info.positive_anchors == 0) {
      os << info.no_positive_reason;
      set(Funnel::NoPositiveAnchor);
      continue;
    }
    // 2-5. RPN candidates covering it, by state.
    int best = -1, best_scored = -1, best_open = -1, best_survivor = -1, best_kept = -1;
    float bi = -1, bl = -1, bo = -1, bs = -1, bk = -1;
    for (size_t p = 0; p < t.proposals.size(); ++p) {
      const auto& pr = t.proposals[p];
      const float v = box_iou(pr.box, info.box);
      if (v < kCoverIou) continue;
      if (v > bi) bi = v, best = int(p);
      if (pr.state == ProposalState::TooSmall) continue;
      if (v > bl) bl = v, best_scored = int(p);
      if (pr.state == ProposalState::BelowScore) continue;
      if (v > bo) bo = v, best_open = int(p);
      if (pr.state == ProposalState::Suppressed) continue;
      if (v > bs) bs = v, best_survivor = int(p);
      if (pr.state == ProposalState::Kept && v > bk) bk = v, best_kept = int(p);
    }
    if (best < 0) {
      os << "none of the " << t.proposals.size() << " pre-NMS top-k candidates reaches IoU 0.5 with it";
      set(Funnel::CutByPreNmsTopk);
      continue;
    }
    if (best_scored < 0) {
      os << "every covering candidate is below the minimum box size (best: proposal #" << best << ", IoU " << num(bi)
         << ")";
      info.funnel_ref = best;
      set(Funnel::TooSmall);
      continue;
    }
    if (best_open < 0) {
      os << "every covering candidate scores below the RPN score threshold (best: proposal #" << best_scored
         << ", IoU " << num(bl) << ", objectness " << num(t.proposals[size_t(best_scored)].objectness) << ")";
      info.funnel_ref = best_scored;
      set(Funnel::BelowRpnScore);
      continue;
    }
    if (best_survivor < 0) {
      const int by = t.proposals[size_t(best_open)].suppressed_by;
      os << "its best candidate, proposal #" << best_open << " (IoU " << num(bo) << "), was suppressed by proposal #"
         << by;
      if (by >= 0)
        os << " (IoU " << num(box_iou(t.proposals[size_t(best_open)].box, t.proposals[size_t(by)].box))
           << " with it, higher objectness)";
      info.funnel_ref = by;
      set(Funnel::SuppressedByNms);
      continue;
    }
    if (best_kept < 0) {
      os << "its covering candidates survived NMS but fell below the post-NMS top-k (best: proposal #" << best_survivor
         << ", objectness " << num(t.proposals[size_t(best_survivor)].objectness) << ")";
      info.funnel_ref = best_survivor;
      set(Funnel::CutByPostNmsTopk);
      continue;
    }
    // 6. classification over the covering kept RoIs.
    auto final_box = [&](int r) {
      if (!have_boxes) return t.proposals[size_t(t.kept[size_t(r)])].box;
      const float* b = &t.roi_class_boxes[(size_t(r) * size_t(C) + size_t(info.label)) * 4];
      return Box{b[0], b[1], b[2], b[3]};
    };
    std::vector<int> above;  // covering kept RoIs scoring the GT's class above the threshold
    for (int r = 0; r < R && have_probs; ++r) {
      if (box_iou(t.proposals[size_t(t.kept[size_t(r)])].box, info.box) < kCoverIou) continue;
      if (t.class_probs[size_t(r) * size_t(C1) + size_t(info.label) + 1] > t.score_thresh) above.push_back(r);
    }
    if (above.empty()) {
      const int r = t.proposals[size_t(best_kept)].kept_index;
      if (r < 0 || !have_probs) {
        os << "no class scores for its RoI";
        set(Funnel::Misclassified);
        continue;
      }
      const float* pr = &t.class_probs[size_t(r) * size_t(C1)];
      const int am = int(std::max_element(pr, pr + C1) - pr);
      info.funnel_ref = best_kept;
      if (am == info.label + 1) {
        os << "RoI " << r << " (IoU " << num(bk) << ") scores " << class_words(t, info.label) << " highest, but "
           << num(pr[am]) << " is not above the score threshold " << num(t.score_thresh);
        set(Funnel::BelowScoreThreshold);
      } else {
        info.funnel_class = am - 1;
        os << "RoI " << r << " (IoU " << num(bk) << ") was taken for " << class_words(t, am - 1) << " (p " << num(pr[am])
           << "); " << class_words(t, info.label) << " " << num(pr[info.label + 1]) << ", threshold "
           << num(t.score_thresh);
        set(Funnel::Misclassified);
      }
      continue;
    }
    // 7. localisation after box regression.
    int best_final = -1;
    float bf = -1;
    for (int r : above) {
      const float v = box_iou(final_box(r), info.box);
      if (v > bf) bf = v, best_final = r;
    }
    if (bf < kCoverIou) {
      os << "RoI " << best_final << " scores " << class_words(t, info.label) << " "
         << num(t.class_probs[size_t(best_final) * size_t(C1) + size_t(info.label) + 1])
         << " but its box after regression has IoU " << num(bf) << " < 0.5";
      info.funnel_ref = t.kept[size_t(best_final)];
      set(Funnel::Localization);
      continue;
    }
    // 8-9. a right box scored above the threshold: final NMS, cap, or matching.
    int cand = -1;
    float cs = -1;
    for (int r : above) {
      if (box_iou(final_box(r), info.box) < kCoverIou) continue;
      const float s = t.class_probs[size_t(r) * size_t(C1) + size_t(info.label) + 1];
      for (size_t d = 0; d < t.detections.size(); ++d)
        if (t.detections[d].proposal == r && t.detections[d].label == info.label) {
          const int h = t.verdicts[d].gt;
          os << "detection #" << d << " covers it (IoU " << num(box_iou(t.detections[d].box, info.box))
             << ") but one-to-one matching gave it to GT #" << h;
          info.funnel_ref = h;
          info.funnel = Funnel::AssignedToOtherGt;
          break;
        }
      if (info.funnel_ref >= 0) break;
      if (s > cs) cs = s, cand = r;
    }
    if (info.funnel == Funnel::AssignedToOtherGt && info.funnel_ref >= 0) {
      info.funnel_reason = os.str();
      continue;
    }
    const Box cb = final_box(cand);
    int sup = -1;
    for (size_t d = 0; d < t.detections.size(); ++d) {
      const auto& det = t.detections[d];
      if (det.label != info.label || det.score < cs || box_iou(det.box, cb) <= t.nms_thresh) continue;
      if (sup < 0 || det.score > t.detections[size_t(sup)].score) sup = int(d);
    }
    os << "RoI " << cand << " gives a " << class_words(t, info.label) << " box " << num(cs) << " with IoU "
       << num(box_iou(cb, info.box));
    if (sup >= 0) {
      os << ", suppressed by detection #" << sup << " (" << num(t.detections[size_t(sup)].score) << ", IoU "
         << num(box_iou(t.detections[size_t(sup)].box, cb)) << " > NMS " << num(t.nms_thresh) << ")";
    } else if (int(t.detections.size()) >= t.detections_per_image) {
      os << ", cut by the per-image cap of " << t.detections_per_image << " detections";
    } else {
      os << ", but it is not among the detections";
    }
    info.funnel_ref = sup;
    set(Funnel::RemovedByFinalNms);
  }
}

}  // namespace rcnn::analysis
