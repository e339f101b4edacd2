// engine/op_cost.h and engine/peak.h's roofline: FLOPs and bytes per
// operator against hand-computed values, stage attribution, and the roof.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "engine/op_cost.h"
#include "engine/peak.h"
#include "ops/nms.h"

using namespace rcnn;
using engine::CostRecorder;
using engine::StageMark;

namespace {
const engine::StageCost* find(const std::vector<engine::StageCost>& v, const std::string& name) {
  for (const auto& c : v)
    if (c.stage == name) return &c;
  return nullptr;
}
}  // namespace

TEST(OpCost, ConvolutionCountsTwoFlopsPerMultiplyAddOnceThroughItsNestedCalls) {
  torch::NoGradGuard ng;
  auto x = torch::ones({1, 3, 10, 12});
  auto w = torch::ones({8, 3, 3, 3});
  CostRecorder rec;
  torch::conv2d(x, w, {}, 1, 1);  // conv2d -> convolution -> _convolution -> a kernel: one operator
  const auto t = rec.total();
  // 8 x 10 x 12 outputs, each 3 x 3 x 3 multiply-adds.
  EXPECT_EQ(t.flops, 2.0 * 8 * 10 * 12 * 27);
  EXPECT_EQ(t.ops, 1);
  EXPECT_EQ(t.bytes, 4.0 * (3 * 10 * 12 + 8 * 27 + 8 * 10 * 12));  // input, weight, output
}

TEST(OpCost, GroupedStridedConvolutionAndMatrixProducts) {
  torch::NoGradGuard ng;
  const auto one = [](at::IntArrayRef s) { return torch::ones(s); };
  auto cx = one({2, 4, 9, 9}), cw = one({6, 2, 3, 3}), lx = one({5, 7}), lw = one({4, 7}), lb = one({4});
  auto a = one({3, 6}), b = one({6, 2}), ba = one({4, 3, 5}), bb = one({4, 5, 2}), c = torch::zeros({3, 2});
  auto v = one({100});
  CostRecorder rec;
  // groups 2: each output sees 4 / 2 input channels; stride 2 on 9x9 with padding 1 -> 5x5.
  torch::conv2d(cx, cw, {}, 2, 1, 1, 2);
  const double conv = 2.0 * (2 * 6 * 5 * 5) * (2 * 9);
  torch::linear(lx, lw, lb);  // 5 x 4 outputs of 7 terms
  torch::mm(a, b);
  torch::bmm(ba, bb);
  torch::addmm(c, a, b);
  torch::relu(v);  // bandwidth, no FLOPs
  EXPECT_EQ(rec.total().flops, conv + 2.0 * 5 * 4 * 7 + 2.0 * 3 * 2 * 6 + 2.0 * 4 * 3 * 2 * 5 + 2.0 * 3 * 2 * 6);
  EXPECT_EQ(rec.total().ops, 6);
}

TEST(OpCost, StagesTakeTheirOwnTimeAndWorkNestedMarksHandBack) {
  torch::NoGradGuard ng;
  auto a = torch::ones({2, 3}), b = torch::ones({3, 4}), x = torch::ones({1, 1, 4, 4}), w = torch::ones({2, 1, 1, 1});
  auto lx = torch::ones({1, 5}), lw = torch::ones({3, 5}), p = torch::ones({1, 2}), q = torch::ones({2, 1});
  CostRecorder rec;
  torch::mm(a, b);  // before any mark: "other"
  {
    StageMark sa("a");
    torch::conv2d(x, w);
    {
      StageMark sb("b");
      torch::linear(lx, lw);
    }
    torch::mm(p, q);  // back in "a"
  }
  const auto st = rec.stages();
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].stage, "other");
  EXPECT_EQ(st[1].stage, "a");
  EXPECT_EQ(st[2].stage, "b");
  EXPECT_EQ(st[0].flops, 2.0 * 2 * 4 * 3);
  EXPECT_EQ(st[1].flops, 2.0 * 2 * 16 * 1 + 2.0 * 1 * 1 * 2);
  EXPECT_EQ(st[2].flops, 2.0 * 3 * 5);
  EXPECT_EQ(st[1].visits, 1);
  EXPECT_EQ(st[1].ops, 2);
  EXPECT_EQ(st[2].ops, 1);
  double sum = 0;
  for (const auto& c : st) {
    EXPECT_GE(c.ms, 0);
    sum += c.ms;
  }
  EXPECT_GE(rec.total().ms, sum);  // the open time keeps running
}

TEST(OpCost, TheProjectsKernelsAreStagesOfTheirOwnName) {
  torch::NoGradGuard ng;
  auto boxes = torch::tensor({{0.f, 0.f, 10.f, 10.f}, {1.f, 1.f, 10.f, 10.f}, {20.f, 20.f, 30.f, 30.f}});
  auto scores = torch::tensor({0.9f, 0.8f, 0.7f});
  CostRecorder rec;
  torch::Tensor keep;
  {
    StageMark m("postprocess");
    keep = ops::nms(boxes, scores, 0.5);
  }
  ASSERT_EQ(keep.numel(), 2);
  const auto st = rec.stages();
  const auto* nms = find(st, "nms");
  ASSERT_NE(nms, nullptr);
  EXPECT_EQ(nms->ops, 1);                                  // its own sort, copies and clone are inside it
  EXPECT_EQ(nms->bytes, 3 * 4 * 4.0 + 3 * 4.0 + 2 * 8.0);  // boxes, scores, the kept int64 indices
  const auto* post = find(st, "postprocess");
  ASSERT_NE(post, nullptr);
  EXPECT_EQ(post->ops, 0);
}

TEST(OpCost, OnlyTheRecordingThreadIsCountedAndMarksWithoutARecorderAreFree) {
  torch::NoGradGuard ng;
  {
    StageMark m("nobody listens");  // no recorder: nothing to do, nothing thrown
  }
  CostRecorder rec;
  EXPECT_THROW(CostRecorder second, std::logic_error);
  std::thread([] { torch::mm(torch::ones({8, 8}), torch::ones({8, 8})); }).join();
  EXPECT_EQ(rec.total().flops, 0);
  torch::mm(torch::ones({8, 8}), torch::ones({8, 8}));
  EXPECT_EQ(rec.total().flops, 2.0 * 8 * 8 * 8);
}

TEST(Roofline, ComputeBoundAndMemoryBoundStagesAgainstHandComputedRoofs) {
  engine::MachinePeak peak;
  peak.gemm_gflops = 300, peak.conv_gflops = 250, peak.blas_gflops = 100, peak.bandwidth_gbs = 20;
  EXPECT_EQ(peak.compute_gflops(), 300);
  // 200 GFLOP over 1 GB in 1 s: intensity 200 FLOP/B, roof min(300, 200 x 20) = 300.
  const auto c = engine::roofline({"conv", 1000, 2e11, 1e9}, peak);
  EXPECT_DOUBLE_EQ(c.gflops, 200);
  EXPECT_DOUBLE_EQ(c.intensity, 200);
  EXPECT_DOUBLE_EQ(c.attainable, 300);
  EXPECT_DOUBLE_EQ(c.share, 200.0 / 300);
  EXPECT_FALSE(c.memory_bound);
  // 1 GFLOP over 1 GB in 0.5 s: intensity 1, roof 20 GFLOP/s, achieved 2.
  const auto m = engine::roofline({"eltwise", 500, 1e9, 1e9}, peak);
  EXPECT_DOUBLE_EQ(m.attainable, 20);
  EXPECT_DOUBLE_EQ(m.share, 0.1);
  EXPECT_TRUE(m.memory_bound);
  // No FLOPs: against the bandwidth, 4 GB in 1 s of 20 GB/s.
  const auto n = engine::roofline({"nms", 1000, 0, 4e9}, peak);
  EXPECT_DOUBLE_EQ(n.share, 0.2);
  EXPECT_TRUE(n.memory_bound);
}
