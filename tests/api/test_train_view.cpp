// The training-step view of a Session (trace.train): its four losses equal
// the trainer's forward_train on the same image and seed, and every sample's
// terms and targets follow from the trace's own boxes by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>

#include "api/session.h"
#include "feature_map_rebuild.h"
#include "data/transforms.h"
#include "modeling/faster_rcnn.h"

using namespace rcnn;
using namespace rcnn::api;

namespace {
Image painted(int s) {
  Image im;
  im.width = im.height = s;
  im.rgb.assign(size_t(s) * s * 3, 30);
  auto paint = [&](int x1, int y1, int x2, int y2, int ch) {
    for (int y = y1; y < y2; ++y)
      for (int x = x1; x < x2; ++x) im.rgb[size_t(y * s + x) * 3 + size_t(ch)] = 230;
  };
  paint(30, 40, 110, 120, 0);
  paint(140, 130, 200, 210, 1);
  return im;
}
DetectorConfig cfg() {
  DetectorConfig c = load_preset("fast");
  c.num_classes = 2;
  c.class_names = {"a", "b"};
  c.roi.box_regression = true;  // the RoI box loss needs it (the "fast" preset has it off)
  return c;
}
const std::vector<GtObject> kGt = {{{30, 40, 110, 120}, 0}, {{140, 130, 200, 210}, 1}};

// BoxCoder::encode by hand: weights (wx, wy, ww, wh).
std::array<float, 4> encode(const Box& a, const Box& g, double wx, double wy, double ww, double wh) {
  const double aw = a.x2 - a.x1, ah = a.y2 - a.y1, gw = g.x2 - g.x1, gh = g.y2 - g.y1;
  return {float(wx * ((g.x1 + 0.5 * gw) - (a.x1 + 0.5 * aw)) / aw),
          float(wy * ((g.y1 + 0.5 * gh) - (a.y1 + 0.5 * ah)) / ah), float(ww * std::log(gw / aw)),
          float(wh * std::log(gh / ah))};
}
double smooth_l1(double d, double beta) {
  d = std::abs(d);
  return d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
}
}  // namespace

TEST(TrainView, LossesEqualTheTrainersStepOnTheSameImageAndSeed) {
  const uint64_t weights = 7, seed = 11;
  Session s(cfg(), "cpu", weights);
  const auto im = painted(224);
  s.set_image(im, kGt, {"a", "b"});
  s.set_sample_seed(seed);
  const auto& t = s.run();
  const auto& v = t.train;
  ASSERT_TRUE(v.valid) << v.note;

  // The trainer's forward_train on the same model, input and GT, seeded alike.
  torch::manual_seed(weights);
  modeling::FasterRCNN m(cfg());
  m->eval();  // the studio's model is in eval mode (BatchNorm running statistics)
  cv::Mat rgb(im.height, im.width, CV_8UC3, const_cast<uint8_t*>(im.rgb.data()));
  const auto c = cfg();
  auto input = data::to_tensor(data::apply_resize(rgb, data::make_resize(224, 224, 224, c.input.resize)), c.input.mean,
                               c.input.std)
                   .unsqueeze(0);
  auto gt = torch::tensor({30.f, 40.f, 110.f, 120.f, 0.f, 140.f, 130.f, 200.f, 210.f, 1.f}).view({1, 2, 5});
  torch::NoGradGuard ng;
  auto losses = m->forward_train(input, gt, at::detail::createCPUGenerator(seed));
  EXPECT_FLOAT_EQ(float(v.rpn_obj), losses["rpn_obj"].item<float>());
  EXPECT_FLOAT_EQ(float(v.rpn_box), losses["rpn_box"].item<float>());
  EXPECT_FLOAT_EQ(float(v.roi_cls), losses["roi_cls"].item<float>());
  EXPECT_FLOAT_EQ(float(v.roi_box), losses["roi_box"].item<float>());
  EXPECT_GT(v.rpn_box, 0);
  EXPECT_GT(v.roi_box, 0);

  // The RPN's samples are the Sampling stage's draws.
  std::vector<int> fg, bg;
  for (const auto& x : v.rpn) (x.fg ? fg : bg).push_back(x.index);
  EXPECT_EQ(fg, t.sampled_fg);
  EXPECT_EQ(bg, t.sampled_bg);
}

TEST(TrainView, EverySampleFollowsFromTheTracesBoxes) {
  auto c = cfg();
  c.roi.add_gt_to_proposals = true;
  Session s(c, "cpu", 3);
  s.set_image(painted(224), kGt, {"a", "b"});
  s.set_sample_seed(5);
  const auto& t = s.run();
  const auto& v = t.train;
  ASSERT_TRUE(v.valid);
  // RPN: BCE of sigmoid(objectness) against 1 / 0; L1 of the trace's deltas
  // against the anchor's encoding of its GT; totals are sums / count.
  double obj = 0, box = 0;
  ASSERT_EQ(int(v.rpn.size()), v.rpn_count);
  for (const auto& x : v.rpn) {
    const double p = t.objectness[size_t(x.index)];
    EXPECT_NEAR(x.cls, x.fg ? -std::log(p) : -std::log(1 - p), 1e-4);
    obj += x.cls;
    if (!x.fg) continue;
    EXPECT_EQ(t.anchor_label[size_t(x.index)], AnchorLabel::Positive);
    const auto e = encode(t.anchors[size_t(x.index)], t.gt[size_t(x.gt)].box, 1, 1, 1, 1);
    double l1 = 0;
    for (int c = 0; c < 4; ++c) {
      EXPECT_NEAR(x.target[c], e[size_t(c)], 1e-4);
      EXPECT_FLOAT_EQ(x.pred[c], t.deltas[size_t(x.index) * 4 + size_t(c)]);
      l1 += std::abs(x.pred[c] - e[size_t(c)]);
    }
    EXPECT_NEAR(x.box, l1, 1e-4);
    box += x.box;
  }
  EXPECT_NEAR(v.rpn_obj, obj / v.rpn_count, 1e-5);
  EXPECT_NEAR(v.rpn_box, v.rpn_box_weight * box / v.rpn_count, 1e-5);

  // Second stage: the GT boxes joined the proposals, labels follow the RoI
  // thresholds, the sample sizes follow the sampler's rule.
  int gts = 0, nfg = 0, nbg = 0;
  for (const auto& r : v.rois) {
    if (r.from_gt) {
      EXPECT_FLOAT_EQ(r.iou, 1.f);
      EXPECT_EQ(r.box.x1, t.gt[size_t(r.gt)].box.x1);
      ++gts;
    }
    const auto want = r.iou >= v.roi_iou_hi
                          ? AnchorLabel::Positive
                          : (r.iou <= v.roi_iou_lo ? AnchorLabel::Negative : AnchorLabel::Neutral);
    EXPECT_EQ(r.label, want) << r.iou;
    EXPECT_EQ(r.class_target, r.label == AnchorLabel::Positive ? t.gt[size_t(r.gt)].label + 1 : 0);
    nfg += r.label == AnchorLabel::Positive;
    nbg += r.label == AnchorLabel::Negative;
  }
  EXPECT_EQ(gts, 2);
  EXPECT_EQ(v.num_proposals + 2, int(v.rois.size()));
  const int want_fg = std::min(int(v.roi_batch * v.roi_fg_fraction), nfg);
  EXPECT_EQ(v.roi_fg, want_fg);
  EXPECT_EQ(int(v.roi.size()) - v.roi_fg, std::min(v.roi_batch - want_fg, nbg));
  double ce = 0, sl1 = 0;
  for (size_t i = 0; i < v.roi.size(); ++i) {
    const auto& x = v.roi[i];
    const auto& r = v.rois[size_t(x.index)];
    EXPECT_EQ(r.sample, int(i));
    EXPECT_EQ(x.fg, r.label == AnchorLabel::Positive);
    EXPECT_NEAR(x.cls, -std::log(double(x.prob)), 1e-4);
    ce += x.cls;
    if (!x.fg) continue;
    const auto e = encode(r.box, t.gt[size_t(r.gt)].box, 10, 10, 5, 5);
    double l = 0;
    for (int c = 0; c < 4; ++c) {
      EXPECT_NEAR(x.target[c], e[size_t(c)], 1e-3);
      l += smooth_l1(x.pred[c] - e[size_t(c)], 1.0 / 9.0);
    }
    EXPECT_NEAR(x.box, l, 1e-4);
    sl1 += x.box;
  }
  EXPECT_NEAR(v.roi_cls, ce / v.roi_count, 1e-5);
  EXPECT_NEAR(v.roi_box, v.roi_box_weight * sl1 / v.roi_count, 1e-5);
}

TEST(TrainView, RoiTrainingSettingsRerunOnlyTheTrainingStep) {
  Session s(cfg(), "cpu");
  s.set_image(painted(224), kGt, {"a", "b"});
  const auto fg0 = s.run().train.roi_fg;
  auto c = s.config();
  c.roi.iou_hi = 0.9;  // fewer positive RoIs
  c.roi.iou_lo = 0.3;
  s.set_config(c);
  const auto& t = s.run();
  EXPECT_EQ(t.recomputed, (std::vector<std::string>{"training_step"}));
  EXPECT_LT(t.train.roi_fg, fg0);
  s.set_sample_seed(99);  // a re-roll draws both samplers again
  EXPECT_EQ(s.run().recomputed, (std::vector<std::string>{"sampling", "training_step"}));
  s.set_display_outputs(false);  // dataset analysis: no training step
  EXPECT_FALSE(s.run().train.valid);
}

// The refinement arrows' boxes (apply_deltas on plain numbers) are the
// detector's own: every proposal is its anchor moved by the RPN's deltas, and
// every RoI's class box is the proposal moved by the RoI head's deltas.
TEST(BoxRefinement, ApplyDeltasReproducesProposalsAndClassBoxes) {
  Session s(cfg(), "cpu");
  s.load_checkpoint(rcnn::resource_dir() + "/models/fashion_default.pt");
  s.set_image(painted(224), kGt, s.config().class_names);
  const auto& t = s.run();
  const float one[4] = {1, 1, 1, 1};
  ASSERT_GT(t.proposals.size(), 100u);
  for (const auto& p : t.proposals) {
    const Box b = apply_deltas(t.anchors[size_t(p.anchor)], &t.deltas[size_t(p.anchor) * 4], one, t.rpn_scale_clamp,
                               t.clip_width, t.clip_height);
    EXPECT_NEAR(b.x1, p.box.x1, 1e-3);
    EXPECT_NEAR(b.y1, p.box.y1, 1e-3);
    EXPECT_NEAR(b.x2, p.box.x2, 1e-3);
    EXPECT_NEAR(b.y2, p.box.y2, 1e-3);
  }
  const int C = t.num_classes();
  ASSERT_TRUE(t.box_regression);
  ASSERT_EQ(t.roi_deltas.size(), t.kept.size() * size_t(C) * 4);
  for (size_t r = 0; r < t.kept.size(); ++r)
    for (int c = 0; c < C; ++c) {
      const Box b = apply_deltas(t.proposals[size_t(t.kept[r])].box, &t.roi_deltas[(r * size_t(C) + size_t(c)) * 4],
                                 t.roi_box_weights, t.roi_scale_clamp, t.clip_width, t.clip_height);
      const Box want = t.roi_class_box(int(r), c);
      EXPECT_NEAR(b.x1, want.x1, 1e-3);
      EXPECT_NEAR(b.y2, want.y2, 1e-3);
    }
}

// The feature-map view: the sample points drawn on a level, read through the
// kernel's bilinear taps from the level's channel image, average to the
// pooled feature RoIAlign produced for that bin and channel.
TEST(FeatureMaps, SamplePointsAndTapsReproduceThePooledFeatures) {
  auto c = cfg();
  c.roi.sampling_ratio = 0;  // adaptive: grids differ per RoI
  Session s(c, "cpu", 4);
  s.set_image(painted(224), kGt, {"a", "b"});
  s.set_feature_channel(5);
  const auto& t = s.run();
  ASSERT_EQ(t.feature_maps.size(), t.levels.size());
  EXPECT_EQ(t.feature_channel, 5);
  for (size_t l = 0; l < t.levels.size(); ++l) {
    const auto& m = t.feature_maps[l];
    EXPECT_EQ(m.height, t.levels[l].height);
    EXPECT_EQ(m.width, t.levels[l].width);
    EXPECT_FLOAT_EQ(m.step, float(t.levels[l].stride));
    EXPECT_FLOAT_EQ(m.offset, 0.5f);  // aligned
    ASSERT_EQ(m.channel.size(), size_t(m.height * m.width));
    for (size_t i = 0; i < m.mean.size(); ++i) EXPECT_LE(m.mean[i], m.max[i] + 1e-6f);
  }
  const int S = t.roi_size;
  ASSERT_EQ(t.roi_points_fmap.size(), t.roi_points.size());
  int checked = 0;
  for (int r = 0; r < int(t.kept.size()) && r < 40; ++r) {
    // The point drawn on the image is the feature point mapped back.
    const auto& m = t.feature_maps[size_t(t.roi_level[size_t(r)])];
    for (int k = t.roi_point_offset[size_t(r)]; k < t.roi_point_offset[size_t(r + 1)]; k += 2) {
      EXPECT_NEAR(t.roi_points[size_t(k)], m.input_x(t.roi_points_fmap[size_t(k)]), 1e-3);
      EXPECT_NEAR(t.roi_points[size_t(k + 1)], m.input_y(t.roi_points_fmap[size_t(k + 1)]), 1e-3);
    }
    const auto bins = rebuild_pooled_bins(t, r);
    for (int ph = 0; ph < S; ++ph)
      for (int pw = 0; pw < S; ++pw, ++checked)
        EXPECT_NEAR(bins[size_t(ph * S + pw)], pooled_bin(t, r, ph, pw), 1e-5) << "RoI " << r << " bin " << ph << "," << pw;
  }
  EXPECT_GT(checked, 100);
  // A channel change refills only the images.
  s.set_feature_channel(9);
  const auto& t2 = s.run();
  EXPECT_EQ(t2.recomputed, (std::vector<std::string>{"feature_maps"}));
  EXPECT_EQ(t2.feature_channel, 9);
}

// The training step is computed only when asked for (the studio asks while the RoI sampling or Losses stage is
// open): off, no trace runs it and the view says why; on again, only that step runs, and its losses are a fresh
// session's.
TEST(TrainView, ComputedOnlyWhenAskedFor) {
  Session s(cfg(), "cpu", 7);
  s.set_train_view(false);
  s.set_image(painted(224), kGt, {"a", "b"});
  s.set_sample_seed(11);
  const auto& t = s.run();
  EXPECT_FALSE(t.train.valid);
  EXPECT_NE(t.train.note.find("RoI sampling or Losses"), std::string::npos) << t.train.note;
  EXPECT_EQ(std::count(t.recomputed.begin(), t.recomputed.end(), "training_step"), 0);
  EXPECT_FALSE(t.recomputed.empty());
  s.set_train_view(true);
  const auto& t2 = s.run();
  EXPECT_EQ(t2.recomputed, std::vector<std::string>{"training_step"});
  ASSERT_TRUE(t2.train.valid) << t2.train.note;
  Session fresh(cfg(), "cpu", 7);
  fresh.set_image(painted(224), kGt, {"a", "b"});
  fresh.set_sample_seed(11);
  const auto& f = fresh.run();
  EXPECT_EQ(t2.train.rpn_obj, f.train.rpn_obj);
  EXPECT_EQ(t2.train.roi_cls, f.train.roi_cls);
  EXPECT_EQ(t2.train.roi.size(), f.train.roi.size());
  // Off and on again with nothing changed: the view is still current, nothing re-runs.
  s.set_train_view(false);
  s.set_train_view(true);
  EXPECT_TRUE(s.run().recomputed.empty());
  // Off, then a new sample: the view goes out of date, and on again it is recomputed for that sample.
  s.set_train_view(false);
  s.set_sample_seed(12);
  EXPECT_FALSE(s.run().train.valid);
  s.set_train_view(true);
  const auto& t3 = s.run();
  EXPECT_EQ(t3.recomputed, std::vector<std::string>{"training_step"});
  EXPECT_EQ(t3.train.seed, 12u);
}
