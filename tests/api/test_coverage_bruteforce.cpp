// Coverage against a brute-force matcher written out here (every anchor
// against every GT, the matcher's rules by hand) on random datasets, and the
// anchor search on a dataset of known object sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "detail/coverage_internal.h"

using namespace rcnn;
using namespace rcnn::api;

namespace {

struct B {
  float x1, y1, x2, y2;
};
float iou(const B& a, const B& b) {
  const float iw = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float ih = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float in = iw * ih, u = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - in;
  return u > 0 ? in / u : 0.f;
}
// The reference's anchors for a square input S: levels stride 8/16/32, cell
// centres (j + 0.5) s, per scale k the side s * stride_scale * 2^(k/n), per
// ratio r: w = sqrt(side^2 / r), h = side^2 / w.
std::vector<B> anchors(const DetectorConfig& c) {
  std::vector<B> out;
  for (int stride : {8, 16, 32}) {
    const int hw = c.input.size / stride;
    for (int i = 0; i < hw; ++i)
      for (int j = 0; j < hw; ++j)
        for (int k = 0; k < c.anchors.scales_per_octave; ++k)
          for (double r : c.anchors.aspect_ratios) {
            const double side = stride * c.anchors.stride_scale * std::pow(2.0, double(k) / c.anchors.scales_per_octave);
            const double w = std::sqrt(side * side / r), h = side * side / w;
            const double cx = (j + 0.5) * stride, cy = (i + 0.5) * stride;
            out.push_back({float(cx - w / 2), float(cy - h / 2), float(cx + w / 2), float(cy + h / 2)});
          }
  }
  return out;
}
// Positive anchors per GT under (lo, hi) and the low-quality rule.
std::vector<int> positives(const std::vector<B>& A, const std::vector<B>& G, double lo, double hi, bool lq,
                           std::vector<float>* best_iou) {
  const size_t K = A.size(), M = G.size();
  std::vector<float> m(K * M);
  for (size_t k = 0; k < K; ++k)
    for (size_t g = 0; g < M; ++g) m[k * M + g] = iou(A[k], G[g]);
  std::vector<int> owner(K, -1);
  std::vector<char> fg(K, 0);
  for (size_t k = 0; k < K; ++k) {
    size_t b = 0;
    for (size_t g = 1; g < M; ++g)
      if (m[k * M + g] > m[k * M + b]) b = g;
    owner[k] = int(b);
    fg[k] = m[k * M + b] >= hi;
  }
  std::vector<float> best(M, 0.f);
  for (size_t g = 0; g < M; ++g)
    for (size_t k = 0; k < K; ++k) best[g] = std::max(best[g], m[k * M + g]);
  if (lq)
    for (size_t k = 0; k < K; ++k) {
      if (fg[k]) continue;
      int take = -1;
      for (size_t g = 0; g < M; ++g)
        if (best[g] > 0 && m[k * M + g] == best[g] && (take < 0 || m[k * M + g] > m[k * M + size_t(take)]))
          take = int(g);
      if (take >= 0) fg[k] = 1, owner[k] = take;
    }
  std::vector<int> n(M, 0);
  for (size_t k = 0; k < K; ++k)
    if (fg[k]) n[size_t(owner[k])]++;
  if (best_iou) *best_iou = best;
  return n;
}

data::Dataset random_dataset(uint64_t seed, int images, float min_side, float max_side) {
  std::mt19937 rng{static_cast<uint32_t>(seed)};
  std::uniform_real_distribution<float> u(0, 1);
  data::Dataset ds;
  ds.format = data::Format::VOC;
  ds.class_names = {"a", "b"};
  for (int i = 0; i < images; ++i) {
    data::ImageRecord r;
    r.path = "img_" + std::to_string(i) + ".png";
    r.width = r.height = 224;
    const int n = 1 + int(u(rng) * 6);
    for (int k = 0; k < n; ++k) {
      const float w = min_side + u(rng) * (max_side - min_side), h = min_side + u(rng) * (max_side - min_side);
      const float x = u(rng) * (224 - w), y = u(rng) * (224 - h);
      r.objects.push_back({x, y, x + w, y + h, int(u(rng) * 2)});
    }
    ds.images.push_back(r);
  }
  return ds;
}

}  // namespace

TEST(CoverageBruteForce, PositivesAndBestIouEqualAnExhaustiveMatcher) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const auto ds = random_dataset(seed, 6, 6, 180);
    for (const char* preset : {"default", "seed"})
      for (bool lq : {false, true}) {
        DetectorConfig cfg = load_preset(preset);
        cfg.num_classes = 2;
        cfg.class_names = ds.class_names;
        cfg.rpn.allow_low_quality_matches = lq;
        const auto r = coverage_on(ds, cfg, int(ds.size()), {});
        const auto A = anchors(cfg);
        size_t k = 0;
        for (size_t i = 0; i < ds.size(); ++i) {
          std::vector<B> G;
          for (const auto& a : ds.images[i].objects) G.push_back({a.x1, a.y1, a.x2, a.y2});
          std::vector<float> best;
          const auto pos = positives(A, G, cfg.rpn.iou_lo, cfg.rpn.iou_hi, lq, &best);
          const auto pos0 = positives(A, G, cfg.rpn.iou_lo, cfg.rpn.iou_hi, false, nullptr);
          for (size_t g = 0; g < G.size(); ++g, ++k) {
            ASSERT_LT(k, r.gts.size());
            EXPECT_EQ(r.gts[k].positives, pos[g]) << preset << " lq " << lq << " seed " << seed << " image " << i;
            EXPECT_EQ(r.gts[k].positives_no_lq, pos0[g]);
            EXPECT_NEAR(r.gts[k].best_iou, best[g], 1e-6);
          }
        }
        EXPECT_EQ(k, r.gts.size());
      }
  }
}

TEST(CoverageBruteForce, SuggestionRecoversAnchorsForKnownObjectSizes) {
  // Every object is 36-44 px square: the seed preset's 64-256 px anchors
  // reach at most IoU 0.47 with them, so nothing is covered without the
  // low-quality rule; the search must find anchors of about their size.
  const auto ds = random_dataset(7, 40, 36, 44);
  DetectorConfig cfg = load_preset("seed");
  cfg.num_classes = 2;
  cfg.class_names = ds.class_names;
  const auto before = coverage_on(ds, cfg, int(ds.size()), {});
  EXPECT_DOUBLE_EQ(before.all.bpr(), 0.0);
  SuggestRequest req;
  req.max_per_location = 3;
  req.search_images = 20;
  req.top = 1;
  const auto s = suggest_on(ds, cfg, int(ds.size()), req);
  ASSERT_EQ(s.best.size(), 1u);
  EXPECT_GT(s.best[0].all.bpr(), 0.9);
  // Some anchor side of some level lies within 20 % of the objects' 40 px.
  bool near = false;
  for (int stride : {8, 16, 32})
    for (int k = 0; k < s.best[0].scales_per_octave; ++k) {
      const double side = stride * s.best[0].stride_scale * std::pow(2.0, double(k) / s.best[0].scales_per_octave);
      near |= std::abs(side - 40) <= 8;
    }
  EXPECT_TRUE(near) << s.best[0].overrides();
}
