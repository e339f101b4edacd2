// TIDE computed its way (analysis/tide.h), on built cases where each rule of
// tidecv's quantify.py / errors / ap.py is the only right answer. Expected
// figures are worked out by hand in the comments (AP in points, 0-100).
#include <gtest/gtest.h>

#include "analysis/tide.h"

using namespace rcnn::analysis::tide;

namespace {
GtBox gt(double x1, double y1, double x2, double y2, int label, bool ignore = false) {
  return {x1, y1, x2, y2, label, ignore};
}
DetBox det(double x1, double y1, double x2, double y2, int label, double score) {
  return {x1, y1, x2, y2, label, score};
}
double dap(const Report& r, Error e) { return r.dap[size_t(e)]; }
int count(const Report& r, Error e) { return r.count[size_t(e)]; }
}  // namespace

// Localisation is tested before classification: same-class IoU 0.4, other-class IoU 40 / 70 = 0.571.
TEST(Tide, LocalisationBeforeClassification) {
  const auto r = evaluate({{gt(0, 0, 10, 10, 0), gt(0, 0, 10, 7, 1)}}, {{det(0, 0, 10, 4, 0, 0.9)}});
  EXPECT_EQ(r.detections[0][0].error, Error::Loc);
  EXPECT_EQ(r.detections[0][0].gt, 0);
}

// Classification before duplicate: the same-class GT (IoU 1) is taken by a higher score, another class's GT
// has IoU 60 / 100 = 0.6.
TEST(Tide, ClassificationBeforeDuplicate) {
  const auto r = evaluate({{gt(0, 0, 10, 10, 0), gt(0, 0, 10, 6, 1)}},
                          {{det(0, 0, 10, 10, 0, 0.9), det(0, 0, 10, 10, 0, 0.8)}});
  EXPECT_TRUE(r.detections[0][0].true_positive);
  EXPECT_EQ(r.detections[0][1].error, Error::Cls);
  EXPECT_EQ(r.detections[0][1].gt, 1);
  // Without the other class's GT it is a duplicate of GT 0.
  const auto d = evaluate({{gt(0, 0, 10, 10, 0)}}, {{det(0, 0, 10, 10, 0, 0.9), det(0, 0, 10, 10, 0, 0.8)}});
  EXPECT_EQ(d.detections[0][1].error, Error::Dupe);
  EXPECT_EQ(count(d, Error::Dupe), 1);
}

// The comparisons' ends: localisation includes IoU = 0.5 (a used GT: 100 / 200), background includes IoU = 0.1
// (100 / 1000, another class).
TEST(Tide, ThresholdsAreInclusiveWhereTideSaysSo) {
  const auto r = evaluate({{gt(0, 0, 10, 20, 0)}}, {{det(0, 0, 10, 20, 0, 0.9), det(0, 0, 10, 10, 0, 0.8)}});
  EXPECT_EQ(r.detections[0][1].error, Error::Loc);
  const auto b = evaluate({{gt(0, 0, 10, 100, 1)}}, {{det(0, 0, 10, 10, 0, 0.9)}});
  EXPECT_EQ(b.detections[0][0].error, Error::Bkg);
  const auto both = evaluate({{gt(0, 0, 10, 90, 1)}}, {{det(0, 0, 10, 10, 0, 0.9)}});  // IoU 1 / 9 > 0.1
  EXPECT_EQ(both.detections[0][0].error, Error::Both);
}

// COCO's greedy rule: the second detection's best GT (IoU 100 / 105) is taken, so it matches the best still-free
// one (IoU 105 / 120 = 0.875): two true positives of two GTs, AP 100 (VOC's rule would call it a duplicate).
TEST(Tide, MatchesTheBestStillFreeGt) {
  const auto r = evaluate({{gt(0, 0, 10, 10, 0), gt(0, 0, 10, 12, 0)}},
                          {{det(0, 0, 10, 10, 0, 0.9), det(0, 0, 10, 10.5, 0, 0.8)}});
  EXPECT_TRUE(r.detections[0][1].true_positive);
  EXPECT_EQ(r.detections[0][1].gt, 1);
  EXPECT_DOUBLE_EQ(r.ap50, 100.0);
  EXPECT_EQ(count(r, Error::Dupe), 0);
}

// One fix per GT across classification and localisation: a class-1 detection (0.9) on GT 0 and a class-0
// detection (0.6, IoU 0.3) on it too. Fixing Cls makes the 0.9 a true positive (class 0: TP 0.9, FP 0.6 -> AP
// 100; class 1 is left empty) -> dAP 100. Fixing Loc: the 0.6 is not the GT's best error, so it is removed, not
// made a true positive: class 0 has no point (AP 0), class 1 one false positive (AP 0) -> dAP 0 (it would be 50
// if both were fixed). The GT is aimed at, so it is no Miss.
TEST(Tide, OneFixPerGtTheHighestScoringError) {
  const auto r = evaluate({{gt(0, 0, 10, 10, 0)}}, {{det(0, 0, 10, 10, 1, 0.9), det(0, 0, 10, 3, 0, 0.6)}});
  EXPECT_EQ(r.detections[0][0].error, Error::Cls);
  EXPECT_EQ(r.detections[0][1].error, Error::Loc);
  EXPECT_DOUBLE_EQ(r.ap50, 0.0);
  EXPECT_DOUBLE_EQ(dap(r, Error::Cls), 100.0);
  EXPECT_DOUBLE_EQ(dap(r, Error::Loc), 0.0);
  EXPECT_TRUE(r.gts[0][0].usable);
  EXPECT_FALSE(r.gts[0][0].missed);
  EXPECT_EQ(count(r, Error::Miss), 0);
  EXPECT_DOUBLE_EQ(dap(r, Error::Miss), 0.0);
  // Scores swapped: the localisation error is now the GT's best.
  const auto s = evaluate({{gt(0, 0, 10, 10, 0)}}, {{det(0, 0, 10, 10, 1, 0.6), det(0, 0, 10, 3, 0, 0.9)}});
  EXPECT_DOUBLE_EQ(dap(s, Error::Loc), 50.0);  // class 0: TP 0.9 -> 100; class 1: FP -> 0
  EXPECT_DOUBLE_EQ(dap(s, Error::Cls), 0.0);
}

// Miss covers only GTs no error aims at. Image 0: a true positive (0.9); image 1: a GT with no detection.
// Base: recall 0.5 at precision 1 -> 51 of 101 points -> 5100 / 101. Fixing Miss: one GT less -> 100.
// Special FalseNeg: the same. Background (0.95) on image 0 of a second run: FP first -> AP 50; FalsePos puts the
// TP first -> 100.
TEST(Tide, MissAndTheSpecialErrors) {
  const auto r = evaluate({{gt(0, 0, 10, 10, 0)}, {gt(0, 0, 10, 10, 0)}}, {{det(0, 0, 10, 10, 0, 0.9)}, {}});
  EXPECT_DOUBLE_EQ(r.ap50, 5100.0 / 101.0);
  EXPECT_EQ(count(r, Error::Miss), 1);
  EXPECT_TRUE(r.gts[1][0].missed);
  EXPECT_DOUBLE_EQ(dap(r, Error::Miss), 100.0 - 5100.0 / 101.0);
  EXPECT_DOUBLE_EQ(r.dap_fn, 100.0 - 5100.0 / 101.0);
  EXPECT_DOUBLE_EQ(r.dap_fp, 0.0);
  const auto f = evaluate({{gt(0, 0, 10, 10, 0)}}, {{det(50, 50, 60, 60, 0, 0.95), det(0, 0, 10, 10, 0, 0.9)}});
  EXPECT_DOUBLE_EQ(f.ap50, 50.0);
  EXPECT_EQ(f.detections[0][0].error, Error::Bkg);
  EXPECT_DOUBLE_EQ(dap(f, Error::Bkg), 50.0);
  EXPECT_DOUBLE_EQ(f.dap_fp, 50.0);
}

// Crowd regions: a detection of the region's class inside it (crowd IoU 1 > 0.5) is ignored, out of the AP;
// another class's detection there is not; both are typed (background here), the ignored one too.
TEST(Tide, IgnoreRegions) {
  const auto r = evaluate({{gt(0, 0, 10, 10, 0), gt(20, 20, 100, 100, 0, true)}},
                          {{det(0, 0, 10, 10, 0, 0.9), det(30, 30, 40, 40, 0, 0.95), det(30, 30, 40, 40, 1, 0.5)}});
  EXPECT_TRUE(r.detections[0][1].ignored);
  EXPECT_FALSE(r.detections[0][2].ignored);
  EXPECT_EQ(r.detections[0][2].error, Error::Bkg);
  // Class 0: the TP alone (the 0.95 is out) -> 100; class 1: a false positive, no GT -> 0.
  EXPECT_DOUBLE_EQ(r.ap50, 50.0);
  EXPECT_EQ(count(r, Error::Bkg), 2);  // the ignored one is typed too
}

// max_dets: only the 100 highest scores of an image are evaluated.
TEST(Tide, MaxDetectionsPerImage) {
  std::vector<DetBox> d;
  for (int k = 0; k < 100; ++k) d.push_back(det(50, 50, 60, 60, 0, 0.5 + k * 0.001));
  d.push_back(det(0, 0, 10, 10, 0, 0.1));  // the only true positive, 101st by score
  const auto r = evaluate({{gt(0, 0, 10, 10, 0)}}, {d});
  EXPECT_FALSE(r.detections[0][100].evaluated);
  EXPECT_DOUBLE_EQ(r.ap50, 0.0);
  EXPECT_TRUE(r.gts[0][0].missed);
  Options o;
  o.max_dets = 101;
  EXPECT_GT(evaluate({{gt(0, 0, 10, 10, 0)}}, {d}, o).ap50, 0.0);
}
