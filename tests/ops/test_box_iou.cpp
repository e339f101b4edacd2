#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/box_iou.h"

using rcnn::ops::box_iou;
using rcnn::ops::box_iou_generic;

TEST(BoxIou, HandComputedPairs) {
  auto a = torch::tensor({0.f, 0.f, 2.f, 2.f}).view({1, 4});
  auto b = torch::tensor({1.f, 1.f, 3.f, 3.f,   // inter 1, union 7
                          0.f, 0.f, 2.f, 2.f,   // identical
                          2.f, 0.f, 4.f, 2.f,   // touching edge
                          5.f, 5.f, 6.f, 6.f,   // disjoint
                          0.f, 0.f, 1.f, 2.f})  // contained, 2 / 4
               .view({5, 4});
  auto iou = box_iou(a, b);
  ASSERT_EQ(iou.sizes(), (std::vector<int64_t>{1, 5}));
  EXPECT_FLOAT_EQ(iou[0][0].item<float>(), 1.f / 7.f);
  EXPECT_FLOAT_EQ(iou[0][1].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(iou[0][2].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(iou[0][3].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(iou[0][4].item<float>(), 0.5f);
}

TEST(BoxIou, ZeroAreaPairIsZeroNotNaN) {
  auto a = torch::tensor({1.f, 1.f, 1.f, 1.f}).view({1, 4});
  auto iou = box_iou(a, a);
  EXPECT_EQ(iou[0][0].item<float>(), 0.f);
  EXPECT_EQ(box_iou_generic(a, a)[0][0].item<float>(), 0.f);
}

TEST(BoxIou, KernelMatchesTensorPathOnRandomBoxes) {
  torch::manual_seed(3);
  auto xy = torch::rand({300, 2}) * 200, wh = torch::rand({300, 2}) * 60;
  auto a = torch::cat({xy, xy + wh}, 1);
  auto xy2 = torch::rand({37, 2}) * 200, wh2 = torch::rand({37, 2}) * 60;
  auto b = torch::cat({xy2, xy2 + wh2}, 1);
  EXPECT_TRUE(torch::allclose(box_iou(a, b), box_iou_generic(a, b), 1e-6, 1e-6));
  // Large enough for the threaded SIMD path, with empty and inverted boxes
  // mixed in: the same float operations in the same order, so bit-equal.
  auto xy3 = torch::rand({5000, 2}) * 200, wh3 = torch::rand({5000, 2}) * 60 - 5;
  auto c = torch::cat({xy3, xy3 + wh3}, 1);
  c.index_put_({torch::indexing::Slice(0, 10)}, torch::tensor({3.f, 3.f, 3.f, 3.f}));
  EXPECT_TRUE(torch::equal(box_iou(c, b), box_iou_generic(c, b)));
  EXPECT_TRUE(torch::equal(box_iou(c, c.narrow(0, 0, 53)), box_iou_generic(c, c.narrow(0, 0, 53))));
  auto ad = a.to(torch::kDouble), bd = b.to(torch::kDouble);
  EXPECT_EQ(box_iou(ad, bd).scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(box_iou(ad, bd), box_iou_generic(ad, bd), 1e-12, 1e-12));
}

TEST(BoxIou, EmptyAndBadShapes) {
  EXPECT_EQ(box_iou(torch::zeros({0, 4}), torch::zeros({3, 4})).sizes(), (std::vector<int64_t>{0, 3}));
  try {
    box_iou(torch::zeros({3, 5}), torch::zeros({3, 4}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("a must have shape (K, 4)"), std::string::npos) << e.what();
  }
}
