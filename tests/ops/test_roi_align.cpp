#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/roi_align.h"

using namespace rcnn::ops;

namespace {
// f(y, x) = 4y + x on a 4x4 map: bilinear interpolation reproduces it exactly.
torch::Tensor ramp() {
  return (torch::arange(16, torch::kFloat)).view({1, 1, 4, 4});
}
}  // namespace

TEST(RoIAlign, HandComputedAlignedAndUnaligned) {
  auto rois = torch::tensor({0.f, 0.5f, 0.5f, 2.5f, 2.5f}).view({1, 5});
  RoIAlignParams p{1, 1, 1.0, 2, true};
  // aligned: start 0, size 2, samples at 0.5 and 1.5 -> mean f = f(1, 1) = 5.
  EXPECT_FLOAT_EQ(roi_align(ramp(), rois, p).item<float>(), 5.f);
  p.aligned = false;  // start 0.5, samples at 1.0 and 2.0 -> f(1.5, 1.5) = 7.5
  EXPECT_FLOAT_EQ(roi_align(ramp(), rois, p).item<float>(), 7.5f);
  // 2x2 output, one sample per bin at bin centres (0.5, 1.5) shifted by -0.5 (aligned).
  RoIAlignParams q{2, 2, 1.0, 1, true};
  auto o = roi_align(ramp(), rois, q);
  EXPECT_FLOAT_EQ(o[0][0][0][0].item<float>(), 4 * 0.5f + 0.5f);
  EXPECT_FLOAT_EQ(o[0][0][1][1].item<float>(), 4 * 1.5f + 1.5f);
}

TEST(RoIAlign, OutsideAndClampRules) {
  auto f = torch::full({1, 1, 4, 4}, 3.f);
  RoIAlignParams p{1, 1, 1.0, 1, false};
  // Sample at -0.5 (inside [-1, H]) is clamped to 0 -> reads 3.
  EXPECT_FLOAT_EQ(roi_align(f, torch::tensor({0.f, -1.f, -1.f, 0.f, 0.f}).view({1, 5}), p).item<float>(), 3.f);
  // Sample at -1.5 is outside -> 0.
  EXPECT_FLOAT_EQ(roi_align(f, torch::tensor({0.f, -2.f, -2.f, -1.f, -1.f}).view({1, 5}), p).item<float>(), 0.f);
  // Sample beyond W: outside -> 0.
  EXPECT_FLOAT_EQ(roi_align(f, torch::tensor({0.f, 5.f, 1.f, 6.f, 2.f}).view({1, 5}), p).item<float>(), 0.f);
}

TEST(RoIAlign, BatchIndexSelectsTheImage) {
  auto f = torch::stack({torch::full({1, 4, 4}, 1.f), torch::full({1, 4, 4}, 2.f)});
  auto rois = torch::tensor({1.f, 0.f, 0.f, 3.f, 3.f, 0.f, 0.f, 0.f, 3.f, 3.f}).view({2, 5});
  auto o = roi_align(f, rois, {2, 2, 1.0, 2, true});
  EXPECT_TRUE(torch::allclose(o[0], torch::full({1, 2, 2}, 2.f)));
  EXPECT_TRUE(torch::allclose(o[1], torch::full({1, 2, 2}, 1.f)));
}

TEST(RoIAlign, ChannelsLastFeaturesGiveTheSameBitsInChannelsLast) {
  // The output follows the features' layout; every value and every gradient is the same float.
  torch::manual_seed(5);
  auto f = torch::randn({2, 24, 13, 17});
  auto xy = torch::rand({40, 2}) * 120 - 10, wh = torch::rand({40, 2}) * 70;
  auto rois = torch::cat({torch::randint(0, 2, {40, 1}).to(torch::kFloat), xy, xy + wh}, 1);
  for (int sr : {2, 0}) {
    RoIAlignParams p{7, 7, 1.0 / 8, sr, true};
    auto f1 = f.clone().requires_grad_(true);
    auto f2 = f.contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
    auto o1 = roi_align(f1, rois, p), o2 = roi_align(f2, rois, p);
    EXPECT_TRUE(o1.is_contiguous());
    EXPECT_TRUE(o2.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(torch::equal(o1, o2)) << "sampling ratio " << sr;
    auto w = torch::randn_like(o1);
    (o1 * w).sum().backward();
    (o2 * w).sum().backward();
    EXPECT_TRUE(torch::equal(f1.grad(), f2.grad())) << "sampling ratio " << sr;
  }
}

TEST(RoIAlign, KernelMatchesTensorPathForwardAndBackward) {
  torch::manual_seed(11);
  for (int sr : {2, 0}) {
    for (bool aligned : {true, false}) {
      auto f = torch::randn({2, 5, 12, 14}, torch::kDouble);
      auto xy = torch::rand({30, 2}, torch::kDouble) * 100 - 10, wh = torch::rand({30, 2}, torch::kDouble) * 60;
      auto b = torch::randint(0, 2, {30, 1}, torch::kDouble);
      auto rois = torch::cat({b, xy, xy + wh}, 1);
      RoIAlignParams p{7, 7, 1.0 / 8, sr, aligned};
      auto f1 = f.clone().requires_grad_(true), f2 = f.clone().requires_grad_(true);
      auto o1 = roi_align(f1, rois, p), o2 = roi_align_generic(f2, rois, p);
      EXPECT_TRUE(torch::allclose(o1, o2, 1e-9, 1e-9)) << "sr " << sr << " aligned " << aligned;
      auto w = torch::randn_like(o1);
      (o1 * w).sum().backward();
      (o2 * w).sum().backward();
      EXPECT_TRUE(torch::allclose(f1.grad(), f2.grad(), 1e-9, 1e-9)) << "sr " << sr << " aligned " << aligned;
    }
  }
}

TEST(RoIAlign, GradientMatchesFiniteDifferences) {
  torch::manual_seed(5);
  auto f = torch::randn({1, 2, 6, 6}, torch::kDouble).requires_grad_(true);
  auto rois = torch::tensor({0.0, 3.0, 5.0, 30.0, 40.0, 0.0, 10.0, 2.0, 44.0, 20.0}, torch::kDouble).view({2, 5});
  RoIAlignParams p{3, 3, 1.0 / 8, 2, true};
  auto w = torch::randn({2, 2, 3, 3}, torch::kDouble);
  (roi_align(f, rois, p) * w).sum().backward();
  auto g = f.grad().clone();
  const double eps = 1e-6;
  auto fd = f.detach().clone();
  for (int64_t i = 0; i < fd.numel(); ++i) {
    auto v = fd.view(-1);
    const double orig = v[i].item<double>();
    v[i] = orig + eps;
    const double up = (roi_align(fd, rois, p) * w).sum().item<double>();
    v[i] = orig - eps;
    const double dn = (roi_align(fd, rois, p) * w).sum().item<double>();
    v[i] = orig;
    EXPECT_NEAR(g.view(-1)[i].item<double>(), (up - dn) / (2 * eps), 1e-6) << "element " << i;
  }
}

TEST(RoIAlign, EmptyRoisAndBadShapes) {
  auto o = roi_align(torch::zeros({1, 3, 4, 4}), torch::zeros({0, 5}), {7, 7, 1.0, 2, true});
  EXPECT_EQ(o.sizes(), (std::vector<int64_t>{0, 3, 7, 7}));
  try {
    roi_align(torch::zeros({1, 3, 4, 4}), torch::zeros({2, 4}), {7, 7, 1.0, 2, true});
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rois must have shape (R, 5)"), std::string::npos);
  }
}
