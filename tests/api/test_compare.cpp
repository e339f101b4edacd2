// Two models side by side (api/compare_job.h): hand-built analyses with a
// known answer, and the same checkpoint against itself end to end.
#include <gtest/gtest.h>

#include "api/compare_job.h"
#include "config/detector_config.h"

using namespace rcnn;
using namespace rcnn::api;

namespace {
AnalysisReport report(std::vector<GtRecord> gts, std::vector<DetectionRecord> dets) {
  AnalysisReport r;
  r.image_paths = {"/d/i0.png", "/d/i1.png"};
  r.class_names = {"a", "b"};
  r.gts = std::move(gts);
  r.detections = std::move(dets);
  return r;
}
const Box b1{10, 10, 50, 50}, b2{60, 10, 90, 40}, b3{5, 5, 30, 30}, b4{40, 40, 80, 90};
}  // namespace

TEST(Compare, GtsFoundByOneModelAndLostByTheOtherWithTheStage) {
  // A: b1 detected, b2 suppressed by NMS; image 1: b3 detected, b4 difficult; 2 false positives on image 1.
  auto a = report({{0, 0, 0, b1, Funnel::Detected, ""},
                   {0, 1, 1, b2, Funnel::SuppressedByNms, "suppressed by #4"},
                   {1, 0, 0, b3, Funnel::Detected, ""},
                   {1, 1, 1, b4, Funnel::Ignored, ""}},
                  {{0, 0, 0, 0.9f, b1, DetOutcome::TruePositive},
                   {1, 0, 0, 0.9f, b3, DetOutcome::TruePositive},
                   {1, 1, 1, 0.5f, b1, DetOutcome::FalsePositive, ErrorType::Background},
                   {1, 2, 1, 0.4f, b2, DetOutcome::FalsePositive, ErrorType::Background}});
  // B lists image 0's GTs in the other order: GTs are matched by image, class and box, not index.
  auto b = report({{0, 0, 1, b2, Funnel::Detected, ""},
                   {0, 1, 0, b1, Funnel::Misclassified, "taken for b"},
                   {1, 0, 0, b3, Funnel::Detected, ""},
                   {1, 1, 1, b4, Funnel::Ignored, ""}},
                  {{0, 0, 1, 0.8f, b2, DetOutcome::TruePositive}, {1, 0, 0, 0.9f, b3, DetOutcome::TruePositive}});
  const auto r = compare_reports(a, b);
  ASSERT_EQ(r.found_by_a_only.size(), 1u);
  EXPECT_EQ(r.found_by_a_only[0].index_a, 0);
  EXPECT_EQ(r.found_by_a_only[0].index_b, 1);
  EXPECT_EQ(r.found_by_a_only[0].stage_b, Funnel::Misclassified);
  EXPECT_EQ(r.found_by_a_only[0].reason_b, "taken for b");
  ASSERT_EQ(r.found_by_b_only.size(), 1u);
  EXPECT_EQ(r.found_by_b_only[0].stage_a, Funnel::SuppressedByNms);
  EXPECT_EQ(r.found_by_b_only[0].index_b, 0);
  auto T = [&](Funnel x, Funnel y) { return r.transitions[size_t(x)][size_t(y)]; };
  EXPECT_EQ(T(Funnel::Detected, Funnel::Misclassified), 1);
  EXPECT_EQ(T(Funnel::SuppressedByNms, Funnel::Detected), 1);
  EXPECT_EQ(T(Funnel::Detected, Funnel::Detected), 1);
  EXPECT_EQ(T(Funnel::Ignored, Funnel::Ignored), 1);
  EXPECT_EQ(r.unmatched_gts, 0);
  // Image 1 differs most: the same GT detected, 2 false positives -> 0; image 0 trades one GT for another.
  ASSERT_EQ(r.images.size(), 2u);
  EXPECT_EQ(r.images[0].image, 1);
  EXPECT_EQ(r.images[0].fp_a, 2);
  EXPECT_EQ(r.images[0].fp_b, 0);
  EXPECT_EQ(r.images[0].difference(), 2);
  EXPECT_EQ(r.images[1].difference(), 0);
  // A GT only one model has (a class the other lacks) is counted, not compared.
  auto b5 = b;
  b5.gts.push_back({1, 2, 1, Box{1, 1, 9, 9}, Funnel::Detected, ""});
  EXPECT_EQ(compare_reports(a, b5).unmatched_gts, 1);
}

TEST(Compare, ACheckpointAgainstItselfChangesNothing) {
  CompareRequest q;
  q.a.checkpoint = q.b.checkpoint = rcnn::resource_dir() + "/models/fashion_default.pt";
  q.a.max_images = 6;
  const auto r = run_compare(q);
  EXPECT_EQ(r.a.image_paths.size(), 6u);
  EXPECT_TRUE(r.found_by_a_only.empty());
  EXPECT_TRUE(r.found_by_b_only.empty());
  EXPECT_EQ(r.a.class_ap50, r.b.class_ap50);
  ASSERT_EQ(r.a.class_ap50.size(), r.a.class_names.size());
  int off = 0, diag = 0;
  for (int x = 0; x < kNumFunnel; ++x)
    for (int y = 0; y < kNumFunnel; ++y) (x == y ? diag : off) += r.transitions[size_t(x)][size_t(y)];
  EXPECT_EQ(off, 0);
  EXPECT_EQ(diag, int(r.a.gts.size()));
  for (const auto& m : r.images) EXPECT_EQ(m.difference(), 0);
}

// Two identical GT boxes of one class in one image pair one to one, in annotation order: A's first with B's
// first, A's second with B's second (a map from key to one index paired both of A's with B's last).
TEST(Compare, IdenticalGtsPairOneToOneInOrder) {
  auto a = report({{0, 0, 0, b1, Funnel::Detected, ""}, {0, 1, 0, b1, Funnel::SuppressedByNms, "a2"}}, {});
  auto b = report({{0, 0, 0, b1, Funnel::Misclassified, "b1"}, {0, 1, 0, b1, Funnel::Detected, ""}}, {});
  const auto r = compare_reports(a, b);
  auto T = [&](Funnel x, Funnel y) { return r.transitions[size_t(x)][size_t(y)]; };
  EXPECT_EQ(T(Funnel::Detected, Funnel::Misclassified), 1);
  EXPECT_EQ(T(Funnel::SuppressedByNms, Funnel::Detected), 1);
  EXPECT_EQ(T(Funnel::Detected, Funnel::Detected), 0);
  ASSERT_EQ(r.found_by_a_only.size(), 1u);
  EXPECT_EQ(r.found_by_a_only[0].index_a, 0);
  EXPECT_EQ(r.found_by_a_only[0].index_b, 0);
  ASSERT_EQ(r.found_by_b_only.size(), 1u);
  EXPECT_EQ(r.found_by_b_only[0].index_a, 1);
  EXPECT_EQ(r.found_by_b_only[0].index_b, 1);
  EXPECT_EQ(r.unmatched_gts, 0);
  // A third copy in A only is unmatched, not paired again.
  a.gts.push_back({0, 2, 0, b1, Funnel::Detected, ""});
  EXPECT_EQ(compare_reports(a, b).unmatched_gts, 1);
}
