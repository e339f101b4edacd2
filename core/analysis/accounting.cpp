#include "analysis/accounting.h"
#include "analysis/words.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

namespace rcnn::analysis {
using namespace api;
using namespace words;

namespace {

// VOC one-to-one matching of the detections, in original coordinates, as the evaluation does: in score order
// each detection takes its highest-IoU GT of its class among the GTs, the difficult ones and the crowd regions;
// at IoU >= 0.5 it is a true positive when that GT is free, ignored when it is difficult or a crowd region, a
// duplicate-to-be when it is taken. Then every false positive is typed in TIDE's order against the GTs that
// count (difficult ones and crowd regions are ignore regions, as TIDE keeps them apart), with the final taken
// set: localisation (same class, bg <= IoU <= 0.5, taken or not), classification (another class, IoU >= 0.5),
// duplicate (a taken same-class GT, IoU >= 0.5), background (IoU <= bg with every GT), else both.
void account_detections(PipelineTrace& t) {
  const size_t D = t.detections.size(), G = t.gt.size(), Cr = t.crowd.size();
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
    int same = -1, crowd = -1;
    float same_iou = -1;
    for (size_t g = 0; g < G; ++g)
      if (t.gt[g].label == det.label)
        if (const float iou = box_iou(det.box_original, t.gt[g].box_original); iou > same_iou)
          same_iou = iou, same = int(g);
    for (size_t c = 0; c < Cr; ++c)
      if (t.crowd[c].label == det.label)
        if (const float iou = box_iou(det.box_original, t.crowd[c].box_original); iou > same_iou)
          same_iou = iou, same = -1, crowd = int(c);
    v.outcome = DetOutcome::FalsePositive;
    if (same_iou < kCoverIou) continue;
    if (same < 0) {
      v.outcome = DetOutcome::Ignored;
      v.crowd = crowd, v.iou = same_iou;
    } else if (t.gt[size_t(same)].difficult) {
      v.outcome = DetOutcome::Ignored;
      v.gt = same, v.iou = same_iou;
    } else if (!taken[size_t(same)]) {
      v.outcome = DetOutcome::TruePositive;
      v.gt = same, v.iou = same_iou;
      taken[size_t(same)] = 1;
      t.gt[size_t(same)].matched_detection = int(d);
    }
  }
  for (size_t d = 0; d < D; ++d) {
    auto& v = t.verdicts[d];
    if (v.outcome != DetOutcome::FalsePositive) continue;
    const auto& det = t.detections[d];
    // The best GT that counts of each kind: same class, another class, same class and taken, any.
    int same = -1, other = -1, dupe = -1, any = -1;
    float same_iou = 0, other_iou = 0, dupe_iou = 0, any_iou = 0;
    for (size_t g = 0; g < G; ++g) {
      if (t.gt[g].difficult) continue;
      const float iou = box_iou(det.box_original, t.gt[g].box_original);
      if (iou > any_iou) any_iou = iou, any = int(g);
      if (t.gt[g].label != det.label) {
        if (iou > other_iou) other_iou = iou, other = int(g);
      } else {
        if (iou > same_iou) same_iou = iou, same = int(g);
        if (taken[g] && iou > dupe_iou) dupe_iou = iou, dupe = int(g);
      }
    }
    if (same >= 0 && kBackgroundIou <= same_iou && same_iou <= kCoverIou) {
      v.error = ErrorType::Localization;
      v.gt = same, v.iou = same_iou;
    } else if (other >= 0 && other_iou >= kCoverIou) {
      v.error = ErrorType::Classification;
      v.gt = other, v.iou = other_iou;
    } else if (dupe >= 0 && dupe_iou >= kCoverIou) {
      v.error = ErrorType::Duplicate;
      v.gt = dupe, v.iou = dupe_iou;
    } else if (any_iou <= kBackgroundIou) {
      v.error = ErrorType::Background;
      v.iou = any_iou;
    } else {
      v.error = ErrorType::Both;
      v.gt = any, v.iou = any_iou;
    }
  }
}

// The best-covering RPN candidate outside the pre-NMS top-k: every anchor that is not a proposal, its
// predicted deltas decoded as the RPN decodes (weights 1, rpn_scale_clamp, clipped to the input). anchor -1:
// the trace holds no such candidates (no per-anchor deltas, or every anchor is a proposal).
struct Beyond {
  int anchor = -1;
  float iou = 0;
};
Beyond best_candidate_beyond_topk(const PipelineTrace& t, const Box& gt) {
  Beyond b;
  const size_t K = t.anchors.size();
  if (K == 0 || t.deltas.size() != K * 4 || t.objectness.size() != K) return b;
  std::vector<char> in_topk(K, 0);
  for (const auto& p : t.proposals)
    if (p.anchor >= 0 && size_t(p.anchor) < K) in_topk[size_t(p.anchor)] = 1;
  const float w[4] = {1, 1, 1, 1};
  for (size_t k = 0; k < K; ++k) {
    if (in_topk[k]) continue;
    const Box c = apply_deltas(t.anchors[k], &t.deltas[k * 4], w, t.rpn_scale_clamp, t.clip_width, t.clip_height);
    const float v = box_iou(c, gt);
    if (b.anchor < 0 || v > b.iou) b.anchor = int(k), b.iou = v;
  }
  return b;
}

}  // namespace

void account_detections_only(PipelineTrace& t) {
  account_detections(t);
  for (auto& info : t.gt) {
    info.funnel_ref = info.matched_detection;
    info.funnel_class = -1;
    if (info.difficult) {
      info.funnel = Funnel::Ignored;
      info.funnel_reason = "difficult: ignored by the evaluation";
    } else if (info.matched_detection >= 0) {
      const auto& det = t.detections[size_t(info.matched_detection)];
      info.funnel = Funnel::Detected;
      info.funnel_reason = "detection #" + std::to_string(info.matched_detection) + " (" + class_words(t, det.label) +
                           " " + num(det.score) + ", IoU " + num(t.verdicts[size_t(info.matched_detection)].iou) + ")";
    } else {
      info.funnel = Funnel::Undetected;
      info.funnel_reason = "no detection matched it; the detections file holds no model stages to say where it was lost";
    }
  }
}

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
      // No top-k candidate covers it: was there a covering candidate beyond the top-k at all?
      const auto beyond = best_candidate_beyond_topk(t, info.box);
      if (beyond.anchor >= 0 && beyond.iou >= kCoverIou) {
        os << "none of the " << t.proposals.size() << " pre-NMS top-k candidates reaches IoU 0.5 with it, but anchor #"
           << beyond.anchor << "'s candidate does (IoU " << num(beyond.iou) << ", objectness "
           << num(t.objectness[size_t(beyond.anchor)]) << ", " << t.levels[size_t(t.anchor_pos(beyond.anchor).level)].name
           << "): it ranked below the top-k";
        set(Funnel::CutByPreNmsTopk);
      } else if (beyond.anchor >= 0) {
        os << "no RPN candidate reaches IoU 0.5 with it: neither the " << t.proposals.size()
           << " pre-NMS top-k candidates nor the other anchors' decoded boxes (best of those: anchor #" << beyond.anchor
           << ", IoU " << num(beyond.iou) << "); the RPN's boxes miss it";
        set(Funnel::NoCoveringCandidate);
      } else {
        os << "none of the " << t.proposals.size()
           << " RPN candidates in this trace reaches IoU 0.5 with it; the RPN's boxes miss it";
        set(Funnel::NoCoveringCandidate);
      }
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
