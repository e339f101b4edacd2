// Anchor coverage uses the detector's own anchors and matcher: per GT it must
// agree with the Session's matching stage on the same images, and its
// summaries must add up.
#include <gtest/gtest.h>

#include "api/coverage_job.h"
#include "api/dataset.h"
#include "api/session.h"

using namespace rcnn::api;

TEST(Coverage, AgreesWithTheSessionsMatchingStagePerGt) {
  CoverageRequest req;
  req.dataset = RCNN_DEFAULT_DATASET;
  req.split = "val";
  req.config = "default";
  req.max_images = 12;
  const auto r = run_coverage(req);
  ASSERT_GT(r.gts.size(), 20u);
  auto cfg = rcnn::load_preset("default");
  OpenOptions oo;
  oo.split = "val";
  const auto ds = open_dataset(RCNN_DEFAULT_DATASET, oo);
  cfg.num_classes = int(ds.class_names.size());
  cfg.class_names = ds.class_names;
  Session s(cfg, "cpu");
  size_t k = 0;
  for (int i = 0; i < 12; ++i) {
    s.open_image(ds.images[size_t(i)].path, ds.images[size_t(i)].objects, ds.class_names);
    const auto& t = s.run();
    for (size_t g = 0; g < t.gt.size(); ++g, ++k) {
      ASSERT_LT(k, r.gts.size());
      EXPECT_EQ(r.gts[k].image, i);
      EXPECT_EQ(r.gts[k].positives, t.gt[g].positive_anchors) << "image " << i << " GT " << g;
      EXPECT_FLOAT_EQ(r.gts[k].best_iou, t.gt[g].best_iou);
      EXPECT_EQ(int(r.gts[k].reason), int(t.gt[g].no_positive));
    }
  }
  EXPECT_EQ(k, r.gts.size());
}

TEST(Coverage, SummariesAddUpAndTheLowQualityRuleOnlyAdds) {
  CoverageRequest req;
  req.dataset = RCNN_DEFAULT_DATASET;
  req.config = "default";
  // Low-quality off and a high threshold: some GT lose every positive.
  req.overrides = {"rpn.allow_low_quality_matches=false", "rpn.iou_hi=0.8"};
  const auto off = run_coverage(req);
  req.overrides = {"rpn.allow_low_quality_matches=true", "rpn.iou_hi=0.8"};
  const auto on = run_coverage(req);
  ASSERT_EQ(off.gts.size(), on.gts.size());
  EXPECT_LT(off.all.bpr(), 1.0);
  EXPECT_DOUBLE_EQ(on.all.bpr_no_lq(), off.all.bpr());  // the same matcher without the rule
  EXPECT_GE(on.all.bpr(), off.all.bpr());
  int sizes = 0, aspects = 0, classes = 0;
  for (const auto& g : on.by_size) sizes += g.gts;
  for (const auto& g : on.by_aspect) aspects += g.gts;
  for (const auto& g : on.by_class) classes += g.gts;
  EXPECT_EQ(sizes, on.all.gts);
  EXPECT_EQ(aspects, on.all.gts);
  EXPECT_EQ(classes, on.all.gts);
  // Exactly the GTs without positives carry a reason.
  int none = 0;
  for (const auto& g : off.gts) {
    EXPECT_EQ(g.positives == 0, g.reason != NoPositive::None);
    EXPECT_EQ(g.positives == 0, !g.reason_text.empty());
    none += g.positives == 0;
  }
  EXPECT_EQ(none, off.all.gts - off.all.covered);
}

TEST(Coverage, SuggestionsAreDeterministicAndBeatTheSeedAnchors) {
  SuggestRequest req;
  req.coverage.dataset = RCNN_DEFAULT_DATASET;
  req.coverage.config = "seed";  // 64-256 px anchors: objects under 32 px have none
  req.max_per_location = 3;
  req.search_images = 40;
  req.seed = 5;
  req.top = 3;
  const auto a = suggest_anchors(req);
  const auto b = suggest_anchors(req);
  ASSERT_EQ(a.best.size(), 3u);
  for (size_t k = 0; k < a.best.size(); ++k) EXPECT_EQ(a.best[k].overrides(), b.best[k].overrides());
  for (const auto& s : a.best) EXPECT_LE(s.per_location, 3);
  EXPECT_GT(a.best[0].all.bpr(), a.current.all.bpr() + 0.2);
  EXPECT_LT(a.best[0].stride_scale, 8);  // smaller anchors
  // Ranked: BPR first.
  for (size_t k = 1; k < a.best.size(); ++k) EXPECT_GE(a.best[k - 1].all.bpr(), a.best[k].all.bpr());
  // The written config is the preset with exactly these anchors, and loads.
  const auto cfg = rcnn::config_from_json_string(config_with(req.coverage, a.best[0]), "suggested");
  EXPECT_DOUBLE_EQ(cfg.anchors.stride_scale, a.best[0].stride_scale);
  EXPECT_EQ(cfg.anchors.aspect_ratios, a.best[0].aspect_ratios);
  EXPECT_EQ(cfg.backbone.name, "regnetx_400mf");
}
