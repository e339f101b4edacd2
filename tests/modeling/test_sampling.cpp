#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "modeling/matcher.h"
#include "modeling/sampling.h"

using namespace rcnn::modeling;

namespace {
torch::Tensor labels(int fg, int bg, int neutral) {
  auto m = torch::zeros({fg + bg + neutral, 5});
  m.slice(0, 0, fg).select(1, 4).fill_(2);
  m.slice(0, fg, fg + bg).fill_(-1);
  m.slice(0, fg + bg).fill_(-1e8);
  return m;
}
}  // namespace

TEST(Sampling, ScarceForegroundIsFilledWithBackground) {
  auto m = labels(3, 100, 20);
  auto s = sample_fg_bg(m, 16, 0.5, at::detail::createCPUGenerator(1));
  EXPECT_EQ(s.fg.numel(), 3);
  EXPECT_EQ(s.bg.numel(), 13);
  for (int64_t i = 0; i < s.fg.numel(); ++i) EXPECT_LT(s.fg[i].item<int64_t>(), 3);
  std::set<int64_t> seen;
  for (int64_t i = 0; i < s.bg.numel(); ++i) {
    const auto v = s.bg[i].item<int64_t>();
    EXPECT_GE(v, 3);
    EXPECT_LT(v, 103);  // neutral rows (>= 103) are never sampled
    EXPECT_TRUE(seen.insert(v).second) << "duplicate";
  }
}

TEST(Sampling, FractionCapAndBackgroundBound) {
  auto s = sample_fg_bg(labels(50, 100, 0), 16, 0.25, at::detail::createCPUGenerator(1));
  EXPECT_EQ(s.fg.numel(), 4);  // int(16 * 0.25)
  EXPECT_EQ(s.bg.numel(), 12);
  auto t = sample_fg_bg(labels(2, 5, 10), 64, 0.5, at::detail::createCPUGenerator(1));
  EXPECT_EQ(t.fg.numel(), 2);
  EXPECT_EQ(t.bg.numel(), 5);
}

TEST(Sampling, SeededAndRerollable) {
  auto m = labels(40, 400, 0);
  auto a = sample_fg_bg(m, 32, 0.5, at::detail::createCPUGenerator(9));
  auto b = sample_fg_bg(m, 32, 0.5, at::detail::createCPUGenerator(9));
  auto c = sample_fg_bg(m, 32, 0.5, at::detail::createCPUGenerator(10));
  EXPECT_TRUE(torch::equal(a.fg, b.fg));
  EXPECT_TRUE(torch::equal(a.bg, b.bg));
  EXPECT_FALSE(torch::equal(a.bg, c.bg));
}

TEST(Sampling, SubsampleLabelsIsTheSameDrawAsTheSeedRows) {
  // The label form and the reference's row form describe the same anchors,
  // so the same generator state must give the same draw.
  auto m = labels(7, 60, 13);
  auto lab = torch::full({80}, static_cast<int64_t>(kNeutral), torch::kInt8);
  lab.slice(0, 0, 7).fill_(static_cast<int64_t>(kForeground));
  lab.slice(0, 7, 67).fill_(static_cast<int64_t>(kBackground));
  auto a = subsample_labels(lab, 32, 0.5, at::detail::createCPUGenerator(3));
  auto b = sample_fg_bg(m, 32, 0.5, at::detail::createCPUGenerator(3));
  EXPECT_TRUE(torch::equal(a.fg, b.fg));
  EXPECT_TRUE(torch::equal(a.bg, b.bg));
  EXPECT_EQ(a.fg.numel(), 7);
  EXPECT_EQ(a.bg.numel(), 25);
  for (int64_t i = 0; i < a.bg.numel(); ++i) EXPECT_LT(a.bg[i].item<int64_t>(), 67);  // no neutral drawn
}
