// Explain a box (api/explain.h): Grad-CAM by hand, the RoI score's gradient
// against central finite differences, and Session::explain on the bundled
// model (targets, frames, the explained scalar, refusals).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <numeric>

#include "api/dataset.h"
#include "api/explain.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "engine/checkpoint.h"
#include "modeling/faster_rcnn.h"
#include "pipeline/seed_explain.h"

using namespace rcnn;

TEST(Explain, GradCamIsTheMeanGradientWeightedActivationsReLUed) {
  // C = 2, H = 1, W = 2. w0 = mean(1, 3) = 2, w1 = mean(-1, -1) = -1:
  // cam = ReLU(2 * [1, 2] - 1 * [3, -1]) = ReLU([-1, 5]) = [0, 5].
  const auto cam = api::gradcam_map({1, 2, 3, -1}, {1, 3, -1, -1}, 2, 1, 2);
  ASSERT_EQ(cam.size(), 2u);
  EXPECT_FLOAT_EQ(cam[0], 0.f);
  EXPECT_FLOAT_EQ(cam[1], 5.f);
  EXPECT_THROW(api::gradcam_map({1, 2, 3}, {1, 2, 3}, 2, 1, 2), std::invalid_argument);
  // HiResCAM keeps the gradient per cell: ReLU([1 * 1 + 3 * -1, 2 * 3 + -1 * -1]) = ReLU([-2, 7]) = [0, 7].
  const auto hi = api::gradcam_map({1, 2, 3, -1}, {1, 3, -1, -1}, 2, 1, 2, /*elementwise=*/true);
  EXPECT_FLOAT_EQ(hi[0], 0.f);
  EXPECT_FLOAT_EQ(hi[1], 7.f);
}

TEST(Explain, InputGradIsTheAbsoluteChannelSumOfInputTimesGradient) {
  // C = 2 (the RGB sum's channels), H = 1, W = 2. For y = sum(w * x) the gradient is w, so the map is
  // |x0 w0 + x1 w1| per pixel: x = [[1, -2], [3, 1]], w = [[2, 1], [-1, 4]] ->
  // |[1 * 2 + 3 * -1, -2 * 1 + 1 * 4]| = |[-1, 2]| = [1, 2].
  const auto m = api::inputgrad_map({1, -2, 3, 1}, {2, 1, -1, 4}, 2, 1, 2);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_FLOAT_EQ(m[0], 1.f);
  EXPECT_FLOAT_EQ(m[1], 2.f);
  EXPECT_THROW(api::inputgrad_map({1, 2, 3}, {1, 2, 3}, 2, 1, 2), std::invalid_argument);
}

namespace {
// Central differences of f at the 5 elements of x where `grad` is largest: f(x + e) - f(x - e) / 2e.
void expect_central_differences(const std::function<double(const torch::Tensor&)>& f, const torch::Tensor& x,
                                const torch::Tensor& grad, const std::string& what) {
  torch::NoGradGuard ng;
  ASSERT_EQ(x.sizes(), grad.sizes()) << what;
  ASSERT_GT(grad.abs().max().item<double>(), 0) << what << ": the gradient is zero";
  const auto top = std::get<1>(grad.abs().flatten().topk(5));
  for (int k = 0; k < 5; ++k) {
    const int64_t i = top[k].item<int64_t>();
    const double eps = 1e-5;
    auto xp = x.clone(), xm = x.clone();
    xp.view(-1)[i] += eps;
    xm.view(-1)[i] -= eps;
    const double fd = (f(xp) - f(xm)) / (2 * eps);
    EXPECT_NEAR(grad.reshape(-1)[i].item<double>(), fd, 1e-6 + 1e-3 * std::abs(fd)) << what << ", element " << i;
  }
}
}  // namespace

TEST(Explain, EveryTargetsGradientEqualsCentralDifferences) {
  // The seed family's hook (Detector::gradients) on a small model in double, for each kind of target: its
  // gradients with respect to the input, an FPN level and a backbone output each equal central differences
  // of the same scalar computed independently (run_rpn, then RoIAlign and the head on one box; or the RPN's
  // objectness of one anchor).
  torch::manual_seed(3);
  auto cfg = load_preset("fast");
  cfg.num_classes = 3;
  cfg.class_names = {"a", "b", "c"};
  cfg.roi.box_regression = true;
  modeling::FasterRCNN model(cfg);
  model->eval();
  model->to(torch::kDouble);
  const int S = cfg.input.size;
  const auto x = torch::rand({1, 3, S, S}, torch::kDouble);
  auto& body = dynamic_cast<modeling::FastBackboneImpl&>(*model->backbone->body);
  const auto rois = torch::tensor({0.0, 20.0, 30.0, 90.0, 110.0}, torch::kDouble).view({1, 5});
  const auto level = torch::zeros({1}, torch::kLong);
  using Kind = pipeline::GradientTarget::Kind;
  pipeline::GradientTarget cls, delta, obj;
  cls.box = delta.box = {20, 30, 90, 110};
  cls.column = delta.column = 2;
  cls.logit = false;  // the probability
  delta.kind = Kind::RoiDelta;
  delta.delta = 3;  // dh
  obj.kind = Kind::Objectness;
  obj.anchor = 777;
  // Each target's scalar from the FPN levels (second stage) or the whole input.
  auto head = [&](const pipeline::GradientTarget& q, const std::vector<torch::Tensor>& feats) {
    modeling::RPNState s;
    s.feats = feats;
    const auto ss = model->second_stage_on(s, rois, level);
    return q.kind == Kind::RoiClass ? ss.probs[0][2].item<double>() : ss.box_deltas[0][4 * 1 + 3].item<double>();
  };
  auto from_input = [&](const pipeline::GradientTarget& q, const torch::Tensor& in) {
    if (q.kind != Kind::Objectness) return head(q, model->run_rpn(in).feats);
    std::vector<torch::Tensor> o;
    for (const auto& l : model->run_rpn(in).objectness) o.push_back(l[0]);
    return torch::cat(o)[q.anchor].item<double>();
  };
  for (const auto* q : {&cls, &delta, &obj}) {
    const std::string what = q == &cls ? "class probability" : q == &delta ? "box delta dh" : "objectness";
    const auto g = pipeline::seed_gradients(*model, cfg, x, *q);
    EXPECT_NEAR(g.value, from_input(*q, x), 1e-9) << what;
    expect_central_differences([&](const torch::Tensor& in) { return from_input(*q, in); }, x, g.input_grad,
                               what + " / input");
    ASSERT_EQ(g.body.size(), 3u);
    ASSERT_EQ(g.feats.size(), 3u);
    // Stopping the gradient at the backbone's outputs or at the FPN levels changes none of the gradients
    // still taken (the layers below run without autograd: BatchNorm folded, equal to double rounding).
    for (const auto from : {pipeline::GradientTarget::From::Backbone, pipeline::GradientTarget::From::Fpn}) {
      auto shallow = *q;
      shallow.from = from;
      const auto h = pipeline::seed_gradients(*model, cfg, x, shallow);
      EXPECT_NEAR(h.value, g.value, 1e-12 * (1 + std::abs(g.value))) << what;
      EXPECT_FALSE(h.input_grad.defined());
      for (size_t l = 0; l < 3; ++l) EXPECT_TRUE(torch::allclose(h.grads[l], g.grads[l], 1e-7, 1e-12)) << what;
      const bool body = from == pipeline::GradientTarget::From::Backbone;
      ASSERT_EQ(h.body_grads.size(), body ? 3u : 0u);
      for (size_t l = 0; body && l < 3; ++l)
        EXPECT_TRUE(torch::allclose(h.body_grads[l], g.body_grads[l], 1e-7, 1e-12)) << what;
    }
    EXPECT_EQ(g.body_steps, (std::vector<float>{8, 16, 32}));
    if (q->kind == Kind::Objectness) continue;
    // d value / d p3 (what Grad-CAM on p3 weights), and d value / d c4 through the FPN and through c5 (the
    // body's next stage reads c4: Grad-CAM weights the whole derivative).
    expect_central_differences(
        [&](const torch::Tensor& p3) {
          return head(*q, {p3, g.feats[1], g.feats[2]});
        },
        g.feats[0], g.grads[0], what + " / p3");
    expect_central_differences(
        [&](const torch::Tensor& c4) {
          const auto c5 = modeling::run_conv_norm_act(body.s5, c4, body.fold[4]);
          return head(*q, model->backbone->fpn->forward({g.body[0], c4, c5}));
        },
        g.body[1], g.body_grads[1], what + " / c4");
  }
}

namespace {
struct Bundled {
  std::unique_ptr<api::Session> s;
  api::ImageEntry image;
};
Bundled bundled() {
  api::OpenOptions oo;
  oo.split = "val";
  const auto ds = api::open_dataset(api::default_dataset_dir(), oo);
  Bundled b;
  b.s = std::make_unique<api::Session>(load_preset("default"), "cpu");
  b.s->load_checkpoint(std::string(std::getenv("RCNN_RESOURCES") ? std::getenv("RCNN_RESOURCES") : "resources") +
                       "/models/fashion_default.pt");
  b.image = ds.images[0];
  b.s->open_image(b.image.path, b.image.objects, ds.class_names);
  return b;
}
}  // namespace

TEST(Explain, SessionExplainsADetectionAndAGtInTheOriginalPixels) {
  auto b = bundled();
  const auto& t = b.s->run();
  ASSERT_FALSE(t.detections.empty());
  const int C1 = t.num_classes() + 1;
  for (const char* method : {"gradcam", "hirescam", "inputgrad"}) {
    api::ExplainRequest q;
    q.method = method;
    const auto r = b.s->explain(q);
    const auto& d = t.detections[0];
    EXPECT_EQ(r.label, d.label);
    EXPECT_EQ(r.width, t.image_width);
    EXPECT_EQ(r.height, t.image_height);
    ASSERT_EQ(r.map.size(), size_t(r.width) * size_t(r.height));
    // The score is the trace's own probability of that RoI and class (the differentiable path runs other
    // kernels: equal to float rounding); the value differentiated is its logit.
    EXPECT_NEAR(r.score, t.class_probs[size_t(d.proposal) * size_t(C1) + size_t(d.label) + 1], 1e-4);
    EXPECT_FLOAT_EQ(r.box.x1, d.box_original.x1);
    EXPECT_EQ(r.score_space, "logit");
    api::ExplainRequest qp = q;
    qp.score = "prob";
    const auto rp = b.s->explain(qp);
    EXPECT_NEAR(rp.value, rp.score, 1e-6);  // differentiating the probability: the value is the probability
    EXPECT_DOUBLE_EQ(rp.score, r.score);
    float mx = 0;
    for (float v : r.map) mx = std::max(mx, v);
    EXPECT_GE(*std::min_element(r.map.begin(), r.map.end()), 0.f);
    // Input x gradient is non-zero wherever the RoI sees; Grad-CAM may be all zero (ReLU of only negative
    // evidence on that level, as on this image's det:0), so only its sign is pinned.
    if (std::string(method) == "inputgrad") EXPECT_GT(mx, 0.f);
    if (std::string(method) != "inputgrad") EXPECT_EQ(r.level, t.roi_level[size_t(d.proposal)]);
    if (std::string(method) == "hirescam") EXPECT_GT(mx, 0.f);  // the RoI's own evidence, where it pooled
  }
  api::ExplainRequest g;
  g.target = "gt";
  g.index = 0;
  const auto rg = b.s->explain(g);
  EXPECT_EQ(rg.label, t.gt[0].label);
  EXPECT_FLOAT_EQ(rg.box.x1, t.gt[0].box_original.x1);
  api::ExplainRequest bad;
  bad.index = int(t.detections.size());
  try {
    b.s->explain(bad);
    FAIL() << "an out-of-range detection was explained";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(t.detections.size()) + " detections"), std::string::npos);
  }
  bad = {};
  bad.method = "saliency";
  EXPECT_THROW(b.s->explain(bad), std::invalid_argument);
}

TEST(Explain, ProposalsAnchorsDeltasAndBackboneLevels) {
  auto b = bundled();
  const auto& t = b.s->run();
  // proposal:K is its anchor's objectness: the logit whose sigmoid the trace shows, the same as anchor:A's.
  size_t k = 0;
  while (k < t.proposals.size() && t.proposals[k].state != api::ProposalState::Kept) ++k;
  ASSERT_LT(k, t.proposals.size());
  const auto& p = t.proposals[k];
  api::ExplainRequest q;
  q.target = "proposal";
  q.index = int(k);
  const auto rp = b.s->explain(q);
  EXPECT_EQ(rp.class_name, "object");
  EXPECT_NEAR(1 / (1 + std::exp(-rp.value)), p.objectness, 1e-4);
  EXPECT_NEAR(rp.score, p.objectness, 1e-4);
  EXPECT_EQ(rp.level, p.level);  // Grad-CAM on the anchor's own level
  EXPECT_EQ(rp.level_name, t.levels[size_t(p.level)].name);
  q.target = "anchor";
  q.index = p.anchor;
  const auto ra = b.s->explain(q);
  EXPECT_DOUBLE_EQ(ra.value, rp.value);
  EXPECT_EQ(ra.map, rp.map);
  EXPECT_THROW(b.s->explain([&] {
    auto w = q;
    w.index = int(t.anchors.size());
    return w;
  }()),
               std::invalid_argument);
  // roi:K: the kept RoI a detection came from, explained as its most probable class, is that detection's.
  api::ExplainRequest rq;
  rq.target = "roi";
  rq.index = t.detections[0].proposal;
  api::ExplainRequest dq;  // det:0, whose class is its RoI's most probable (a confident detection)
  const auto rroi = b.s->explain(rq), rdet = b.s->explain(dq);
  EXPECT_EQ(rroi.label, rdet.label);
  EXPECT_EQ(rroi.map, rdet.map);
  EXPECT_FLOAT_EQ(rroi.box.x1, rdet.roi.x1);  // the box explained is the RoI itself
  // The backbone's output under p4 (c4), and a box delta of a detection.
  api::ExplainRequest c;
  c.level = 1;
  c.backbone = true;
  const auto rc = b.s->explain(c);
  EXPECT_EQ(rc.level_name, "c4");
  c.backbone = false;
  EXPECT_EQ(b.s->explain(c).level_name, "p4");
  api::ExplainRequest d;
  d.delta = "dw";
  const auto rd = b.s->explain(d);
  EXPECT_EQ(rd.score_space, "delta");
  EXPECT_EQ(rd.delta, "dw");
  d.delta = "dz";
  EXPECT_THROW(b.s->explain(d), std::invalid_argument);
  d.delta = "";
  d.method = "drise";
  d.target = "proposal";
  EXPECT_THROW(b.s->explain(d), std::invalid_argument);  // black box: class targets only
}

TEST(Explain, DeletionRemovesTheMostSalientPixelsFirst) {
  EXPECT_DOUBLE_EQ(api::deletion_auc({1, 0.5, 0}), 0.5);  // (0.75 + 0.25) / 2
  EXPECT_DOUBLE_EQ(api::deletion_auc({1, 1, 1, 1}), 1.0);
  auto b = bundled();
  const auto& t = b.s->run();
  api::ExplainRequest q;  // det:0
  const size_t n = size_t(t.image_width) * size_t(t.image_height);
  // A map that is 1 inside the detection's box: removing a quarter of the pixels, salient first, takes the
  // box (if it is under a quarter of the image) and the object with it; the reverse map keeps it.
  const auto& box = t.detections[0].box_original;
  std::vector<float> in_box(n), outside(n);
  for (int y = 0; y < t.image_height; ++y)
    for (int x = 0; x < t.image_width; ++x) {
      const bool in = x + 0.5f > box.x1 && x + 0.5f < box.x2 && y + 0.5f > box.y1 && y + 0.5f < box.y2;
      in_box[size_t(y) * size_t(t.image_width) + size_t(x)] = in ? 1.f : 0.f;
      outside[size_t(y) * size_t(t.image_width) + size_t(x)] = in ? 0.f : 1.f;
    }
  ASSERT_LT((box.x2 - box.x1) * (box.y2 - box.y1), 0.25f * float(n));
  const auto a = b.s->deletion_curve(q, in_box, 4);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_GT(a[0], 0.95);  // the whole image: the detection itself
  EXPECT_LT(a[1], 0.5);
  const auto o = b.s->deletion_curve(q, outside, 4);
  EXPECT_GT(o[1], 0.8);  // a quarter of the background removed: the object stays
  EXPECT_LT(api::deletion_auc(a), api::deletion_auc(o));
  EXPECT_THROW(b.s->deletion_curve(q, std::vector<float>(3), 4), std::invalid_argument);
}

TEST(Explain, DriseSimilarityIsIouTimesTheCosineOfTheProbabilities) {
  // IoU([0,0,10,10], [5,0,15,10]) = 50 / 150; cos([0, 0.6, 0.8], [0, 0.8, 0.6]) = 0.96.
  EXPECT_NEAR(api::drise_similarity({0, 0, 10, 10}, {0, 0.6f, 0.8f}, {5, 0, 15, 10}, {0, 0.8f, 0.6f}), 0.96 / 3, 1e-6);
  EXPECT_DOUBLE_EQ(api::drise_similarity({0, 0, 10, 10}, {0, 1, 0}, {0, 0, 10, 10}, {0, 0, 1}), 0.0);
  EXPECT_THROW(api::drise_similarity({0, 0, 1, 1}, {1, 0}, {0, 0, 1, 1}, {1, 0, 0}), std::invalid_argument);
}

TEST(Explain, DriseIsTheSameForASeedAndCancels) {
  auto b = bundled();
  api::ExplainRequest q;
  q.method = "drise";
  q.masks = 32;
  q.batch = 8;
  int calls = 0;
  q.progress = [&](int done, int total) {
    EXPECT_EQ(total, 32);
    EXPECT_EQ(done, 8 * ++calls);
    return true;
  };
  const auto a = b.s->explain(q);
  EXPECT_EQ(calls, 4);
  q.progress = {};
  const auto again = b.s->explain(q);
  ASSERT_EQ(a.map.size(), size_t(a.width) * size_t(a.height));
  EXPECT_EQ(a.map, again.map);
  float mx = 0;
  for (float v : a.map) mx = std::max(mx, v);
  EXPECT_GT(mx, 0.f);  // some masked image still finds the object
  q.seed = 1;
  EXPECT_NE(b.s->explain(q).map, a.map);
  q.progress = [](int, int) { return false; };
  EXPECT_THROW(b.s->explain(q), std::runtime_error);
}

namespace {
// Spearman's rank correlation: Pearson's of the ranks, ties at their mean rank.
double spearman(const std::vector<float>& a, const std::vector<float>& b) {
  auto ranks = [](const std::vector<float>& v) {
    std::vector<size_t> o(v.size());
    std::iota(o.begin(), o.end(), size_t(0));
    std::sort(o.begin(), o.end(), [&](size_t i, size_t j) { return v[i] < v[j]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < o.size();) {
      size_t j = i;
      while (j + 1 < o.size() && v[o[j + 1]] == v[o[i]]) ++j;
      for (size_t k = i; k <= j; ++k) r[o[k]] = 0.5 * double(i + j);
      i = j + 1;
    }
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double n = double(a.size()), m = (n - 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i)
    sab += (ra[i] - m) * (rb[i] - m), saa += (ra[i] - m) * (ra[i] - m), sbb += (rb[i] - m) * (rb[i] - m);
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}
}  // namespace

TEST(Explain, SpearmanRanksTiesAtTheirMean) {
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // ranks (0.5, 0.5, 2) and (0, 1, 2): centred (-0.5, -0.5, 1), (-1, 0, 1): 1.5 / sqrt(1.5 * 2).
  EXPECT_NEAR(spearman({0, 0, 5}, {1, 2, 3}), 1.5 / std::sqrt(3.0), 1e-12);
}

namespace {
// The checkpoint with its RoI head (and the RPN head: rpn_too) re-initialised as a fresh model's (seed 11),
// written to a temp file.
std::string with_fresh_heads(const std::string& ckpt, bool rpn_too) {
  DetectorConfig cfg;
  auto trained = engine::load_model(ckpt, torch::kCPU, &cfg);
  torch::manual_seed(11);
  modeling::FasterRCNN fresh(cfg);
  {
    torch::NoGradGuard ng;
    auto copy = [](torch::nn::Module& from, torch::nn::Module& to) {
      auto dst = to.named_parameters();
      for (const auto& p : from.named_parameters()) dst[p.key()].copy_(p.value());
    };
    copy(*fresh->roi_head, *trained->roi_head);
    if (rpn_too) copy(*fresh->rpn_head, *trained->rpn_head);
  }
  const auto out = (std::filesystem::temp_directory_path() /
                    (std::string("rcnn_explain_fresh_") + (rpn_too ? "heads" : "roi_head") + ".pt"))
                       .string();
  engine::save_checkpoint(out, trained, nullptr, engine::read_checkpoint_meta(ckpt), nullptr);
  return out;
}
}  // namespace

TEST(Explain, MapsFailTheModelRandomisationSanityCheck) {
  // Adebayo et al. (2018): a map that explains the model changes when the model's weights do. The bundled
  // model's RoI head is re-initialised (a fresh model's, seed 11); on the embedded val split each image's
  // gt:0 is explained by both models (the same RoI: the RPN is untouched) and the maps' rank correlation
  // must stay below 0.5 on average:
  // - Grad-CAM and D-RISE (centred, 200 masks, the same masks for both) over the whole image. Images where
  //   either map is constant (an all-zero Grad-CAM) have no ranks and are left out; 2 in 3 must count;
  // - HiResCAM and input x gradient inside the RoI: outside it both maps are exactly zero (RoIAlign reads
  //   only the RoI; a support the architecture fixes, not the weights), and that shared zero alone makes the
  //   whole-image correlation 0.77 and 0.84 on this model (docs/explain.md).
  // (The paper's uncentred D-RISE fails: its sum of the same masks is shared by both maps, 0.77.)
  const std::string ckpt = std::string(std::getenv("RCNN_RESOURCES") ? std::getenv("RCNN_RESOURCES") : "resources") +
                           "/models/fashion_default.pt";
  const auto roi_fresh = with_fresh_heads(ckpt, false);
  api::OpenOptions oo;
  oo.split = "val";
  const auto ds = api::open_dataset(api::default_dataset_dir(), oo);
  api::Session a(load_preset("default"), "cpu"), b(load_preset("default"), "cpu");
  a.load_checkpoint(ckpt);
  b.load_checkpoint(roi_fresh);
  auto constant = [](const std::vector<float>& m) {
    return std::all_of(m.begin(), m.end(), [&](float v) { return v == m[0]; });
  };
  for (const char* method : {"gradcam", "hirescam", "inputgrad", "drise"}) {
    const bool in_roi = std::string(method) == "inputgrad" || std::string(method) == "hirescam",
               drise = std::string(method) == "drise";
    const int images = drise ? 4 : 12;  // D-RISE: 4 images of 200 masks
    double sum = 0;
    int n = 0, counted = 0;
    for (size_t i = 0; i < ds.images.size() && n < images; ++i) {
      const auto& im = ds.images[i];
      if (im.objects.empty()) continue;
      a.open_image(im.path, im.objects, ds.class_names);
      b.open_image(im.path, im.objects, ds.class_names);
      api::ExplainRequest q;
      q.target = "gt";
      q.method = method;
      q.masks = 200;
      const auto ma = a.explain(q), mb = b.explain(q);
      ++n;
      EXPECT_EQ(ma.roi.x1, mb.roi.x1);  // the same RoI
      std::vector<float> va, vb;
      for (int y = 0; y < ma.height; ++y)
        for (int x = 0; x < ma.width; ++x) {
          const bool in = x + 0.5f > ma.roi.x1 && x + 0.5f < ma.roi.x2 && y + 0.5f > ma.roi.y1 && y + 0.5f < ma.roi.y2;
          if (!in_roi || in)
            va.push_back(ma.map[size_t(y) * size_t(ma.width) + size_t(x)]),
                vb.push_back(mb.map[size_t(y) * size_t(ma.width) + size_t(x)]);
        }
      if (constant(va) || constant(vb)) continue;
      sum += spearman(va, vb);
      ++counted;
    }
    ASSERT_EQ(n, images);
    ASSERT_GE(counted, images * 2 / 3) << method << ": too many constant maps";
    EXPECT_LT(sum / counted, 0.5) << method << ": the maps barely depend on the head's weights";
    std::printf("%s: mean rank correlation, trained vs the RoI head re-initialised%s: %.3f over %d images\n", method,
                in_roi ? " (inside the RoI)" : "", sum / counted, counted);
  }
  std::filesystem::remove(roi_fresh);
}
