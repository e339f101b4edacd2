// The accounting engine on hand-built traces: each GT outcome, each
// no-positive reason and each false-positive type on a case where it is the
// only right answer.
#include <gtest/gtest.h>

#include "analysis/accounting.h"
#include "analysis/match_facts.h"
#include "api/session.h"

using namespace rcnn::api;
using rcnn::analysis::account;

namespace {
const Box kGt{10, 10, 50, 50};
const Box kFar{150, 150, 190, 190};

GtInfo gt(Box b, int label, int positives = 3) {
  GtInfo g;
  g.box = g.box_original = b;
  g.label = label;
  g.positive_anchors = positives;
  return g;
}

// Two classes "a", "b"; one GT of class b at kGt; threshold 0.5.
PipelineTrace base() {
  PipelineTrace t;
  t.class_names = {"a", "b"};
  t.score_thresh = 0.5;
  t.nms_thresh = 0.5;
  t.gt.push_back(gt(kGt, 1));
  return t;
}
int addProposal(PipelineTrace& t, Box b, ProposalState s, std::vector<float> probs = {}, int suppressedBy = -1) {
  Proposal p;
  p.box = b;
  p.state = s;
  p.suppressed_by = suppressedBy;
  if (s == ProposalState::Kept) {
    p.kept_index = int(t.kept.size());
    t.kept.push_back(int(t.proposals.size()));
    t.class_probs.insert(t.class_probs.end(), probs.begin(), probs.end());
  }
  t.proposals.push_back(p);
  return int(t.proposals.size()) - 1;
}
int addDetection(PipelineTrace& t, Box b, int label, float score, int proposal = -1) {
  Detection d;
  d.box = d.box_original = b;
  d.label = label;
  d.score = score;
  d.proposal = proposal;
  t.detections.push_back(d);
  return int(t.detections.size()) - 1;
}
// Class boxes of every kept RoI: the proposal box, except `moved` for RoI r, class c.
void classBoxes(PipelineTrace& t, int r, int c, Box moved) {
  const int C = t.num_classes();
  t.roi_class_boxes.clear();
  for (size_t k = 0; k < t.kept.size(); ++k)
    for (int cc = 0; cc < C; ++cc) {
      Box b = (int(k) == r && cc == c) ? moved : t.proposals[size_t(t.kept[k])].box;
      t.roi_class_boxes.insert(t.roi_class_boxes.end(), {b.x1, b.y1, b.x2, b.y2});
    }
}
Funnel run(PipelineTrace& t) {
  account(t);
  return t.gt[0].funnel;
}

// One level of square anchors (size `side`, ratio 1) at the given boxes;
// labels and IoU matrix filled as the matcher would for (lo, hi).
void anchors(PipelineTrace& t, std::vector<Box> boxes, float side, double lo, double hi, bool lq = false) {
  LevelInfo L;
  L.name = "p3";
  L.stride = 8;
  L.height = 1;
  L.width = int(boxes.size());
  L.anchors_per_location = 1;
  L.sizes = {side};
  L.ratios = {1.f};
  t.levels = {L};
  t.anchors = boxes;
  t.iou_lo = lo;
  t.iou_hi = hi;
  t.low_quality = lq;
  const size_t K = boxes.size(), M = t.gt.size();
  t.iou_matrix.assign(K * M, 0.f);
  t.anchor_label.assign(K, AnchorLabel::Negative);
  t.anchor_gt.assign(K, -1);
  t.anchor_rescued.assign(K, 0);
  for (size_t k = 0; k < K; ++k) {
    float best = 0;
    for (size_t g = 0; g < M; ++g) {
      const float v = box_iou(boxes[k], t.gt[g].box);
      t.iou_matrix[k * M + g] = v;
      if (v > best) best = v, t.anchor_gt[k] = int(g);
    }
    t.anchor_label[k] = best >= hi ? AnchorLabel::Positive : best <= lo ? AnchorLabel::Negative : AnchorLabel::Neutral;
  }
  rcnn::analysis::fill_gt_match_facts(t);
}
}  // namespace

TEST(Accounting, NoPositiveReasons) {
  // Below lo: the only anchor, of the GT's own size, overlaps 640 / 2560 = 0.25.
  auto t = base();
  anchors(t, {{34, 10, 74, 50}}, 40, 0.3, 0.7);
  EXPECT_EQ(run(t), Funnel::NoPositiveAnchor);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::BelowLo);
  EXPECT_NE(t.gt[0].no_positive_reason.find("low-quality matching would"), std::string::npos);

  // Between thresholds, low-quality off.
  t = base();
  anchors(t, {{20, 10, 60, 50}}, 40, 0.3, 0.7);  // IoU 1200 / 2000 = 0.6
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::BetweenThresholds);

  // Smaller than every anchor: area 1600 vs 64^2 = 4096 -> at most 0.39 < 0.7.
  t = base();
  anchors(t, {{-2, -2, 62, 62}}, 64, 0.3, 0.7);
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::SmallerThanEveryAnchor);

  // Larger: a 16-px anchor inside the 40-px GT.
  t = base();
  anchors(t, {{20, 20, 36, 36}}, 16, 0.1, 0.7);
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::LargerThanEveryAnchor);

  // Nothing overlaps.
  t = base();
  anchors(t, {kFar}, 40, 0.3, 0.7);
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::NoOverlap);

  // Taken by another GT: the anchor reaches 0.72 with GT 0 but 1.0 with GT 1.
  t = base();
  t.gt.push_back(gt({12, 10, 50, 50}, 0));
  anchors(t, {{12, 10, 50, 50}}, 38, 0.3, 0.7);
  ASSERT_GE(t.iou_matrix[0], 0.7f);
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::TakenByOtherGt);
  EXPECT_NE(t.gt[0].no_positive_reason.find("GT #1"), std::string::npos);
  EXPECT_EQ(t.gt[0].no_positive_reason.find("low-quality matching would"), std::string::npos);
}

TEST(Accounting, RescuedByTheLowQualityRuleIsMarkedNotLost) {
  auto t = base();
  anchors(t, {{10, 10, 50, 30}}, 28.28f, 0.3, 0.7, true);  // IoU 0.5: neutral without the rule
  t.anchor_label[0] = AnchorLabel::Positive;              // the matcher's low-quality rescue
  t.anchor_rescued[0] = 1;
  t.gt[0].positive_anchors = 1;
  addProposal(t, kFar, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  EXPECT_EQ(run(t), Funnel::NoCoveringCandidate);  // not lost at the anchors
  EXPECT_TRUE(t.gt[0].rescued_by_low_quality);
  t.anchor_rescued[0] = 0;  // a positive on its own IoU
  run(t);
  EXPECT_FALSE(t.gt[0].rescued_by_low_quality);
}

TEST(Accounting, EachRpnStageLosesOnlyWhatItTests) {
  auto t = base();
  addProposal(t, {10, 10, 50, 50}, ProposalState::TooSmall);
  EXPECT_EQ(run(t), Funnel::TooSmall);

  t = base();
  const int keeper = addProposal(t, kFar, ProposalState::Kept, {0.1f, 0.8f, 0.1f});
  addProposal(t, {11, 10, 50, 50}, ProposalState::Suppressed, {}, keeper);
  EXPECT_EQ(run(t), Funnel::SuppressedByNms);
  EXPECT_EQ(t.gt[0].funnel_ref, keeper);

  t = base();
  addProposal(t, kGt, ProposalState::CutByPostTopk);
  addProposal(t, {11, 10, 50, 50}, ProposalState::Suppressed, {}, 0);
  EXPECT_EQ(run(t), Funnel::CutByPostNmsTopk);
}

TEST(Accounting, SecondStageOutcomes) {
  auto t = base();
  addProposal(t, kGt, ProposalState::Kept, {0.1f, 0.8f, 0.1f});
  EXPECT_EQ(run(t), Funnel::Misclassified);
  EXPECT_EQ(t.gt[0].funnel_class, 0);  // taken for class a
  EXPECT_NE(t.gt[0].funnel_reason.find("taken for a"), std::string::npos);

  t = base();
  addProposal(t, kGt, ProposalState::Kept, {0.6f, 0.1f, 0.3f});
  EXPECT_EQ(run(t), Funnel::Misclassified);
  EXPECT_EQ(t.gt[0].funnel_class, -1);  // background

  t = base();
  addProposal(t, kGt, ProposalState::Kept, {0.3f, 0.3f, 0.4f});
  EXPECT_EQ(run(t), Funnel::BelowScoreThreshold);

  // Right class above threshold, but regression moved the box away.
  t = base();
  addProposal(t, kGt, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  classBoxes(t, 0, 1, {30, 30, 70, 70});
  t.box_regression = true;
  EXPECT_EQ(run(t), Funnel::Localization);

  // A right box exists but final NMS removed it: suppressed by detection 0 of the same class.
  t = base();
  addProposal(t, kGt, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  addProposal(t, {20, 20, 60, 60}, ProposalState::Kept, {0.05f, 0.05f, 0.9f});
  const int d = addDetection(t, {20, 20, 60, 60}, 1, 0.9f, 1);  // IoU with kGt 0.39: not a match
  t.nms_thresh = 0.3;                                             // IoU(kGt, det) 0.39 > 0.3
  EXPECT_EQ(run(t), Funnel::RemovedByFinalNms);
  EXPECT_EQ(t.gt[0].funnel_ref, d);
  EXPECT_EQ(t.verdicts[0].outcome, DetOutcome::FalsePositive);

  // The same box cut by the per-image cap instead.
  t = base();
  addProposal(t, kGt, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  addDetection(t, kFar, 0, 0.9f);
  t.detections_per_image = 1;
  EXPECT_EQ(run(t), Funnel::RemovedByFinalNms);
  EXPECT_NE(t.gt[0].funnel_reason.find("per-image cap of 1"), std::string::npos);
}

TEST(Accounting, DetectedWinsAndOneToOneMatchingDecides) {
  // A detected GT is never lost, even with no positive anchor.
  auto t = base();
  t.gt[0].positive_anchors = 0;
  addProposal(t, kGt, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  addDetection(t, {12, 10, 50, 52}, 1, 0.8f, 0);
  EXPECT_EQ(run(t), Funnel::Detected);
  EXPECT_EQ(t.gt[0].matched_detection, 0);

  // Two GTs of class b overlap one detection: it goes to the one it overlaps
  // most; the other is lost to matching, naming that GT.
  t = base();
  t.gt.push_back(gt({14, 10, 54, 50}, 1));
  addProposal(t, {13, 10, 53, 50}, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  addDetection(t, {14, 10, 54, 50}, 1, 0.8f, 0);
  account(t);
  EXPECT_EQ(t.gt[1].funnel, Funnel::Detected);
  EXPECT_EQ(t.gt[0].funnel, Funnel::AssignedToOtherGt);
  EXPECT_EQ(t.gt[0].funnel_ref, 1);

  // Difficult GTs are ignored, and so is a detection they absorb.
  t = base();
  t.gt[0].difficult = true;
  addDetection(t, kGt, 1, 0.9f);
  EXPECT_EQ(run(t), Funnel::Ignored);
  EXPECT_EQ(t.verdicts[0].outcome, DetOutcome::Ignored);
}

TEST(Accounting, FalsePositiveTypes) {
  auto t = base();                       // GT class b at kGt
  t.gt.push_back(gt({100, 10, 140, 50}, 0));  // GT class a far right
  const int tp = addDetection(t, kGt, 1, 0.95f);
  const int dup = addDetection(t, {11, 10, 50, 50}, 1, 0.9f);
  const int cls = addDetection(t, {100, 10, 140, 51}, 1, 0.85f);  // on the class-a GT
  const int loc = addDetection(t, {25, 10, 65, 50}, 1, 0.8f);     // right class, IoU 0.45
  const int both = addDetection(t, {115, 10, 155, 50}, 1, 0.75f); // class-a GT, IoU 0.45
  const int bg = addDetection(t, kFar, 1, 0.7f);
  account(t);
  EXPECT_EQ(t.verdicts[size_t(tp)].outcome, DetOutcome::TruePositive);
  EXPECT_EQ(t.verdicts[size_t(dup)].error, ErrorType::Duplicate);
  EXPECT_EQ(t.verdicts[size_t(cls)].error, ErrorType::Classification);
  EXPECT_EQ(t.verdicts[size_t(cls)].gt, 1);
  EXPECT_EQ(t.verdicts[size_t(loc)].error, ErrorType::Localization);
  EXPECT_EQ(t.verdicts[size_t(both)].error, ErrorType::Both);
  EXPECT_EQ(t.verdicts[size_t(bg)].error, ErrorType::Background);
  // Score order decides the true positive, not the detection index.
  t.detections[size_t(dup)].score = 0.99f;
  account(t);
  EXPECT_EQ(t.verdicts[size_t(dup)].outcome, DetOutcome::TruePositive);
  EXPECT_EQ(t.verdicts[size_t(tp)].error, ErrorType::Duplicate);
}

// TIDE's order: localisation before classification, classification before duplicate (tidecv's quantify.py).
TEST(Accounting, FalsePositivesTypedInTidesOrder) {
  // Same-class IoU 640 / 1600 = 0.4 and another class's GT at 640 / 1120 = 0.571: localisation, not classification.
  auto t = base();
  t.gt.push_back(gt({10, 10, 50, 38}, 0));
  const int loc = addDetection(t, {10, 10, 50, 26}, 1, 0.9f);
  account(t);
  EXPECT_EQ(t.verdicts[size_t(loc)].error, ErrorType::Localization);
  EXPECT_EQ(t.verdicts[size_t(loc)].gt, 0);
  // Its GT taken at IoU 1 and another class's GT at 960 / 1600 = 0.6: classification, not duplicate.
  t = base();
  t.gt.push_back(gt({10, 10, 50, 34}, 0));
  addDetection(t, kGt, 1, 0.9f);
  const int cls = addDetection(t, kGt, 1, 0.8f);
  account(t);
  EXPECT_EQ(t.verdicts[size_t(cls)].error, ErrorType::Classification);
  EXPECT_EQ(t.verdicts[size_t(cls)].gt, 1);
  // A difficult GT is an ignore region: it types nothing (another class's difficult GT at IoU 1).
  t = base();
  t.gt[0].difficult = true;
  const int bg = addDetection(t, kGt, 0, 0.9f);
  account(t);
  EXPECT_EQ(t.verdicts[size_t(bg)].outcome, DetOutcome::FalsePositive);
  EXPECT_EQ(t.verdicts[size_t(bg)].error, ErrorType::Background);
}

// A crowd region absorbs a detection of its class (ignored, the region named), not one of another class; it is
// no GT: the funnel does not count it.
TEST(Accounting, CrowdRegionsAreIgnoreRegions) {
  auto t = base();
  t.crowd.push_back({kFar, kFar, 0});
  const int on = addDetection(t, {152, 150, 190, 190}, 0, 0.9f);
  const int other = addDetection(t, kFar, 1, 0.8f);
  account(t);
  EXPECT_EQ(t.verdicts[size_t(on)].outcome, DetOutcome::Ignored);
  EXPECT_EQ(t.verdicts[size_t(on)].crowd, 0);
  EXPECT_EQ(t.verdicts[size_t(other)].outcome, DetOutcome::FalsePositive);
  EXPECT_EQ(t.verdicts[size_t(other)].error, ErrorType::Background);
  EXPECT_EQ(t.gt.size(), 1u);
}

// "Cut by pre-NMS top-k" only when a candidate beyond the top-k covers the GT; when no candidate anywhere does,
// the RPN's boxes miss it. Two anchors, zero deltas (the candidate is the anchor): anchor 0 is the top-k's only
// proposal (far away), anchor 1 lies on the GT.
TEST(Accounting, PreNmsTopkOnlyWhenACandidateBeyondItCoversTheGt) {
  auto t = base();
  anchors(t, {kFar, kGt}, 40, 0.3, 0.7);
  t.clip_width = t.clip_height = 224;
  t.deltas.assign(8, 0.f);
  t.objectness = {0.9f, 0.2f};
  const int p = addProposal(t, kFar, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  t.proposals[size_t(p)].anchor = 0;
  EXPECT_EQ(run(t), Funnel::CutByPreNmsTopk);
  EXPECT_NE(t.gt[0].funnel_reason.find("anchor #1"), std::string::npos) << t.gt[0].funnel_reason;
  // Anchor 1's deltas move its candidate away (dx = 2: 80 px right): nothing covers the GT.
  t.deltas[4] = 2.f;
  EXPECT_EQ(run(t), Funnel::NoCoveringCandidate);
  EXPECT_NE(t.gt[0].funnel_reason.find("RPN's boxes miss it"), std::string::npos) << t.gt[0].funnel_reason;
}

// The low-quality rule off, the GT's best anchor between lo and hi for it but >= hi for another GT: it is
// that GT's positive, not "neutral, never trained on", and the rule would not help (the anchor stays with the
// other GT), so it is not suggested. GT 0 at kGt; GT 1 at {20, 10, 60, 50}; one anchor at {18, 10, 58, 50}:
// IoU 1280 / 1920 = 0.667 with GT 0 (its best), 1520 / 1680 = 0.905 with GT 1.
TEST(Accounting, BestAnchorTakenByAnotherGtBelowHi) {
  auto t = base();
  t.gt.push_back(gt({20, 10, 60, 50}, 0));
  anchors(t, {{18, 10, 58, 50}}, 40, 0.3, 0.7);
  ASSERT_EQ(t.anchor_label[0], AnchorLabel::Positive);
  ASSERT_EQ(t.anchor_gt[0], 1);
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::TakenByOtherGt);
  EXPECT_NE(t.gt[0].no_positive_reason.find("GT #1"), std::string::npos) << t.gt[0].no_positive_reason;
  EXPECT_EQ(t.gt[0].no_positive_reason.find("never trained on"), std::string::npos);
  EXPECT_EQ(t.gt[0].no_positive_reason.find("low-quality matching would make"), std::string::npos);
  EXPECT_NE(t.gt[0].no_positive_reason.find("would not give it an anchor"), std::string::npos);
  // Where the rule would apply it says so: a second anchor that is GT 0's alone at IoU 0.6 (neutral).
  t = base();
  t.gt.push_back(gt({120, 10, 160, 50}, 0));
  anchors(t, {{20, 10, 60, 50}}, 40, 0.3, 0.7);
  run(t);
  EXPECT_EQ(t.gt[0].no_positive, NoPositive::BetweenThresholds);
  EXPECT_NE(t.gt[0].no_positive_reason.find("low-quality matching would make its best anchor #0"), std::string::npos)
      << t.gt[0].no_positive_reason;
}
