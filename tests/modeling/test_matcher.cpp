#include <gtest/gtest.h>
#include <torch/torch.h>

#include "modeling/box_coder.h"
#include "modeling/matcher.h"

using namespace rcnn::modeling;

namespace {
torch::Tensor gt1() {
  return torch::tensor({0.f, 0.f, 10.f, 10.f, 3.f, -1.f, -1.f, -1.f, -1.f, -1.f}).view({2, 5});
}
}  // namespace

TEST(Matcher, ExactlyLoIsBackgroundExactlyHiIsForeground) {
  // IoU with the GT (0, 0, 10, 10): 0.6, 0.3, 0.5, 0.0
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 6.f, 0.f, 0.f, 10.f, 3.f, 0.f, 0.f, 10.f, 5.f, 50.f, 50.f, 60.f, 60.f})
                     .view({4, 4});
  Matcher m{0.3, 0.6, false};
  auto r = m(anchors, gt1());
  EXPECT_FLOAT_EQ(r.max_iou[0].item<float>(), 0.6f);
  EXPECT_EQ(seed_rows(r)[0][4].item<float>(), 3.f);  // IoU == hi -> the GT
  EXPECT_EQ(seed_rows(r)[0][2].item<float>(), 10.f);
  EXPECT_EQ(seed_rows(r)[1][4].item<float>(), -1.f);   // IoU == lo -> background
  EXPECT_EQ(seed_rows(r)[2][0].item<float>(), -1e8f);  // between -> neutral
  EXPECT_EQ(seed_rows(r)[3][4].item<float>(), -1.f);
  EXPECT_EQ(r.valid_gt.size(0), 1);  // padding row dropped
}

TEST(Matcher, NoGtMeansAllBackground) {
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 10.f, 5.f, 5.f, 9.f, 9.f}).view({2, 4});
  auto r = Matcher{0.3, 0.6, false}(anchors, torch::full({3, 5}, -1.f));
  EXPECT_TRUE(torch::equal(seed_rows(r), torch::full({2, 5}, -1.f)));
  EXPECT_EQ(r.gt_index[0].item<int64_t>(), -1);
}

TEST(Matcher, HighestIouGtWinsAndLowQualityRescues) {
  auto gt = torch::tensor({0.f, 0.f, 10.f, 10.f, 0.f, 20.f, 20.f, 30.f, 30.f, 1.f}).view({2, 5});
  // anchor 0 overlaps GT0 fully; anchor 1 overlaps GT1 with IoU 0.5 only (neutral at (0.3, 0.6)).
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 10.f, 20.f, 20.f, 30.f, 25.f}).view({2, 4});
  auto r = Matcher{0.3, 0.6, false}(anchors, gt);
  EXPECT_EQ(seed_rows(r)[0][4].item<float>(), 0.f);
  EXPECT_EQ(seed_rows(r)[1][4].item<float>(), -1e8f);
  auto lq = Matcher{0.3, 0.6, true}(anchors, gt);
  EXPECT_EQ(seed_rows(lq)[1][4].item<float>(), 1.f);  // GT1's best anchor becomes positive
  EXPECT_EQ(seed_rows(lq)[1][3].item<float>(), 30.f);
}

TEST(Matcher, LabelsAreNamedCodesAndTheSeedRowsFollowFromThem) {
  // IoU with the GT (0, 0, 10, 10): 0.6, 0.3, 0.5, 0.0 (as above).
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 6.f, 0.f, 0.f, 10.f, 3.f, 0.f, 0.f, 10.f, 5.f, 50.f, 50.f, 60.f, 60.f})
                     .view({4, 4});
  auto r = Matcher{0.3, 0.6, false}(anchors, gt1());
  ASSERT_EQ(r.labels.scalar_type(), torch::kInt8);
  EXPECT_EQ(r.labels[0].item<int>(), kForeground);
  EXPECT_EQ(r.labels[1].item<int>(), kBackground);
  EXPECT_EQ(r.labels[2].item<int>(), kNeutral);
  EXPECT_EQ(r.labels[3].item<int>(), kBackground);
  // The best GT is reported for every anchor, also for non-positives.
  for (int k = 0; k < 3; ++k) EXPECT_EQ(r.gt_index[k].item<int64_t>(), 0);
  EXPECT_FALSE(r.rescued.any().item<bool>());
  // matched_boxes gives the GT box of each anchor's best GT.
  EXPECT_TRUE(torch::equal(matched_boxes(r)[0], torch::tensor({0.f, 0.f, 10.f, 10.f})));
}

TEST(Matcher, LowQualityRescueIsMarkedAndGoesToTheGtItServes) {
  // Two GTs; anchor 1 is GT1's best (IoU 0.5, neutral at (0.3, 0.6)) and also
  // overlaps GT0 less; anchor 0 is a plain positive of GT0.
  auto gt = torch::tensor({0.f, 0.f, 10.f, 10.f, 0.f, 20.f, 20.f, 30.f, 30.f, 1.f}).view({2, 5});
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 10.f, 20.f, 20.f, 30.f, 25.f, 100.f, 100.f, 110.f, 110.f}).view({3, 4});
  auto off = Matcher{0.3, 0.6, false}(anchors, gt);
  EXPECT_EQ(off.labels[1].item<int>(), kNeutral);
  auto on = Matcher{0.3, 0.6, true}(anchors, gt);
  EXPECT_EQ(on.labels[0].item<int>(), kForeground);
  EXPECT_FALSE(on.rescued[0].item<bool>());  // positive on its own IoU
  EXPECT_EQ(on.labels[1].item<int>(), kForeground);
  EXPECT_TRUE(on.rescued[1].item<bool>());
  EXPECT_EQ(on.gt_index[1].item<int64_t>(), 1);
  EXPECT_EQ(on.labels[2].item<int>(), kBackground);  // overlaps nothing: never rescued
  EXPECT_FALSE(on.rescued[2].item<bool>());
}

TEST(Matcher, TorchvisionRulesKeepTheAnchorsOwnBestGtAndLoIsNeutral) {
  // GTs g0 = (0, 0, 4, 10) (area 40), g1 = (0, 0, 10, 10) (area 100); lo 0.25, hi 0.9.
  auto gt = torch::tensor({0.f, 0.f, 4.f, 10.f, 1.f, 0.f, 0.f, 10.f, 10.f, 2.f}).view({2, 5});
  // a0 = (0, 0, 8, 10): IoU 40/80 = 0.5 with g0 (g0's best), 80/100 = 0.8 with g1.
  // a1 = (0, 0, 10, 10): IoU 0.4 with g0, 1.0 with g1.
  // a2 = (0, 0, 10, 2.5): IoU 10/55 with g0, 25/100 = 0.25 with g1, exactly lo.
  auto anchors = torch::tensor({0.f, 0.f, 8.f, 10.f, 0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 2.5f}).view({3, 4});
  Matcher ours{0.25, 0.9, true};
  Matcher tv{0.25, 0.9, true, true};
  auto a = ours(anchors, gt), b = tv(anchors, gt);
  // a0 is positive either way, through the low-quality rule (g0's best anchor).
  EXPECT_EQ(a.labels[0].item<int>(), kForeground);
  EXPECT_EQ(b.labels[0].item<int>(), kForeground);
  EXPECT_TRUE(b.rescued[0].item<bool>());
  // Ours gives it to the GT it rescues; torchvision keeps its argmax, g1.
  EXPECT_EQ(a.gt_index[0].item<int64_t>(), 0);
  EXPECT_EQ(b.gt_index[0].item<int64_t>(), 1);
  EXPECT_EQ(b.gt_index[1].item<int64_t>(), 1);
  // IoU == lo: background for us (IoU <= lo), neutral for torchvision (IoU < lo).
  EXPECT_FLOAT_EQ(b.max_iou[2].item<float>(), 0.25f);
  EXPECT_EQ(a.labels[2].item<int>(), kBackground);
  EXPECT_EQ(b.labels[2].item<int>(), kNeutral);
}
