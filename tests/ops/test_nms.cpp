#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/box_iou.h"
#include "ops/nms.h"

using namespace rcnn::ops;

TEST(Nms, HandCaseOrderTiesAndSuppressors) {
  auto boxes = torch::tensor({0.f, 0.f, 10.f, 10.f,    // 0: score .9
                              1.f, 1.f, 11.f, 11.f,    // 1: .8, IoU with 0 = 81/119
                              20.f, 20.f, 30.f, 30.f,  // 2: .7, alone
                              0.f, 0.f, 10.f, 10.f})   // 3: .9, tie with 0 -> lower index wins
                   .view({4, 4});
  auto scores = torch::tensor({0.9f, 0.8f, 0.7f, 0.9f});
  torch::Tensor sup;
  auto keep = nms_with_suppressor(boxes, scores, 0.5, &sup);
  ASSERT_EQ(keep.numel(), 2);
  EXPECT_EQ(keep[0].item<int64_t>(), 0);
  EXPECT_EQ(keep[1].item<int64_t>(), 2);
  EXPECT_EQ(keep.scalar_type(), torch::kLong);
  std::vector<int64_t> want{-1, 0, -1, 0};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(sup[i].item<int64_t>(), want[size_t(i)]) << i;
  // 81/119 = 0.6807: at threshold 0.69 box 1 survives.
  EXPECT_EQ(nms(boxes, scores, 0.69).numel(), 3);
}

TEST(Nms, IouEqualToThresholdIsNotSuppressed) {
  auto boxes = torch::tensor({0.f, 0.f, 2.f, 1.f, 0.f, 0.f, 1.f, 1.f}).view({2, 4});  // IoU exactly 0.5
  auto scores = torch::tensor({0.9f, 0.8f});
  EXPECT_EQ(nms(boxes, scores, 0.5).numel(), 2);
  EXPECT_EQ(nms(boxes, scores, 0.49).numel(), 1);
}

TEST(Nms, InvariantsOnRandomBoxes) {
  torch::manual_seed(7);
  for (double thr : {0.3, 0.5, 0.7}) {
    auto xy = torch::rand({500, 2}) * 100, wh = torch::rand({500, 2}) * 40 + 1;
    auto boxes = torch::cat({xy, xy + wh}, 1);
    auto scores = torch::rand({500});
    auto keep = nms(boxes, scores, thr);
    auto kb = boxes.index_select(0, keep);
    auto iou = box_iou(kb, kb) - torch::eye(keep.numel()) * 2;
    EXPECT_LE(iou.max().item<float>(), thr) << "kept boxes overlap above the threshold";
    // Scores of kept boxes are non-increasing.
    auto ks = scores.index_select(0, keep);
    EXPECT_TRUE((ks.slice(0, 1) <= ks.slice(0, 0, -1)).all().item<bool>());
    // Every dropped box overlaps a kept box with a higher score by more than thr.
    std::vector<char> kept(500, 0);
    for (int64_t i = 0; i < keep.numel(); ++i) kept[size_t(keep[i].item<int64_t>())] = 1;
    auto full = box_iou(boxes, kb);
    for (int64_t i = 0; i < 500; ++i) {
      if (kept[size_t(i)]) continue;
      auto ok = (full[i] > thr) & (ks >= scores[i]);
      EXPECT_TRUE(ok.any().item<bool>()) << "box " << i << " dropped without a suppressor";
    }
  }
}

TEST(Nms, BatchedKeepsCategoriesApart) {
  auto boxes = torch::tensor({0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 10.f}).view({3, 4});
  auto scores = torch::tensor({0.5f, 0.9f, 0.7f});
  auto keep = batched_nms(boxes, scores, torch::tensor({0L, 1L, 0L}), 0.5);
  ASSERT_EQ(keep.numel(), 2);
  EXPECT_EQ(keep[0].item<int64_t>(), 1);  // class 1, best overall
  EXPECT_EQ(keep[1].item<int64_t>(), 2);  // best of class 0
}

TEST(Nms, EmptyInputAndBadArgs) {
  EXPECT_EQ(nms(torch::zeros({0, 4}), torch::zeros({0}), 0.5).numel(), 0);
  EXPECT_THROW(nms(torch::zeros({3, 4}), torch::zeros({2}), 0.5), c10::Error);
  EXPECT_THROW(nms(torch::zeros({3, 4}), torch::zeros({3}), 1.5), c10::Error);
}

// Plain greedy NMS over the raw input, written out the simplest way: stable
// sort by score, every kept box against every later box. The fast kernel
// (which only visits nearby boxes on large inputs) must reproduce its kept
// list and every suppressor exactly.
static std::pair<std::vector<int64_t>, std::vector<int64_t>> reference_nms(const torch::Tensor& boxes,
                                                                           const torch::Tensor& scores, float thr) {
  const int64_t k = boxes.size(0);
  auto b = boxes.accessor<float, 2>();
  auto s = scores.accessor<float, 1>();
  std::vector<int64_t> order(k);
  for (int64_t i = 0; i < k; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
  std::vector<int64_t> keep, sup(k, -1);
  std::vector<char> removed(k, 0);
  for (int64_t a = 0; a < k; ++a) {
    const int64_t i = order[a];
    if (removed[i]) continue;
    keep.push_back(i);
    const float ai = (b[i][2] - b[i][0]) * (b[i][3] - b[i][1]);
    for (int64_t c = a + 1; c < k; ++c) {
      const int64_t j = order[c];
      if (removed[j]) continue;
      const float w = std::max(0.f, std::min(b[i][2], b[j][2]) - std::max(b[i][0], b[j][0]));
      const float h = std::max(0.f, std::min(b[i][3], b[j][3]) - std::max(b[i][1], b[j][1]));
      const float inter = w * h, uni = ai + (b[j][2] - b[j][0]) * (b[j][3] - b[j][1]) - inter;
      if (uni > 0 && inter / uni > thr) removed[j] = 1, sup[j] = i;
    }
  }
  return {keep, sup};
}

TEST(Nms, LargeInputsMatchTheQuadraticReferenceExactly) {
  torch::manual_seed(11);
  int cases = 0;
  for (int64_t n : {64, 500, 3000}) {
    for (int layout = 0; layout < 4; ++layout) {
      torch::Tensor xy, wh;
      if (layout == 0) {  // spread out, like the benchmark
        xy = torch::rand({n, 2}) * 1000, wh = torch::rand({n, 2}) * 100 + 1;
      } else if (layout == 1) {  // clustered around 10 objects, like RPN proposals
        auto centre = (torch::randint(0, 10, {n, 1}).to(torch::kFloat) * 37).repeat({1, 2});
        xy = centre + torch::randn({n, 2}) * 4, wh = torch::rand({n, 2}) * 20 + 30;
      } else if (layout == 2) {  // exact duplicates and far-off coordinates
        xy = (torch::randint(0, 20, {n, 2}).to(torch::kFloat) * 5) + 1e4, wh = torch::full({n, 2}, 12.f);
      } else {  // some empty and inverted boxes mixed in
        xy = torch::rand({n, 2}) * 200, wh = torch::rand({n, 2}) * 60 - 10;
      }
      auto boxes = torch::cat({xy, xy + wh}, 1).contiguous();
      // Coarse scores so that ties (broken by index) happen.
      auto scores = (torch::randint(0, 50, {n}).to(torch::kFloat) / 50).contiguous();
      for (float thr : {0.06f, 0.3f, 0.5f, 0.7f, 0.95f}) {
        auto [want_keep, want_sup] = reference_nms(boxes, scores, thr);
        torch::Tensor sup;
        auto keep = nms_with_suppressor(boxes, scores, thr, &sup);
        ASSERT_EQ(keep.numel(), int64_t(want_keep.size())) << "n " << n << " layout " << layout << " thr " << thr;
        for (size_t i = 0; i < want_keep.size(); ++i) ASSERT_EQ(keep[int64_t(i)].item<int64_t>(), want_keep[i]);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(sup[i].item<int64_t>(), want_sup[size_t(i)]) << i;
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 60);
}
