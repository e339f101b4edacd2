// The accounting engine over the whole embedded validation split with the
// bundled model: the funnel adds up, "detected" means what the evaluation
// counts, and the evaluation of the same model agrees.
#include <gtest/gtest.h>

#include <numeric>

#include "api/analyze_job.h"
#include "api/eval_job.h"
#include "config/detector_config.h"

using namespace rcnn::api;

TEST(Analysis, FunnelAddsUpAndDetectedMeansTheEvaluationsTruePositives) {
  AnalyzeRequest req;
  req.checkpoint = rcnn::resource_dir() + "/models/fashion_default.pt";
  req.dataset = RCNN_DEFAULT_DATASET;
  req.split = "val";
  const auto r = run_analysis(req);
  ASSERT_EQ(r.image_paths.size(), 60u);
  // Every GT has exactly one verdict, and the stage counts add up to them all.
  EXPECT_EQ(r.gts.size(), 222u);
  EXPECT_EQ(size_t(std::accumulate(r.funnel.begin(), r.funnel.end(), 0)), r.gts.size());
  // Every GT reported detected is taken by exactly one true positive, and
  // every true positive takes a GT reported detected.
  std::map<std::pair<int, int>, int> taken;
  for (const auto& d : r.detections)
    if (d.outcome == DetOutcome::TruePositive) taken[{d.image, d.gt}]++;
  int detected = 0;
  for (const auto& g : r.gts) {
    const bool tp = taken.count({g.image, g.index}) > 0;
    EXPECT_EQ(g.stage == Funnel::Detected, tp) << "image " << g.image << " GT " << g.index << ": " << g.reason;
    detected += g.stage == Funnel::Detected;
  }
  for (const auto& [k, n] : taken) EXPECT_EQ(n, 1);
  EXPECT_EQ(size_t(detected), taken.size());
  // Every false positive has a type; true positives have none.
  for (const auto& d : r.detections)
    EXPECT_EQ(d.outcome == DetOutcome::FalsePositive, d.error != ErrorType::None);
  // The independent evaluation path (batched inference, VOC evaluator) of the same model agrees.
  EvalRequest er;
  er.checkpoint = req.checkpoint;
  er.dataset = req.dataset;
  er.split = "val";
  er.device = "cpu";
  const auto ev = run_evaluation(er);
  EXPECT_NEAR(ev.result.map50, r.map50, 1e-4);
  size_t misses = 0;
  for (const auto& c : ev.result.classes) misses += c.misses.size();
  EXPECT_EQ(misses, size_t(r.missed));
  // Fixing an error type never lowers mAP.
  for (const auto& [k, v] : r.error_dap) EXPECT_GE(v, -1e-9) << k;
}
