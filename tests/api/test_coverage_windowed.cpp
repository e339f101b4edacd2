// The windowed coverage (analysis::SparseMatcher: IoU with the anchors near
// each GT only) against the detector's Matcher on the dense anchors x GT IoU
// matrix: every per-GT fact equal, bit for bit, reasons word for word, on
// random datasets built to produce ties, crowds, duplicates, slivers and
// boxes larger than the image.
#include <gtest/gtest.h>

#include <random>

#include "detail/coverage_internal.h"

using namespace rcnn;
using namespace rcnn::api;

namespace {

data::Dataset hostile_dataset(uint32_t seed, int images) {
  std::mt19937 rng{seed};
  std::uniform_real_distribution<float> u(0, 1);
  data::Dataset ds;
  ds.format = data::Format::VOC;
  ds.class_names = {"a", "b", "c"};
  for (int i = 0; i < images; ++i) {
    data::ImageRecord r;
    r.path = "img_" + std::to_string(i) + ".png";
    r.width = r.height = 224;
    const int n = 1 + int(u(rng) * 12);
    for (int k = 0; k < n; ++k) {
      data::Annotation a;
      const float kind = u(rng);
      if (kind < 0.3f) {  // on the stride grid: equal IoUs with several anchors
        const float s = float(8 << int(u(rng) * 3));
        a.x1 = s * float(int(u(rng) * 10));
        a.y1 = s * float(int(u(rng) * 10));
        a.x2 = a.x1 + s * float(1 + int(u(rng) * 8));
        a.y2 = a.y1 + s * float(1 + int(u(rng) * 8));
      } else if (kind < 0.4f && !r.objects.empty()) {  // a duplicate of an earlier GT
        a = r.objects[size_t(u(rng) * float(r.objects.size()))];
      } else if (kind < 0.5f) {  // slivers, specks and boxes beyond the image
        a.x1 = -40 + u(rng) * 250;
        a.y1 = -40 + u(rng) * 250;
        a.x2 = a.x1 + (u(rng) < 0.5f ? 0.5f + u(rng) * 2 : 150 + u(rng) * 200);
        a.y2 = a.y1 + (u(rng) < 0.5f ? 0.5f + u(rng) * 2 : 3 + u(rng) * 200);
      } else {
        const float w = 4 + u(rng) * 200, h = 4 + u(rng) * 200;
        a.x1 = u(rng) * (224 - w);
        a.y1 = u(rng) * (224 - h);
        a.x2 = a.x1 + w;
        a.y2 = a.y1 + h;
      }
      a.label = int(u(rng) * 3);
      r.objects.push_back(a);
    }
    ds.images.push_back(r);
  }
  return ds;
}

void expect_equal(const CoverageReport& w, const CoverageReport& d, const std::string& what) {
  ASSERT_EQ(w.gts.size(), d.gts.size()) << what;
  for (size_t i = 0; i < w.gts.size(); ++i) {
    const auto &a = w.gts[i], &b = d.gts[i];
    const std::string at = what + ", image " + std::to_string(a.image) + " GT " + std::to_string(a.index);
    ASSERT_EQ(a.image, b.image) << at;
    ASSERT_EQ(a.index, b.index) << at;
    EXPECT_EQ(a.positives, b.positives) << at;
    EXPECT_EQ(a.positives_no_lq, b.positives_no_lq) << at;
    EXPECT_EQ(a.best_iou, b.best_iou) << at;  // bit-equal, not near
    EXPECT_EQ(a.best_level, b.best_level) << at;
    EXPECT_EQ(a.reason, b.reason) << at;
    EXPECT_EQ(a.reason_text, b.reason_text) << at;
  }
  EXPECT_EQ(w.all.covered, d.all.covered) << what;
  EXPECT_EQ(w.all.covered_no_lq, d.all.covered_no_lq) << what;
  EXPECT_EQ(w.all.positives, d.all.positives) << what;
}

}  // namespace

TEST(CoverageWindowed, EqualsTheDenseMatcherExactly) {
  int reasons_seen[8] = {};
  for (uint32_t seed : {11u, 12u}) {
    const auto ds = hostile_dataset(seed, 25);
    for (const char* preset : {"default", "seed"})
      for (bool lq : {false, true})
        for (double hi : {0.7, 0.5}) {
          DetectorConfig cfg = load_preset(preset);
          cfg.num_classes = 3;
          cfg.class_names = ds.class_names;
          cfg.rpn.allow_low_quality_matches = lq;
          cfg.rpn.iou_hi = hi;
          cfg.rpn.iou_lo = std::min(cfg.rpn.iou_lo, hi);
          const int n = int(ds.size());
          const auto w = coverage_on(ds, cfg, n, {}, {}, CoverageMethod::Windowed);
          const auto d = coverage_on(ds, cfg, n, {}, {}, CoverageMethod::Dense);
          expect_equal(w, d, std::string(preset) + " lq " + std::to_string(lq) + " hi " + std::to_string(hi) +
                                 " seed " + std::to_string(seed));
          for (const auto& g : d.gts) reasons_seen[int(g.reason) & 7]++;
        }
  }
  // The datasets reach the interesting branches: GTs with positives, a GT
  // whose anchor another GT took, and GTs no anchor can cover.
  EXPECT_GT(reasons_seen[int(NoPositive::None)], 0);
  EXPECT_GT(reasons_seen[int(NoPositive::TakenByOtherGt)], 0);
  EXPECT_GT(reasons_seen[int(NoPositive::SmallerThanEveryAnchor)] + reasons_seen[int(NoPositive::NoOverlap)], 0);
}
