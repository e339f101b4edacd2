#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "modeling/box_coder.h"

using namespace rcnn::modeling;

TEST(BoxCoder, EncodeHandValues) {
  BoxCoder c;
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 10.f}).view({3, 4});
  auto gt =
      torch::tensor({2.f, 2.f, 12.f, 12.f, 1.f, 0.f, 0.f, 20.f, 10.f, 3.f, -1.f, -1.f, -1.f, -1.f, -1.f}).view({3, 5});
  auto d = c.encode(anchors, gt);
  EXPECT_FLOAT_EQ(d[0][0].item<float>(), 0.2f);  // (7 - 5) / 10
  EXPECT_FLOAT_EQ(d[0][1].item<float>(), 0.2f);
  EXPECT_FLOAT_EQ(d[0][2].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(d[1][0].item<float>(), 0.5f);  // (10 - 5) / 10
  EXPECT_NEAR(d[1][2].item<float>(), std::log(2.f), 1e-6);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(d[2][k].item<float>(), -1e8f);  // background row
}

TEST(BoxCoder, RoundTripAndSentinel) {
  torch::manual_seed(1);
  for (auto w : {std::array<double, 4>{1, 1, 1, 1}, std::array<double, 4>{10, 10, 5, 5}}) {
    BoxCoder c;
    c.weights = w;
    auto xy = torch::rand({50, 2}) * 100, wh = torch::rand({50, 2}) * 50 + 5;
    auto anchors = torch::cat({xy, xy + wh}, 1);
    auto xy2 = xy + torch::randn({50, 2}) * 5, wh2 = wh * (torch::rand({50, 2}) + 0.5);
    auto gt = torch::cat({xy2, xy2 + wh2}, 1);
    EXPECT_TRUE(torch::allclose(c.decode(c.encode(anchors, gt), anchors), gt, 1e-3, 1e-3));
  }
  BoxCoder c;
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 10.f}).view({1, 4});
  auto bg = c.decode(torch::full({1, 4}, -1e8f), anchors);
  EXPECT_EQ(bg[0][2].item<float>(), -1e8f);
}

TEST(BoxCoder, DecodeClampsScaleAtLog224Over8) {
  BoxCoder c;
  auto anchors = torch::tensor({0.f, 0.f, 10.f, 10.f}).view({1, 4});
  auto b = c.decode(torch::tensor({0.f, 0.f, 50.f, 50.f}).view({1, 4}), anchors);
  EXPECT_NEAR((b[0][2] - b[0][0]).item<float>(), 10.f * 28.f, 1e-3);  // exp(log(28)) * 10
  auto clip = clip_boxes(torch::tensor({-5.f, -5.f, 300.f, 100.f}).view({1, 4}), 224, 224);
  EXPECT_TRUE(torch::equal(clip, torch::tensor({0.f, 0.f, 224.f, 100.f}).view({1, 4})));
}
