// The benchmark's peers (bench/label_baselines.h) against their own
// references: ObjectLab's scores on a three-image example, as cleanlab's
// rank.py computes them (run with Debian's numpy; values in the comments'
// order), and FiftyOne's mistakenness formulas computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "label_baselines.h"

using namespace rcnn;

namespace {
api::GtObject gt(float x1, float y1, float x2, float y2, int label) {
  api::GtObject g;
  g.box = {x1, y1, x2, y2};
  g.label = label;
  return g;
}
api::Detection det(float x1, float y1, float x2, float y2, int label, float score) {
  api::Detection d;
  d.box = d.box_original = {x1, y1, x2, y2};
  d.label = label;
  d.score = score;
  return d;
}
api::LabeledImage image(std::vector<api::GtObject> g, std::vector<api::Detection> p) {
  api::LabeledImage im;
  im.gt = std::move(g);
  im.predictions = std::move(p);
  return im;
}
}  // namespace

TEST(LabelBaselines, ObjectLabMatchesCleanlabOnItsOwnExample) {
  // cleanlab lists predictions class by class; these are in that order already.
  const std::vector<api::LabeledImage> ims{
      image({gt(10, 10, 50, 50, 0), gt(100, 100, 150, 160, 1), gt(200, 200, 240, 240, 0)},
            {det(12, 12, 52, 50, 0, 0.97f), det(300, 300, 340, 340, 0, 0.98f), det(105, 100, 150, 170, 1, 0.60f),
             det(200, 200, 240, 242, 1, 0.99f)}),
      image({}, {det(30, 30, 70, 70, 1, 0.96f)}), image({gt(20, 20, 60, 60, 1)}, {})};
  const auto o = bench::objectlab_scores(ims);
  EXPECT_NEAR(o.min_sim, 1.499467217058736e-13, 1e-17);
  EXPECT_TRUE(std::isnan(o.overlooked[0][0]));
  EXPECT_NEAR(o.overlooked[0][1], 7.213542e-08, 1e-12);
  EXPECT_TRUE(std::isnan(o.overlooked[0][2]));
  EXPECT_TRUE(std::isnan(o.overlooked[0][3]));
  EXPECT_NEAR(o.overlooked[1][0], 5.997869e-15, 1e-19);
  EXPECT_NEAR(o.badloc[0][0], 0.855381, 1e-6);
  EXPECT_NEAR(o.badloc[0][1], 0.761525, 1e-6);
  EXPECT_FLOAT_EQ(o.badloc[0][2], 1.f);
  EXPECT_FLOAT_EQ(o.badloc[2][0], 1.f);
  EXPECT_FLOAT_EQ(o.swap[0][0], 1.f);
  EXPECT_FLOAT_EQ(o.swap[0][1], 1.f);
  EXPECT_NEAR(o.swap[0][2], 0.052373, 1e-6);
  EXPECT_NEAR(o.image_score[0], 1.447818e-03, 1e-8);
  EXPECT_NEAR(o.image_score[1], 1.816905e-05, 1e-10);
  EXPECT_NEAR(o.image_score[2], 1.0, 1e-6);
}

TEST(LabelBaselines, FiftyOneMistakennessByHand) {
  // GT 0 (a) matched by a b box c = 0.9 at IoU 0.95; GT 1 (a) by an a box c = 0.8 at IoU 0.8 (4 x 5 of 5 x 5 ...);
  // GT 2 unmatched; a c = 0.97 box over nothing: possible_missing; a c = 0.9 one over nothing: not.
  const std::vector<api::LabeledImage> ims{
      image({gt(0, 0, 20, 20, 0), gt(100, 0, 125, 20, 0), gt(0, 100, 20, 120, 1)},
            {det(1, 0, 20, 20, 1, 0.9f), det(100, 0, 120, 20, 0, 0.8f), det(200, 200, 220, 220, 2, 0.97f),
             det(150, 150, 170, 170, 2, 0.9f)})};
  const auto f = bench::fiftyone_mistakenness(ims);
  EXPECT_NEAR(f.mistakenness[0][0], (1 + 0.9) / 2, 1e-6);
  EXPECT_NEAR(f.mistakenness[0][1], (1 - 0.8) / 2, 1e-6);
  EXPECT_TRUE(std::isnan(f.mistakenness[0][2]));
  const double i0 = 2 * (1 - 0.95), i1 = 2 * (1 - 0.8);
  EXPECT_NEAR(f.mistakenness_loc[0][0], (0.9 * (2 * i0 - 1) + 1) / 2, 1e-6);
  EXPECT_NEAR(f.mistakenness_loc[0][1], (0.8 * (2 * i1 - 1) + 1) / 2, 1e-6);
  EXPECT_EQ(f.possible_spurious[0], (std::vector<char>{0, 0, 1}));
  EXPECT_EQ(f.possible_missing[0], (std::vector<char>{0, 0, 1, 0}));
  EXPECT_NEAR(f.image_mistakenness[0], 0.95, 1e-6);
  EXPECT_EQ(f.image_flags[0], 2);
  // Matching is class-agnostic and greedy in confidence order: the surer box takes the GT.
  const auto g = bench::fiftyone_mistakenness(
      {image({gt(0, 0, 20, 20, 0)}, {det(0, 0, 20, 20, 0, 0.6f), det(0, 0, 20, 20, 1, 0.7f)})});
  EXPECT_NEAR(g.mistakenness[0][0], (1 + 0.7) / 2, 1e-6);
  EXPECT_EQ(g.image_flags[0], 0);
}
