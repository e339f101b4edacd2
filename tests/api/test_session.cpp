#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "api/session.h"

using namespace rcnn;
using namespace rcnn::api;

namespace {
Image synthetic(int w, int h) {
  Image im;
  im.width = w;
  im.height = h;
  im.rgb.assign(size_t(w) * h * 3, 40);
  for (int y = 40; y < 120; ++y)
    for (int x = 50; x < 150; ++x) im.rgb[size_t(y * w + x) * 3] = 220;
  return im;
}
DetectorConfig cfg() {
  DetectorConfig c = load_preset("fast");
  c.num_classes = 2;
  c.class_names = {"a", "b"};
  return c;
}
int positives(const PipelineTrace& t) {
  int n = 0;
  for (auto l : t.anchor_label) n += l == AnchorLabel::Positive;
  return n;
}
}  // namespace

TEST(Session, TraceHasEveryStage) {
  Session s(cfg(), "cpu");
  // GT 0 coincides with the 64x64 p3 anchor centred at (36, 36).
  s.set_image(synthetic(224, 224), {{{4, 4, 68, 68}, 1}, {{10, 150, 60, 200}, 0}}, {"a", "b"});
  const auto& t = s.run();
  EXPECT_TRUE(t.random_weights);
  EXPECT_NE(t.model_label.find("random"), std::string::npos);
  ASSERT_EQ(t.levels.size(), 3u);
  EXPECT_EQ(t.anchors.size(), 2352u + 588u + 147u);
  EXPECT_EQ(t.anchor_label.size(), t.anchors.size());
  EXPECT_EQ(t.objectness.size(), t.anchors.size());
  EXPECT_EQ(t.deltas.size(), 4 * t.anchors.size());
  EXPECT_EQ(t.iou_matrix.size(), 2 * t.anchors.size());
  ASSERT_EQ(t.gt.size(), 2u);
  EXPECT_GT(t.gt[0].positive_anchors, 0);
  EXPECT_FLOAT_EQ(t.gt[0].best_iou, 1.f);
  // GT 1 (50x50) lies inside the 64x64 anchor (4, 140, 68, 204): IoU 2500 / 4096.
  EXPECT_NEAR(t.gt[1].best_iou, 2500.f / 4096.f, 1e-5);
  EXPECT_EQ(int(t.sampled_fg.size() + t.sampled_bg.size()), 16);
  EXPECT_EQ(t.proposals.size(), 400u + 400u + 147u);  // pre-NMS top-k per level, p5 has only 147 anchors
  EXPECT_LE(t.kept.size(), 300u);
  EXPECT_EQ(t.roi_features.size(), t.kept.size() * 64 * 49);
  EXPECT_EQ(t.roi_crops.size(), t.kept.size() * 3 * 32 * 32);
  EXPECT_EQ(t.class_probs.size(), t.kept.size() * 3);
  // Every suppressed proposal points at a kept-or-surviving box of its level with a higher score.
  for (const auto& p : t.proposals)
    if (p.state == ProposalState::Suppressed) {
      ASSERT_GE(p.suppressed_by, 0);
      const auto& q = t.proposals[size_t(p.suppressed_by)];
      EXPECT_EQ(q.level, p.level);
      // NMS ranks the logits; the trace's objectness is their sigmoid, which ATen computes with a vectorised
      // exp in a tensor's body and std::exp in its tail: equal logits can differ by an ulp after it.
      EXPECT_GE(q.objectness, std::nextafter(p.objectness, 0.f));
      EXPECT_GT(box_iou(p.box, q.box), 0.7f);
    }
  int gh = 0, gw = 0;
  auto pts = s.sampling_points(0, &gh, &gw);
  EXPECT_EQ(gh, 2);
  EXPECT_EQ(pts.size(), size_t(7 * 7 * gh * gw * 2));
}

TEST(Session, ParameterChangesRerunOnlyDownstreamStages) {
  Session s(cfg(), "cpu");
  s.set_image(synthetic(300, 200), {{{60, 40, 200, 150}, 0}}, {"a", "b"});
  const auto& t0 = s.run();
  const int pos0 = positives(t0);
  EXPECT_EQ(s.backbone_runs(), 1);
  auto c = s.config();
  c.roi.score_thresh = 0.3;
  s.set_config(c);
  const auto& t1 = s.run();
  EXPECT_EQ(s.backbone_runs(), 1);  // post-processing only
  EXPECT_EQ(t1.recomputed, (std::vector<std::string>{"predictions"}));
  c.rpn.iou_hi = 0.75;  // raising the positive threshold lowers the positive count
  s.set_config(c);
  const auto& t2 = s.run();
  EXPECT_EQ(s.backbone_runs(), 1);
  EXPECT_LT(positives(t2), pos0);
  c.anchors.stride_scale = 4;  // anchors changed: matching and proposals rerun, backbone does not
  s.set_config(c);
  s.run();
  EXPECT_EQ(s.backbone_runs(), 1);
  c.anchors.aspect_ratios = {1.0};  // head shape changes: new random model
  s.set_config(c);
  s.run();
  EXPECT_EQ(s.backbone_runs(), 2);
}

TEST(Session, InputSizeChangeRecomputesAnchorsForTheNewFeatureMaps) {
  Session s(cfg(), "cpu");
  s.set_image(synthetic(224, 224), {{{50, 40, 150, 120}, 1}}, {"a", "b"});
  const size_t A = s.run().levels[0].anchors_per_location;
  auto c = s.config();
  c.input.size = 256;  // feature maps 32², 16², 8²
  s.set_config(c);
  const auto& t = s.run();
  ASSERT_EQ(t.levels.size(), 3u);
  EXPECT_EQ(t.levels[0].height, 32);
  EXPECT_EQ(t.anchors.size(), (32u * 32 + 16 * 16 + 8 * 8) * A);
  EXPECT_EQ(t.objectness.size(), t.anchors.size());
  EXPECT_EQ(t.anchor_label.size(), t.anchors.size());
  EXPECT_NEAR(t.anchors.back().x2 - t.anchors.back().x1, t.levels[2].sizes.back() / std::sqrt(t.levels[2].ratios.back()),
              1e-3);
  EXPECT_NEAR(t.anchors.back().x1 + t.anchors.back().x2, 2 * (7 + 0.5) * 32, 1e-3);  // last cell of p5 at 256 px
}

TEST(Session, SamplingIsSeededAndRerollable) {
  Session s(cfg(), "cpu");
  s.set_image(synthetic(224, 224), {{{50, 40, 150, 120}, 1}}, {"a", "b"});
  s.set_sample_seed(1);
  auto a = s.run().sampled_bg;
  s.set_sample_seed(2);
  auto b = s.run().sampled_bg;
  s.set_sample_seed(1);
  auto c = s.run().sampled_bg;
  EXPECT_EQ(a, c);
  EXPECT_NE(a, b);
}

TEST(Session, BadCheckpointKeepsTheCurrentModel) {
  // A loaded checkpoint must survive a failed load: same label, same outputs
  // (a model silently reset to random weights would fail every check here).
  Session s(cfg(), "cpu");
  const std::string good = rcnn::resource_dir() + "/models/fashion_default.pt";
  s.load_checkpoint(good);
  s.set_image(synthetic(224, 224), {{{50, 40, 150, 120}, 1}}, {"a", "b"});
  const auto before = s.run().objectness;
  const std::string corrupt = (std::filesystem::temp_directory_path() / "rcnn_corrupt_model.pt").string();
  std::ofstream(corrupt) << "not a checkpoint";
  for (const std::string& bad_file : {std::string("/nonexistent/model.pt"), corrupt}) {
    EXPECT_THROW(s.load_checkpoint(bad_file), std::exception);
    EXPECT_FALSE(s.random_weights());
    EXPECT_EQ(s.model_label(), good);
    s.set_sample_seed(1);  // force a re-run
    EXPECT_EQ(s.run().objectness, before);
  }
  s.reset_random_weights(0);
  EXPECT_TRUE(s.random_weights());
  auto bad = cfg();
  bad.rpn.iou_lo = 0.9;
  EXPECT_THROW(s.set_config(bad), ConfigError);
  EXPECT_DOUBLE_EQ(s.config().rpn.iou_lo, 0.3);
}
