#pragma once
// The accounting engine: for one traced image, the verdict on every GT and
// every detection, decided from the trace's facts alone (plain C++, no torch;
// the studio, `rcnn inspect` and `rcnn analyze` all use it).
//
// Detections: VOC's one-to-one rule in score order (IoU >= 0.5 with the
// highest-IoU GT of the same class; a difficult GT absorbs the detection
// without counting; a GT already taken makes it a duplicate). A false
// positive is typed as TIDE does: duplicate, classification, localisation,
// both, background (foreground IoU 0.5, background IoU 0.1).
//
// GTs: difficult -> Ignored; matched by a true positive -> Detected;
// otherwise the first stage, in pipeline order, whose test it fails:
//   1 anchors      no positive anchor under the matcher as configured
//   2 pre-NMS      no top-k candidate with IoU >= 0.5 ("covering")
//   3 min size     every covering candidate dropped by the min-size filter
//   4 RPN NMS      every remaining covering candidate suppressed (names the
//                  kept proposal that suppressed the best one)
//   5 post-NMS     every covering survivor cut by the post-NMS top-k
//   6 classifier   no covering RoI scores the GT's class above the threshold
//                  (Misclassified: another class or background is highest for
//                  the best-covering RoI, named; else BelowScoreThreshold)
//   7 localisation right class above threshold, but IoU < 0.5 after regression
//   8 final NMS    such a box exists but is no detection (names the detection
//                  that suppressed it, or the per-image cap)
//   9 matching     it is a detection, but one-to-one matching gave it to
//                  another GT (named)
// Coordinates: RPN and RoI tests in model-input pixels; detection matching in
// original pixels, as the evaluation does (IoU is the same up to rounding).
#include "api/trace.h"

namespace rcnn::analysis {

constexpr float kCoverIou = 0.5f;       // a box "covers" a GT (the evaluation's criterion)
constexpr float kBackgroundIou = 0.1f;  // TIDE: below this with every GT, a detection is background

// Matching-stage facts of each GT from the trace's IoU matrix and labels:
// rescued_by_low_quality, no_positive and no_positive_reason.
void account_matching(api::PipelineTrace& t);

// For a GT with no positive anchor: the anchor (highest IoU, then lowest
// index) that would have been positive for it (IoU >= hi, or its best IoU
// under the low-quality rule) but is positive for another GT.
struct TakenBy {
  int anchor = -1;
  float iou = 0;    // its IoU with this GT
  int gt = -1;      // the GT it went to
  float gt_iou = 0;  // its IoU with that GT
};

// The first reason that holds for a GT with no positive anchor
// (info.no_positive, info.no_positive_reason), in this order: no overlap,
// taken by another GT, smaller / larger than every anchor, best IoU <= lo,
// between the thresholds. Reads t.levels, t.anchors and the matcher's
// thresholds; info.best_iou and info.best_anchor must be set.
void explain_no_positive(const api::PipelineTrace& t, api::GtInfo& info, const TakenBy& taken);

// Verdict of every detection (t.verdicts) and every GT (funnel, funnel_reason,
// funnel_ref, funnel_class, matched_detection). Call after account_matching.
void account_detections_and_gts(api::PipelineTrace& t);

// Both, in order.
inline void account(api::PipelineTrace& t) {
  account_matching(t);
  account_detections_and_gts(t);
}

}  // namespace rcnn::analysis
