// The GPU checks (scripts/gpu-check.sh): the ops, both detector families'
// inference and one training step on CUDA against the CPU, with the
// tolerances of the GPU issue (IoU exact, NMS the same keep lists, RoIAlign
// within 1e-5, detections by class at IoU >= 0.999 and |d score| <= 1e-4,
// losses within 1e-4). Torch only, so it builds without Qt or OpenCV against
// any LibTorch (Debian's 1.13 here, PyTorch's 2.x on the GPU machine). Not a
// ctest entry: without CUDA every case skips, and a check that can only skip
// here proves nothing here.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "config/detector_config.h"
#include "modeling/faster_rcnn.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "ops/box_iou.h"
#include "ops/nms.h"
#include "ops/roi_align.h"

using namespace rcnn;

namespace {

const torch::Device kCuda(torch::kCUDA, 0);

#define REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this LibTorch build or machine"

torch::Tensor boxes(int64_t n, double span, uint64_t seed) {
  auto g = at::detail::createCPUGenerator(seed);
  auto xy = torch::rand({n, 2}, g) * span;
  auto wh = torch::rand({n, 2}, g) * (span / 3) + 1;
  return torch::cat({xy, xy + wh}, 1);
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0 && b.numel() == 0) return 0;
  return (a.cpu().to(torch::kDouble) - b.cpu().to(torch::kDouble)).abs().max().item<double>();
}

// Every CPU detection has a CUDA one of its class at IoU >= 0.999 with |d score| <= 1e-4, one to one.
void expect_same_detections(const torch::Tensor& bc, const torch::Tensor& sc, const torch::Tensor& lc,
                            const torch::Tensor& bg, const torch::Tensor& sg, const torch::Tensor& lg,
                            const std::string& what) {
  ASSERT_EQ(bc.size(0), bg.size(0)) << what << ": detection count";
  auto iou = ops::box_iou(bc.cpu().to(torch::kFloat), bg.cpu().to(torch::kFloat));
  std::vector<char> used(size_t(bg.size(0)), 0);
  for (int64_t i = 0; i < bc.size(0); ++i) {
    int64_t best = -1;
    for (int64_t j = 0; j < bg.size(0); ++j)
      if (!used[size_t(j)] && lc[i].item<int64_t>() == lg[j].item<int64_t>() && iou[i][j].item<float>() >= 0.999f &&
          std::abs(sc[i].item<float>() - sg[j].item<float>()) <= 1e-4f)
        best = j;
    EXPECT_GE(best, 0) << what << ": CPU detection " << i << " has no CUDA twin";
    if (best >= 0) used[size_t(best)] = 1;
  }
}

}  // namespace

TEST(Gpu, OpsMatchTheCpu) {
  REQUIRE_CUDA();
  const auto a = boxes(3000, 800, 1), b = boxes(40, 800, 2);
  EXPECT_TRUE(torch::equal(ops::box_iou(a, b), ops::box_iou(a.to(kCuda), b.to(kCuda)).cpu())) << "IoU not exact";
  const auto scores = torch::rand({3000}, at::detail::createCPUGenerator(3));
  const auto kc = ops::nms(a, scores, 0.7), kg = ops::nms(a.to(kCuda), scores.to(kCuda), 0.7).cpu();
  EXPECT_TRUE(torch::equal(kc, kg)) << "NMS keep lists differ: " << kc.numel() << " vs " << kg.numel();
  ops::RoIAlignParams p;
  p.pooled_h = p.pooled_w = 7;
  p.spatial_scale = 0.125;
  p.sampling_ratio = 2;
  p.aligned = true;
  auto feats = torch::randn({2, 16, 50, 60}, at::detail::createCPUGenerator(4)).requires_grad_(true);
  auto rb = boxes(64, 400, 5);
  auto rois = torch::cat({torch::randint(0, 2, {64, 1}, at::detail::createCPUGenerator(6)).to(torch::kFloat), rb}, 1);
  auto fg = feats.detach().to(kCuda).requires_grad_(true);
  auto oc = ops::roi_align(feats, rois, p), og = ops::roi_align(fg, rois.to(kCuda), p);
  EXPECT_LE(max_abs(oc, og), 1e-5) << "RoIAlign forward";
  oc.sum().backward();
  og.sum().backward();
  EXPECT_LE(max_abs(feats.grad(), fg.grad()), 1e-5) << "RoIAlign gradient";
}

TEST(Gpu, SeedFamilyInferenceAndTrainingStepMatchTheCpu) {
  REQUIRE_CUDA();
  auto cfg = load_preset("default");
  cfg.num_classes = 10;
  cfg.roi.score_thresh = 0.0;  // random weights: keep every detection so there is something to compare
  torch::manual_seed(0);
  modeling::FasterRCNN cpu(cfg);
  torch::manual_seed(0);
  modeling::FasterRCNN gpu(cfg);
  gpu->to(kCuda);
  cpu->eval();
  gpu->eval();
  const auto img = torch::rand({1, 3, cfg.input.size, cfg.input.size}, at::detail::createCPUGenerator(7));
  {
    torch::NoGradGuard ng;
    const auto dc = cpu->detect(img)[0], dg = gpu->detect(img.to(kCuda))[0];
    expect_same_detections(dc.boxes, dc.scores, dc.classes, dg.boxes, dg.scores, dg.classes, "seed family");
  }
  // One training step's four losses (the same seeded sampling on both).
  cpu->train();
  gpu->train();
  auto gt = torch::tensor({{30.f, 40.f, 110.f, 120.f, 1.f}, {120.f, 100.f, 200.f, 200.f, 3.f}}).view({1, 2, 5});
  auto g1 = at::detail::createCPUGenerator(1), g2 = at::detail::createCPUGenerator(1);
  const auto lc = cpu->forward_train(img, gt, g1), lg = gpu->forward_train(img.to(kCuda), gt.to(kCuda), g2);
  for (const auto& [k, v] : lc)
    EXPECT_NEAR(v.item<double>(), lg.at(k).item<double>(), 1e-4 * std::max(1.0, std::abs(v.item<double>()))) << k;
}

TEST(Gpu, TorchvisionResNet50FpnInferenceMatchesTheCpu) {
  REQUIRE_CUDA();
  auto opts = modeling::tv::tv_preset("torchvision_resnet50_fpn", 7);
  opts.box_score_thresh = 0.0;
  torch::manual_seed(0);
  modeling::tv::TvFasterRCNN cpu(opts);
  torch::manual_seed(0);
  modeling::tv::TvFasterRCNN gpu(opts);
  gpu->to(kCuda);
  cpu->eval();
  gpu->eval();
  torch::NoGradGuard ng;
  const auto img = torch::rand({3, 600, 800}, at::detail::createCPUGenerator(8));
  const auto rc = cpu->infer({img}), rg = gpu->infer({img.to(kCuda)});
  const auto& a = rc.detections[0];
  const auto& b = rg.detections[0];
  expect_same_detections(a.boxes, a.scores, a.labels, b.boxes, b.scores, b.labels, "ResNet-50-FPN");
}
