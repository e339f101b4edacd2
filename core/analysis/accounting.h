#pragma once
// The accounting engine: for one traced image, the verdict on every GT and
// every detection, decided from the trace's facts alone (plain C++, no torch;
// the studio, `rcnn inspect` and `rcnn analyze` all use it).
//
// Detections: VOC's one-to-one rule in score order (IoU >= 0.5 with the
// highest-IoU GT of the same class; a difficult GT or a crowd region absorbs
// the detection without counting; a GT already taken makes it a false
// positive), as the evaluation matches. A false positive is typed with
// TIDE's rules and order (tidecv's quantify.py): localisation (same class,
// 0.1 <= IoU <= 0.5), classification (another class, IoU >= 0.5), duplicate
// (a taken same-class GT, IoU >= 0.5), background (IoU <= 0.1 with every
// GT), else both; difficult GTs and crowd regions take no part, as TIDE's
// ignore regions. analysis/tide.h has TIDE's own matching and dAP.
//
// GTs: difficult -> Ignored; matched by a true positive -> Detected;
// otherwise the first stage, in pipeline order, whose test it fails:
//   1 anchors      no positive anchor under the matcher as configured
//   2 RPN boxes    no candidate anywhere (every anchor's decoded box) covers
//                  it (IoU >= 0.5): NoCoveringCandidate
//     pre-NMS      a candidate beyond the pre-NMS top-k covers it, none in it
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

// For a GT with no positive anchor: the anchor that would have been positive
// for it (IoU >= hi), or else one of its best anchors (any rule), that is
// positive for another GT (highest IoU, then lowest index).
struct TakenBy {
  int anchor = -1;
  float iou = 0;    // its IoU with this GT
  int gt = -1;      // the GT it went to
  float gt_iou = 0;  // its IoU with that GT
  // With the low-quality rule off: the best anchor of this GT that the rule, turned on, would make positive
  // for it (-1: none would; the matcher's rules decide, see accounting.cpp).
  int rescue_anchor = -1;
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

// For a trace without the model's stages (another detector's detections):
// the detections' verdicts, and each GT Detected, Ignored or Undetected.
void account_detections_only(api::PipelineTrace& t);

// Both, in order.
inline void account(api::PipelineTrace& t) {
  account_matching(t);
  account_detections_and_gts(t);
}

}  // namespace rcnn::analysis
