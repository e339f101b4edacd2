// COCO's rules on hand-computed cases: thresholds, maxDets, ignore regions,
// area ranges, categories without GT.
#include <gtest/gtest.h>

#include "evaluation/coco_eval.h"

using namespace rcnn::evaluation;

namespace {
EvalBox box(float x1, float y1, float x2, float y2, int label = 0, float score = 1, bool ignore = false) {
  return {x1, y1, x2, y2, label, score, ignore};
}
using Images = std::vector<std::vector<EvalBox>>;
}  // namespace

TEST(CocoEval, PerfectDetectionIsOneEverywhereItIsDefined) {
  auto s = coco_evaluate({{box(0, 0, 50, 50, 0, 0.9f)}}, {{box(0, 0, 50, 50)}}, 1);
  EXPECT_DOUBLE_EQ(s.AP, 1);
  EXPECT_DOUBLE_EQ(s.AP50, 1);
  EXPECT_DOUBLE_EQ(s.AP75, 1);
  EXPECT_DOUBLE_EQ(s.APm, 1);  // area 2500: medium
  EXPECT_DOUBLE_EQ(s.APs, -1);
  EXPECT_DOUBLE_EQ(s.APl, -1);
  EXPECT_DOUBLE_EQ(s.AR1, 1);
  EXPECT_DOUBLE_EQ(s.AR100, 1);
}

TEST(CocoEval, IouThresholdsAverage) {
  // IoU 0.62 passes 0.50, 0.55 and 0.60 of the ten thresholds.
  auto s = coco_evaluate({{box(0, 0, 100, 62, 0, 0.9f)}}, {{box(0, 0, 100, 100)}}, 1);
  EXPECT_DOUBLE_EQ(s.AP50, 1);
  EXPECT_DOUBLE_EQ(s.AP75, 0);
  EXPECT_NEAR(s.AP, 0.3, 1e-12);
  EXPECT_NEAR(s.AR100, 0.3, 1e-12);
  EXPECT_NEAR(s.APl, 0.3, 1e-12);
}

TEST(CocoEval, MaxDetsCutsPerImage) {
  // A confident false positive first, the true positive second.
  Images dt{{box(200, 200, 250, 250, 0, 0.9f), box(0, 0, 50, 50, 0, 0.8f)}}, gt{{box(0, 0, 50, 50)}};
  auto s = coco_evaluate(dt, gt, 1);
  EXPECT_DOUBLE_EQ(s.AR1, 0);  // only the false positive counts
  EXPECT_DOUBLE_EQ(s.AR10, 1);
  EXPECT_DOUBLE_EQ(s.AP50, 0.5);  // precision 1/2 at every recall level
}

TEST(CocoEval, CrowdAndDifficultAreIgnoreRegions) {
  Images dt{{box(120, 120, 150, 150, 0, 0.95f), box(160, 160, 190, 190, 0, 0.93f), box(0, 0, 50, 50, 0, 0.9f)}};
  // Both inside the crowd box (which takes any number of detections): IoU = intersection / detection area = 1, matched to an ignore region.
  auto s = coco_evaluate(dt, {{box(0, 0, 50, 50), box(100, 100, 200, 200, 0, 1, true)}}, 1);
  EXPECT_DOUBLE_EQ(s.AP50, 1);
  // The same box as an ordinary GT: the first detection is a false positive (IoU 0.09).
  auto t = coco_evaluate(dt, {{box(0, 0, 50, 50), box(100, 100, 200, 200)}}, 1);
  EXPECT_LT(t.AP50, 0.6);
}

TEST(CocoEval, AreaRangesIgnoreOutsideGtsAndUnmatchedDetections) {
  // Small GT found; large GT missed; a large false positive with the top score.
  Images dt{{box(300, 300, 420, 420, 0, 0.95f), box(0, 0, 20, 20, 0, 0.9f)}};
  Images gt{{box(0, 0, 20, 20), box(100, 100, 200, 200)}};
  auto s = coco_evaluate(dt, gt, 1);
  EXPECT_DOUBLE_EQ(s.APs, 1);  // the large false positive is outside "small": ignored there
  EXPECT_DOUBLE_EQ(s.APl, 0);
  EXPECT_DOUBLE_EQ(s.APm, -1);
  EXPECT_DOUBLE_EQ(s.ARs, 1);
  EXPECT_DOUBLE_EQ(s.AR100, 0.5);
}

TEST(CocoEval, CategoriesWithoutGtDoNotCount) {
  Images dt{{box(0, 0, 50, 50, 0, 0.9f), box(60, 60, 90, 90, 1, 0.9f)}}, gt{{box(0, 0, 50, 50, 0)}};
  auto s = coco_evaluate(dt, gt, 2);
  EXPECT_DOUBLE_EQ(s.AP, 1);
  EXPECT_NE(coco_to_json(s).find("\"AR100\": 1"), std::string::npos);
}

// The area ranges test a GT's annotation area (COCO's segmentation area), not its box's: a 40 x 40 box (1600,
// medium by its box) whose annotation area is 400 is small; with no area given its box decides.
TEST(CocoEval, AreaRangesUseTheAnnotationArea) {
  EvalBox g = box(0, 0, 40, 40);
  g.area = 400;
  auto s = coco_evaluate({{box(0, 0, 40, 40, 0, 0.9f)}}, {{g}}, 1);
  EXPECT_DOUBLE_EQ(s.APs, 1);
  EXPECT_DOUBLE_EQ(s.APm, -1);
  EXPECT_EQ(s.area_rule(), "annotation");
  EXPECT_NE(coco_to_json(s).find("\"area\": \"annotation\""), std::string::npos);
  auto b = coco_evaluate({{box(0, 0, 40, 40, 0, 0.9f)}}, {{box(0, 0, 40, 40)}}, 1);
  EXPECT_DOUBLE_EQ(b.APs, -1);
  EXPECT_DOUBLE_EQ(b.APm, 1);
  EXPECT_EQ(b.area_rule(), "box");
  // Both ends inclusive, as pycocotools: an area of exactly 32² is small and medium.
  g.area = 32 * 32;
  auto e = coco_evaluate({{box(0, 0, 40, 40, 0, 0.9f)}}, {{g}}, 1);
  EXPECT_DOUBLE_EQ(e.APs, 1);
  EXPECT_DOUBLE_EQ(e.APm, 1);
}
