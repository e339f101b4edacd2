// Explain a box on a torchvision model (pipeline/tv_explain.h): the hook's
// value is the inference path's own logit of that RoI, its gradients equal
// central differences (double, random weights from a seed), and the Session
// explains a torchvision detection with every method, on FPN and backbone levels.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "api/explain.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "modeling/torchvision/tv_faster_rcnn.h"
#include "modeling/torchvision/tv_rpn.h"
#include "pipeline/tv_explain.h"

using namespace rcnn;
namespace mt = modeling::tv;

namespace {

DetectorConfig small_tv() {
  auto c = load_preset("torchvision_mobilenet_v3_large_320_fpn");
  c.num_classes = 3;
  c.class_names = {"a", "b", "c"};
  c.torchvision.min_size = 160;
  c.torchvision.max_size = 200;
  return c;
}

}  // namespace

TEST(TvExplain, GradientsAreTheInferenceLogitsAndEqualCentralDifferences) {
  torch::manual_seed(5);
  const auto cfg = small_tv();
  mt::TvFasterRCNN m(torchvision_options(cfg));
  m->to(torch::kDouble);
  const auto image = torch::rand({3, 150, 190}, torch::kDouble);
  const auto r = m->infer({image});  // the exact inference path (no autograd)
  ASSERT_GT(r.proposals[0].boxes.size(0), 3);
  using Kind = pipeline::GradientTarget::Kind;
  const auto pb = r.proposals[0].boxes[2];
  pipeline::GradientTarget cls, delta, obj;
  cls.box = delta.box = {float(pb[0].item<double>()), float(pb[1].item<double>()), float(pb[2].item<double>()),
                         float(pb[3].item<double>())};
  cls.column = delta.column = 2;
  delta.kind = Kind::RoiDelta;
  delta.delta = 1;  // dy
  obj.kind = Kind::Objectness;
  obj.anchor = 1001;
  // The same scalar from a whole input, recomputed through the model's stage functions.
  auto scalar = [&](const pipeline::GradientTarget& q, const torch::Tensor& in) {
    mt::TvInference t;
    t.batch = r.batch;
    t.batch.tensors = in;
    m->run_backbone(t);
    if (q.kind == Kind::Objectness) return t.objectness.flatten()[q.anchor].item<double>();
    t.proposals = {
        mt::Proposals{torch::tensor({q.box.x1, q.box.y1, q.box.x2, q.box.y2}, torch::kDouble).view({1, 4}), {}, {}}};
    m->run_box_head(t);
    return q.kind == Kind::RoiClass ? t.class_logits[0][q.column].item<double>()
                                    : t.box_regression[0][4 * q.column + q.delta].item<double>();
  };
  for (const auto* q : {&cls, &delta, &obj}) {
    const std::string what = q == &cls ? "class logit" : q == &delta ? "box delta dy" : "objectness";
    const auto g = pipeline::tv_gradients(*m, r, *q);
    // The hook's value is what the inference computed for that RoI / anchor (float rounding of other kernels).
    const double inferred = q == &obj   ? r.objectness.flatten()[obj.anchor].item<double>()
                            : q == &cls ? r.class_logits[2][2].item<double>()
                                        : r.box_regression[2][4 * 2 + 1].item<double>();
    EXPECT_NEAR(g.value, inferred, 1e-9) << what;
    ASSERT_EQ(g.input_grad.sizes(), r.batch.tensors.sizes());
    ASSERT_GT(g.input_grad.abs().max().item<double>(), 0) << what;
    torch::NoGradGuard ng;
    const auto top = std::get<1>(g.input_grad.abs().flatten().topk(4));
    for (int k = 0; k < 4; ++k) {
      const int64_t i = top[k].item<int64_t>();
      const double eps = 1e-5;
      auto xp = r.batch.tensors.clone(), xm = r.batch.tensors.clone();
      xp.view(-1)[i] += eps;
      xm.view(-1)[i] -= eps;
      const double fd = (scalar(*q, xp) - scalar(*q, xm)) / (2 * eps);
      EXPECT_NEAR(g.input_grad.view(-1)[i].item<double>(), fd, 1e-6 + 1e-3 * std::abs(fd)) << what << ", " << i;
    }
    auto shallow = *q;  // the gradient stopped at the FPN levels: the same there
    shallow.from = pipeline::GradientTarget::From::Fpn;
    const auto h = pipeline::tv_gradients(*m, r, shallow);
    EXPECT_NEAR(h.value, g.value, 1e-12) << what;
    for (size_t l = 0; l < g.grads.size(); ++l) EXPECT_TRUE(torch::allclose(h.grads[l], g.grads[l], 1e-7, 1e-12));
    // MobileNetV3's body gives 2 outputs (strides 16 and 32) under the FPN's 2 levels and 'pool'.
    EXPECT_EQ(g.feats.size(), 3u);
    EXPECT_EQ(g.body.size(), 2u);
    EXPECT_EQ(g.body_steps, (std::vector<float>{g.steps[0], g.steps[1]}));
  }
}

TEST(TvExplain, TheSessionExplainsATorchvisionDetectionWithEveryMethod) {
  auto cfg = small_tv();
  cfg.roi.score_thresh = 0;  // random weights: every class near 1/4
  api::Session s(cfg, "cpu", 7);
  api::Image im;
  im.width = 190;
  im.height = 150;
  torch::manual_seed(1);
  const auto px = torch::randint(0, 256, {150, 190, 3}, torch::kByte);
  im.rgb.assign(px.data_ptr<uint8_t>(), px.data_ptr<uint8_t>() + px.numel());
  s.set_image(im, {}, cfg.class_names);
  const auto& t = s.run();
  ASSERT_FALSE(t.detections.empty());
  for (const char* method : {"gradcam", "inputgrad", "drise"}) {
    api::ExplainRequest q;
    q.method = method;
    q.masks = 16;
    const auto r = s.explain(q);
    EXPECT_EQ(r.width, 190);
    ASSERT_EQ(r.map.size(), size_t(190 * 150)) << method;
    EXPECT_EQ(r.label, t.detections[0].label);
    EXPECT_NEAR(r.score, t.detections[0].score, 1e-5) << method;  // the detection's own score
  }
  api::ExplainRequest c;
  c.level = 0;
  c.backbone = true;
  EXPECT_EQ(s.explain(c).level_name[0], 'c');
  c.level = 2;  // 'pool': made by the FPN, no backbone output under it
  EXPECT_THROW(s.explain(c), std::invalid_argument);
  api::ExplainRequest p;
  p.target = "proposal";
  p.index = 0;
  const auto rp = s.explain(p);
  EXPECT_NEAR(1 / (1 + std::exp(-rp.value)), t.proposals[0].objectness, 1e-5);
}
