#include <gtest/gtest.h>

#include "evaluation/voc_map.h"

using namespace rcnn::evaluation;

namespace {
EvalBox B(float x1, float y1, float x2, float y2, int label, float score = 1, bool difficult = false) {
  return {x1, y1, x2, y2, label, score, difficult};
}
const std::vector<std::string> kNames{"a", "b"};
}  // namespace

TEST(VocMap, PerfectDetections) {
  std::vector<std::vector<EvalBox>> gt{{B(0, 0, 10, 10, 0), B(20, 20, 40, 40, 1)}, {B(5, 5, 15, 15, 0)}};
  auto r = evaluate_detections(gt, gt, kNames);
  EXPECT_DOUBLE_EQ(r.map50, 1.0);
  EXPECT_DOUBLE_EQ(r.map_coco, 1.0);
  EXPECT_EQ(r.confusion[0][0], 2);
  EXPECT_EQ(r.confusion[1][1], 1);
}

TEST(VocMap, ShiftedBoxIsAMissAndAFalsePositive) {
  std::vector<std::vector<EvalBox>> gt{{B(0, 0, 10, 10, 0)}};
  std::vector<std::vector<EvalBox>> det{{B(6, 0, 16, 10, 0, 0.9f)}};  // IoU 4/16 = 0.25
  auto r = evaluate_detections(det, gt, kNames);
  EXPECT_DOUBLE_EQ(r.classes[0].ap50, 0.0);
  EXPECT_EQ(r.classes[0].false_positives.size(), 1u);
  EXPECT_EQ(r.classes[0].misses.size(), 1u);
  EXPECT_EQ(r.confusion[0][2], 1);  // GT a -> missed (background column)
  EXPECT_EQ(r.confusion[2][0], 1);  // detection with no GT
}

TEST(VocMap, DuplicatesAndHandComputedRanking) {
  // One GT, two detections on it: TP then FP -> recall [1, 1], AP = 1.
  std::vector<std::vector<EvalBox>> gt{{B(0, 0, 10, 10, 0)}};
  std::vector<std::vector<EvalBox>> det{{B(0, 0, 10, 10, 0, 0.9f), B(0, 0, 10, 9, 0, 0.8f)}};
  auto r = evaluate_detections(det, gt, kNames);
  EXPECT_DOUBLE_EQ(r.classes[0].ap50, 1.0);
  EXPECT_EQ(r.classes[0].false_positives.size(), 1u);
  // Three GT; ranking TP, FP, TP, FP: precision envelope 1 up to recall 1/3,
  // 2/3 up to recall 2/3 -> AP = 1/3 + 2/9 = 5/9.
  std::vector<std::vector<EvalBox>> g2{{B(0, 0, 10, 10, 0), B(20, 0, 30, 10, 0), B(40, 0, 50, 10, 0)}};
  std::vector<std::vector<EvalBox>> d2{{B(0, 0, 10, 10, 0, 0.9f), B(100, 100, 110, 110, 0, 0.8f),
                                        B(20, 0, 30, 10, 0, 0.7f), B(200, 0, 210, 10, 0, 0.6f)}};
  auto r2 = evaluate_detections(d2, g2, kNames);
  EXPECT_NEAR(r2.classes[0].ap50, 5.0 / 9.0, 1e-6);
  ASSERT_EQ(r2.classes[0].recall.size(), 4u);
  EXPECT_NEAR(r2.classes[0].precision[2], 2.0 / 3.0, 1e-6);
  EXPECT_EQ(r2.classes[0].misses.size(), 1u);
}

TEST(VocMap, ImageWithoutDetectionsStillCountsItsGt) {
  std::vector<std::vector<EvalBox>> gt{{B(0, 0, 10, 10, 0)}, {B(0, 0, 10, 10, 0)}};
  std::vector<std::vector<EvalBox>> det{{B(0, 0, 10, 10, 0, 0.9f)}, {}};
  auto r = evaluate_detections(det, gt, kNames);
  EXPECT_DOUBLE_EQ(r.classes[0].ap50, 0.5);
  EXPECT_DOUBLE_EQ(r.map50, 0.5);  // class b has no GT: not averaged
}

TEST(VocMap, DifficultObjectsAreIgnored) {
  std::vector<std::vector<EvalBox>> gt{{B(0, 0, 10, 10, 0), B(50, 50, 60, 60, 0, 1, true)}};
  // A detection on the difficult object is neither TP nor FP; missing it costs nothing.
  std::vector<std::vector<EvalBox>> det{{B(50, 50, 60, 60, 0, 0.95f), B(0, 0, 10, 10, 0, 0.9f)}};
  auto r = evaluate_detections(det, gt, kNames);
  EXPECT_EQ(r.classes[0].num_gt, 1);
  EXPECT_DOUBLE_EQ(r.classes[0].ap50, 1.0);
  EXPECT_TRUE(r.classes[0].false_positives.empty());
  auto r2 = evaluate_detections({{B(0, 0, 10, 10, 0, 0.9f)}}, gt, kNames);
  EXPECT_DOUBLE_EQ(r2.classes[0].ap50, 1.0);
}

TEST(VocMap, CocoAveragesOverIouThresholds) {
  // IoU 0.72: TP for thresholds 0.50..0.70 (5 of 10) -> AP_coco = 0.5.
  std::vector<std::vector<EvalBox>> gt{{B(0, 0, 100, 100, 0)}};
  std::vector<std::vector<EvalBox>> det{{B(0, 0, 100, 72, 0, 0.9f)}};
  auto r = evaluate_detections(det, gt, kNames);
  EXPECT_DOUBLE_EQ(r.classes[0].ap50, 1.0);
  EXPECT_NEAR(r.classes[0].ap_coco, 0.5, 1e-9);
}
