// The studio's Session on a torchvision checkpoint: the same file and image as
// the parity oracle (make_parity.py's single-image run, a 400x200 image), and
// the trace every panel reads must say what torchvision computed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <set>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../api/feature_map_rebuild.h"
#include "api/analyze_job.h"
#include "api/coverage_job.h"
#include "api/eval_job.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "config/torchvision_options.h"
#include "modeling/torchvision/tv_anchors.h"
#include "modeling/torchvision/tv_training.h"
#include "modeling/torchvision/tv_transform.h"
#include "serialize/state_dict.h"
#include "tv_fixture.h"

using namespace rcnn;
using namespace rcnn::api;

using namespace tv_fixture;

TEST(TvSession, TraceOfATorchvisionCheckpointIsTorchvisionsOwn) {
  ASSERT_FALSE(dir().empty()) << "RCNN_TV_PARITY_DIR not set (ctest sets it after running make_parity.py)";
  const auto fx = load_fixture();
  ASSERT_EQ(fx.image.height, 400);
  ASSERT_EQ(fx.image.width, 200);
  Session s(oracle_config());
  s.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  EXPECT_FALSE(s.random_weights());
  EXPECT_EQ(s.config().name, "torchvision_resnet50_fpn");
  EXPECT_EQ(s.config().num_classes, 6);  // 7 with background
  s.set_image(fx.image, {}, {});
  const auto& t = s.run();
  ASSERT_TRUE(t.torchvision);
  // Transform: scale = min(320 / 200, 480 / 400) = 1.2; interpolate floors
  // side x scale in its float arithmetic to 239 x 479 (the parity test checks
  // the batch bit for bit), padded to 256 x 480. Boxes map per axis.
  EXPECT_EQ(t.input_width, 256);
  EXPECT_EQ(t.input_height, 480);
  EXPECT_FLOAT_EQ(t.scale_x, 239.f / 200.f);
  EXPECT_FLOAT_EQ(t.scale_y, 479.f / 400.f);
  EXPECT_EQ(t.input_rgb.size(), size_t(256 * 480 * 3));
  // Five levels; 'pool' is P5 (15 x 8) max-pooled with stride 2 -> 8 x 4, and
  // torchvision's stride is padded size // feature size per axis: 480 // 8 = 60, 256 // 4 = 64.
  ASSERT_EQ(t.levels.size(), 5u);
  const int strides[] = {4, 8, 16, 32};
  for (int l = 0; l < 4; ++l) EXPECT_EQ(t.levels[size_t(l)].stride, strides[l]) << l;
  EXPECT_EQ(t.levels[4].height, 8);
  EXPECT_EQ(t.levels[4].width, 4);
  EXPECT_EQ(t.levels[4].stride, 64);
  EXPECT_EQ(t.levels[4].sy(), 60);
  // Anchors: the oracle's anchors of the single image (its own padding).
  EXPECT_EQ(int64_t(t.anchors.size()), (120 * 64 + 60 * 32 + 30 * 16 + 15 * 8 + 8 * 4) * 3);
  // torchvision's anchor at the 'pool' cell (i = 1, j = 2), ratio 0.5 (shape 0), size 512:
  // w = 512 / sqrt(0.5) = 724.08, h = 362.04, base round(-w/2, -h/2, w/2, h/2) = (-362, -181, 362, 181),
  // shifted by (2 * 64, 1 * 60).
  const auto& L = t.levels[4];
  const auto& a = t.anchors[size_t(L.offset + (1 * L.width + 2) * 3 + 0)];
  EXPECT_FLOAT_EQ(a.x1, -362 + 128);
  EXPECT_FLOAT_EQ(a.y1, -181 + 60);
  EXPECT_FLOAT_EQ(a.x2, 362 + 128);
  EXPECT_FLOAT_EQ(a.y2, 181 + 60);
  // Detections: torchvision's, in original image coordinates.
  const auto boxes = fx.get("single_boxes"), scores = fx.get("single_scores"), labels = fx.get("single_labels");
  ASSERT_TRUE(boxes.defined());
  ASSERT_EQ(int64_t(t.detections.size()), boxes.size(0));
  ASSERT_GT(t.detections.size(), 0u);
  for (size_t i = 0; i < t.detections.size(); ++i) {
    const auto& d = t.detections[i];
    const auto b = boxes[int64_t(i)];
    EXPECT_NEAR(d.box_original.x1, b[0].item<float>(), 1e-3) << i;
    EXPECT_NEAR(d.box_original.y1, b[1].item<float>(), 1e-3) << i;
    EXPECT_NEAR(d.box_original.x2, b[2].item<float>(), 1e-3) << i;
    EXPECT_NEAR(d.box_original.y2, b[3].item<float>(), 1e-3) << i;
    EXPECT_NEAR(d.score, scores[int64_t(i)].item<float>(), 1e-5) << i;
    EXPECT_EQ(d.label, labels[int64_t(i)].item<int64_t>() - 1) << i;
    // Its RoI's class-specific box is the detection (before the map back).
    ASSERT_GE(d.proposal, 0);
    const size_t C = size_t(t.num_classes());
    const float* cb = &t.roi_class_boxes[(size_t(d.proposal) * C + size_t(d.label)) * 4];
    EXPECT_FLOAT_EQ(cb[0], d.box.x1) << i;
    EXPECT_FLOAT_EQ(cb[3], d.box.y2) << i;
  }
  // Proposals: every candidate's fate follows from the facts the trace holds.
  int kept = 0;
  for (size_t p = 0; p < t.proposals.size(); ++p) {
    const auto& pr = t.proposals[p];
    if (pr.state == ProposalState::Kept) {
      ++kept;
      EXPECT_EQ(t.kept[size_t(pr.kept_index)], int(p));
    }
    if (pr.state != ProposalState::Suppressed) continue;
    ASSERT_GE(pr.suppressed_by, 0) << p;
    const auto& by = t.proposals[size_t(pr.suppressed_by)];
    EXPECT_TRUE(by.state == ProposalState::Kept || by.state == ProposalState::CutByPostTopk) << p;
    EXPECT_EQ(by.level, pr.level);
    EXPECT_GE(by.objectness, pr.objectness);
    EXPECT_GT(box_iou(by.box, pr.box), 0.7f) << p;
  }
  EXPECT_EQ(kept, int(t.kept.size()));
  // The RoIs are the proposals in torchvision's order (descending objectness).
  for (size_t r = 1; r < t.kept.size(); ++r)
    EXPECT_GE(t.proposals[size_t(t.kept[r - 1])].objectness, t.proposals[size_t(t.kept[r])].objectness);
}

TEST(TvSession, ADownstreamChangeReusesTheBackboneAndFiltersExactly) {
  ASSERT_FALSE(dir().empty());
  const auto fx = load_fixture();
  Session s(oracle_config());
  s.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  s.set_train_view(false);  // the caching of the inference stages (the training step has its own test)
  s.set_image(fx.image, {}, {});
  const auto before = s.run().detections;
  ASSERT_EQ(s.backbone_runs(), 1);
  // Raise the score threshold to the median score: only the predictions re-run,
  // and greedy per-class NMS in score order means the survivors are exactly
  // the earlier detections above the new threshold.
  ASSERT_GT(before.size(), 2u);
  const float thr = before[before.size() / 2].score;
  auto c = s.config();
  c.torchvision.box_score_thresh = thr;
  s.set_config(c);
  const auto& t = s.run();
  EXPECT_EQ(t.recomputed, std::vector<std::string>{"predictions"});
  EXPECT_EQ(s.backbone_runs(), 1);
  std::vector<Detection> expect;
  for (const auto& d : before)
    if (d.score > thr) expect.push_back(d);
  ASSERT_EQ(t.detections.size(), expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    EXPECT_EQ(t.detections[i].score, expect[i].score);
    EXPECT_EQ(t.detections[i].box.x1, expect[i].box.x1);
  }
  // An RPN option re-runs the proposals and everything after them, not the backbone.
  c.torchvision.rpn_nms_thresh = 0.5;
  s.set_config(c);
  const auto& t2 = s.run();
  EXPECT_EQ(t2.recomputed, (std::vector<std::string>{"proposals", "roi_align+head", "predictions"}));
  EXPECT_EQ(s.backbone_runs(), 1);
  for (const auto& p : t2.proposals)
    if (p.state == ProposalState::Suppressed) EXPECT_GT(box_iou(p.box, t2.proposals[size_t(p.suppressed_by)].box), 0.5f);
  // The RoIs that were there before came from the head's cache: the result
  // must be a fresh session's with the same options, to the parity test's
  // tolerances (a row of the head's matrix product is the same up to float
  // rounding whatever the other rows), and its RoIAlign rows bit-equal.
  Session fresh(c);
  fresh.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  fresh.set_image(fx.image, {}, {});
  const auto& t3 = fresh.run();
  // Detections pair one to one by class and IoU >= 0.99 (scores within 1e-5): the cached rows' last bits can
  // differ from a full product's (OpenBLAS rounds a row differently with the row count), so an exact count
  // would hang on no score sitting at the threshold. Only a detection that close to the threshold may be
  // unpaired.
  std::vector<char> paired(t2.detections.size(), 0);
  for (size_t i = 0; i < t3.detections.size(); ++i) {
    const auto& a = t3.detections[i];
    int j = -1;
    for (size_t k = 0; k < t2.detections.size() && j < 0; ++k)
      if (!paired[k] && t2.detections[k].label == a.label && box_iou(t2.detections[k].box, a.box) >= 0.99f) j = int(k);
    if (j < 0) {
      EXPECT_NEAR(a.score, c.torchvision.box_score_thresh, 1e-4) << "fresh detection " << i << " unpaired";
      continue;
    }
    paired[size_t(j)] = 1;
    EXPECT_NEAR(a.score, t2.detections[size_t(j)].score, 1e-5) << i;
    EXPECT_NEAR(a.box.x1, t2.detections[size_t(j)].box.x1, 1e-3) << i;
    EXPECT_NEAR(a.box.y2, t2.detections[size_t(j)].box.y2, 1e-3) << i;
  }
  for (size_t k = 0; k < t2.detections.size(); ++k)
    if (!paired[k]) EXPECT_NEAR(t2.detections[k].score, c.torchvision.box_score_thresh, 1e-4) << "cached detection " << k;
  ASSERT_EQ(t3.class_probs.size(), t2.class_probs.size());
  for (size_t i = 0; i < t3.class_probs.size(); ++i) EXPECT_NEAR(t3.class_probs[i], t2.class_probs[i], 1e-5) << i;
  EXPECT_EQ(t3.roi_features, t2.roi_features);
}

TEST(TvSession, AGtEqualToADetectionIsDetectedAndABadFileKeepsTheModel) {
  ASSERT_FALSE(dir().empty());
  const auto fx = load_fixture();
  Session s(oracle_config());
  s.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  s.set_image(fx.image, {}, {});
  const auto d0 = s.run().detections.at(0);
  // A GT exactly where the top detection is, of its class (labels are the model's: no dataset names).
  s.set_image(fx.image, {GtObject{d0.box_original, d0.label, false, false}}, {});
  const auto& t = s.run();
  ASSERT_EQ(t.gt.size(), 1u);
  EXPECT_EQ(t.gt[0].funnel, Funnel::Detected) << t.gt[0].funnel_reason;
  EXPECT_EQ(t.verdicts.at(0).outcome, DetOutcome::TruePositive);
  {
    // A model without names of its own takes a dataset's with as many classes,
    // index for index (as `rcnn train` numbers them); with another count, a GT
    // whose class the model does not have is left out, and the Image stage says so.
    const std::vector<std::string> names{"a", "b", "c", "d", "e", "f"};
    s.set_image(fx.image, {GtObject{d0.box_original, 2, false, false}}, names);
    const auto& tn = s.run();
    EXPECT_EQ(tn.class_names, names);
    ASSERT_EQ(tn.gt.size(), 1u);
    EXPECT_EQ(tn.gt[0].label, 2);
    Session other(oracle_config());
    other.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
    other.set_image(fx.image, {GtObject{d0.box_original, 0, false, false}}, {"zebra", "yak"});
    const auto& to = other.run();
    EXPECT_TRUE(to.gt.empty());
    EXPECT_NE(to.input_note.find("1 GT box(es) of classes the model does not have left out"), std::string::npos)
        << to.input_note;
  }
  // A file that holds no state dict: a clear error naming it, and the model stays.
  const std::string label = s.model_label();
  bool threw = false;
  try {
    s.load_checkpoint(std::string(RCNN_SERIALIZE_FIXTURES) + "/list.pth");  // torch.save of a list
  } catch (const std::exception& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find("list.pth"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(threw);
  EXPECT_EQ(s.model_label(), label);
  EXPECT_EQ(s.run().detections.size(), t.detections.size());
}

// The feature-map view on a torchvision model (aligned = False, the pooler's
// inferred scales): sample points read through the kernel's taps from the
// level's channel image average to the pooled features of MultiScaleRoIAlign.
TEST(TvSession, FeatureMapSamplePointsReproduceMultiScaleRoIAlign) {
  ASSERT_FALSE(dir().empty());
  const auto fx = load_fixture();
  Session s(oracle_config());
  s.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  s.set_image(fx.image, {}, {});
  s.set_feature_channel(17);
  const auto& t = s.run();
  ASSERT_EQ(t.feature_maps.size(), t.levels.size());
  const int S = t.roi_size;
  ASSERT_EQ(t.feature_channels, 256);
  int checked = 0;
  for (int r = 0; r < int(t.kept.size()) && r < 20; ++r) {
    EXPECT_FLOAT_EQ(t.feature_maps[size_t(t.roi_level[size_t(r)])].offset, 0.f);
    const auto bins = rebuild_pooled_bins(t, r);
    for (int ph = 0; ph < S; ++ph)
      for (int pw = 0; pw < S; ++pw, ++checked) {
        const float pooled = pooled_bin(t, r, ph, pw);
        EXPECT_NEAR(bins[size_t(ph * S + pw)], pooled, 1e-4 + 1e-4 * std::abs(pooled));
      }
  }
  EXPECT_GT(checked, 500);
}

// FrozenBatchNorm2d's eps is folded into the weights when they load: changing it later (the Parameters panel)
// must give what loading under it gives. It did not: the old eps stayed in the folded convolutions (the
// detections moved by ~0.03 px, enough to lose thin boxes' matches).
TEST(TvSession, ChangingFrozenBatchNormEpsReloadsTheWeightsUnderIt) {
  ASSERT_FALSE(dir().empty());
  const auto fx = load_fixture();
  Session a(oracle_config());
  a.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  a.set_image(fx.image, {}, {});
  const auto want = a.run().detections;
  auto other = oracle_config();
  other.torchvision.frozen_bn_eps = 0.0;  // torchvision's own default
  Session b(other);
  b.load_checkpoint(dir() + "/torchvision_resnet50_fpn.pth");
  b.set_image(fx.image, {}, {});
  const auto before = b.run().detections;
  auto c = b.config();  // the loaded model's, as the Parameters panel edits it
  c.torchvision.frozen_bn_eps = 1e-5;
  b.set_config(c);
  EXPECT_FALSE(b.random_weights());
  const auto got = b.run().detections;
  ASSERT_EQ(got.size(), want.size());
  bool moved = before.size() != want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].box_original.x1, want[i].box_original.x1) << i;
    EXPECT_EQ(got[i].box_original.y2, want[i].box_original.y2) << i;
    EXPECT_EQ(got[i].score, want[i].score) << i;
    if (!moved && before[i].box_original.x1 != want[i].box_original.x1) moved = true;
  }
  EXPECT_TRUE(moved) << "the eps must matter for this check to mean anything";
}

// The RoI sampling and Losses stages on a torchvision model: the Sampling
// stage's draw is the step's RPN draw, the view's losses follow from its
// per-sample terms, and torchvision's own step (its transform and backbone
// run again, through training_losses, the parity test's oracle path)
// replaying the view's anchors and RoIs gives the same four losses.
TEST(TvSession, RoiSamplingAndLossesAreTorchvisionsStepOnTheStagesSamples) {
  ASSERT_FALSE(dir().empty());
  const auto fx = load_fixture();
  const std::string pth = dir() + "/torchvision_resnet50_fpn.pth";
  Session s(oracle_config());
  s.load_checkpoint(pth);
  const auto tb = fx.get("target_boxes1"), tl = fx.get("target_labels1");
  ASSERT_TRUE(tb.defined());
  std::vector<GtObject> gt;
  for (int64_t i = 0; i < tb.size(0); ++i)
    gt.push_back({Box{tb[i][0].item<float>(), tb[i][1].item<float>(), tb[i][2].item<float>(), tb[i][3].item<float>()},
                  int(tl[i].item<int64_t>()) - 1, false, false});
  s.set_sample_seed(5);
  s.set_image(fx.image, gt, {});
  const auto& t = s.run();
  const auto& v = t.train;
  ASSERT_TRUE(v.valid) << v.note;
  ASSERT_GT(v.rpn_fg, 0);
  ASSERT_GT(v.roi_fg, 0);
  std::vector<int64_t> fg, bg, roi_fg, roi_bg;
  double obj = 0, rbox = 0, cls = 0, box = 0;
  for (const auto& x : v.rpn) {
    (x.fg ? fg : bg).push_back(x.index);
    obj += x.cls;
    rbox += x.box;
  }
  for (const auto& x : v.roi) {
    (x.fg ? roi_fg : roi_bg).push_back(x.index);
    cls += x.cls;
    box += x.box;
  }
  EXPECT_EQ(std::vector<int64_t>(t.sampled_fg.begin(), t.sampled_fg.end()), fg);
  EXPECT_EQ(std::vector<int64_t>(t.sampled_bg.begin(), t.sampled_bg.end()), bg);
  EXPECT_EQ(v.rpn_count, int(fg.size() + bg.size()));
  EXPECT_EQ(v.roi_count, int(roi_fg.size() + roi_bg.size()));
  EXPECT_NEAR(v.rpn_obj, obj / v.rpn_count, 1e-6 * std::max(1.0, v.rpn_obj));
  EXPECT_NEAR(v.rpn_box, rbox / v.rpn_count, 1e-6 * std::max(1.0, v.rpn_box));
  EXPECT_NEAR(v.roi_cls, cls / v.roi_count, 1e-6 * std::max(1.0, v.roi_cls));
  EXPECT_NEAR(v.roi_box, box / v.roi_count, 1e-6 * std::max(1.0, v.roi_box));
  // The Losses stage's formulas: every positive's RPN box term is the smooth L1 (beta 1/9) of its deltas
  // (torchvision's RPN; the seed's is L1), its RoI box term the same.
  ASSERT_TRUE(v.rpn_smooth_l1);
  auto smooth = [](const float* p, const float* q) {
    double s = 0;
    for (int c = 0; c < 4; ++c) {
      const double d = std::abs(double(p[c]) - double(q[c]));
      s += d < 1.0 / 9 ? 0.5 * d * d * 9 : d - 0.5 / 9;
    }
    return s;
  };
  for (const auto& x : v.rpn)
    if (x.fg) EXPECT_NEAR(x.box, smooth(x.pred, x.target), 1e-5) << "anchor " << x.index;
  for (const auto& x : v.roi)
    if (x.fg) EXPECT_NEAR(x.box, smooth(x.pred, x.target), 1e-5) << "RoI " << x.index;
  // The GT boxes joined the candidate RoIs (torchvision's add_gt_proposals).
  int from_gt = 0;
  for (const auto& r : v.rois) from_gt += r.from_gt;
  EXPECT_EQ(from_gt, int(tb.size(0)));
  // torchvision's step replaying these samples.
  namespace mt = modeling::tv;
  mt::TvFasterRCNN m(torchvision_options(s.config()));
  m->load(serialize::read_state_dict(pth), pth);
  mt::TvSamples replay;
  replay.rpn_pos = {torch::tensor(fg, torch::kLong)};
  replay.rpn_neg = {torch::tensor(bg, torch::kLong)};
  replay.roi_pos = {torch::tensor(roi_fg, torch::kLong)};
  replay.roi_neg = {torch::tensor(roi_bg, torch::kLong)};
  torch::NoGradGuard ng;
  const auto L = mt::training_losses(*m, {mt::image_from_rgb8(fx.get("image1"))}, {mt::TvTarget{tb, tl}}, &replay);
  const double want[] = {L.objectness.item<double>(), L.rpn_box_reg.item<double>(), L.classifier.item<double>(),
                         L.box_reg.item<double>()};
  const double got[] = {v.rpn_obj, v.rpn_box, v.roi_cls, v.roi_box};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(got[k], want[k], 1e-5 * std::max(1.0, std::abs(want[k]))) << k;
  // Another sample seed draws other anchors; the stage re-runs without the backbone.
  const auto runs = s.backbone_runs();
  const auto bg_before = t.sampled_bg;  // t is the session's trace: the next run overwrites it
  s.set_sample_seed(6);
  const auto& t2 = s.run();
  EXPECT_EQ(s.backbone_runs(), runs);
  EXPECT_NE(t2.sampled_bg, bg_before);
}

