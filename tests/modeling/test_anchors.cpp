#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "modeling/anchor_generator.h"

using namespace rcnn::modeling;

TEST(Anchors, LocationGridIsRowMajorCellCentres) {
  auto g = location_grid(2, 3, 8, torch::kFloat);
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{6, 2}));
  std::vector<float> want{4, 4, 12, 4, 20, 4, 4, 12, 12, 12, 20, 12};
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(g.view(-1)[i].item<float>(), want[size_t(i)]);
}

TEST(Anchors, SeedShapesAndOrder) {
  rcnn::AnchorOptions o;  // stride_scale 8, ratios 0.5, 1, 2
  AnchorGenerator gen(o);
  auto a = gen.level_anchors(28, 28, 8, torch::kFloat);
  ASSERT_EQ(a.size(0), 2352);
  // First location (4, 4): area 64^2; ratio 0.5 -> w = sqrt(4096 / 0.5), h = 4096 / w.
  const float w = std::sqrt(4096.f / 0.5f), h = 4096.f / w;
  EXPECT_NEAR(a[0][0].item<float>(), 4 - w / 2, 1e-4);
  EXPECT_NEAR(a[0][1].item<float>(), 4 - h / 2, 1e-4);
  EXPECT_NEAR(a[0][2].item<float>(), 4 + w / 2, 1e-4);
  EXPECT_NEAR(a[0][3].item<float>(), 4 + h / 2, 1e-4);
  // Ratio 1 is the 64x64 square (-28, -28, 36, 36).
  EXPECT_TRUE(torch::allclose(a[1], torch::tensor({-28.f, -28.f, 36.f, 36.f})));
  // Anchor 3 is the next location (12, 4), ratio 0.5 (aspect ratio minor).
  EXPECT_NEAR((a[3][0] + a[3][2]).item<float>() / 2, 12.f, 1e-4);
  EXPECT_EQ(gen.level_anchors(14, 14, 16, torch::kFloat).size(0), 588);
  EXPECT_EQ(gen.level_anchors(7, 7, 32, torch::kFloat).size(0), 147);
}

TEST(Anchors, ScalesPerOctave) {
  rcnn::AnchorOptions o;
  o.stride_scale = 4;
  o.scales_per_octave = 2;
  o.aspect_ratios = {1.0};
  AnchorGenerator gen(o);
  EXPECT_EQ(gen.num_anchors_per_location(), 2);
  auto s = gen.sizes(8);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0], 32);
  EXPECT_NEAR(s[1], 32 * std::sqrt(2.0), 1e-9);
  auto a = gen.level_anchors(1, 1, 8, torch::kFloat);
  EXPECT_NEAR((a[1][2] - a[1][0]).item<float>(), 32 * std::sqrt(2.0f), 1e-4);
}
