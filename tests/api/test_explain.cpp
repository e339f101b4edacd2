// Explain a box (api/explain.h): Grad-CAM by hand, the RoI score's gradient
// against central finite differences, and Session::explain on the bundled
// model (targets, frames, the explained scalar, refusals).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "api/dataset.h"
#include "api/explain.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "modeling/faster_rcnn.h"

using namespace rcnn;

TEST(Explain, GradCamIsTheMeanGradientWeightedActivationsReLUed) {
  // C = 2, H = 1, W = 2. w0 = mean(1, 3) = 2, w1 = mean(-1, -1) = -1:
  // cam = ReLU(2 * [1, 2] - 1 * [3, -1]) = ReLU([-1, 5]) = [0, 5].
  const auto cam = api::gradcam_map({1, 2, 3, -1}, {1, 3, -1, -1}, 2, 1, 2);
  ASSERT_EQ(cam.size(), 2u);
  EXPECT_FLOAT_EQ(cam[0], 0.f);
  EXPECT_FLOAT_EQ(cam[1], 5.f);
  EXPECT_THROW(api::gradcam_map({1, 2, 3}, {1, 2, 3}, 2, 1, 2), std::invalid_argument);
}

TEST(Explain, TheRoiScoresGradientEqualsCentralDifferences) {
  // The path Session::explain differentiates (run_rpn, then RoIAlign and the head on one box), in double so
  // the differences are exact enough: d p_c / d x at the input pixels with the largest gradients.
  torch::manual_seed(3);
  auto cfg = load_preset("fast");
  cfg.num_classes = 3;
  cfg.class_names = {"a", "b", "c"};
  modeling::FasterRCNN model(cfg);
  model->eval();
  model->to(torch::kDouble);
  const int S = cfg.input.size;
  auto x = torch::rand({1, 3, S, S}, torch::kDouble);
  auto rois = torch::tensor({0.0, 20.0, 30.0, 90.0, 110.0}, torch::kDouble).view({1, 5});
  auto level = torch::zeros({1}, torch::kLong);
  auto value = [&](const torch::Tensor& in) {
    auto s = model->run_rpn(in);
    return model->second_stage_on(s, rois, level).probs[0][2];
  };
  torch::Tensor grad;
  {
    torch::AutoGradMode on(true);
    auto xi = x.clone().requires_grad_(true);
    value(xi).backward();
    grad = xi.grad();
  }
  torch::NoGradGuard ng;
  auto flat = grad.abs().flatten();
  auto top = std::get<1>(flat.topk(5));
  for (int k = 0; k < 5; ++k) {
    const int64_t i = top[k].item<int64_t>();
    const double eps = 1e-5;
    auto xp = x.clone(), xm = x.clone();
    xp.view(-1)[i] += eps;
    xm.view(-1)[i] -= eps;
    const double fd = (value(xp).item<double>() - value(xm).item<double>()) / (2 * eps);
    const double g = grad.view(-1)[i].item<double>();
    EXPECT_NEAR(g, fd, 1e-6 + 1e-3 * std::abs(fd)) << "input element " << i;
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
  for (const char* method : {"gradcam", "inputgrad"}) {
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
    EXPECT_DOUBLE_EQ(rp.value, rp.score);  // differentiating the probability: the value is the probability
    EXPECT_DOUBLE_EQ(rp.score, r.score);
    float mx = 0;
    for (float v : r.map) mx = std::max(mx, v);
    EXPECT_GE(*std::min_element(r.map.begin(), r.map.end()), 0.f);
    // Input x gradient is non-zero wherever the RoI sees; Grad-CAM may be all zero (ReLU of only negative
    // evidence on that level, as on this image's det:0), so only its sign is pinned.
    if (std::string(method) == "inputgrad") EXPECT_GT(mx, 0.f);
    if (std::string(method) == "gradcam") EXPECT_EQ(r.level, t.roi_level[size_t(d.proposal)]);
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
