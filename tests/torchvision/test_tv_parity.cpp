// Parity with torchvision (the oracle: make_parity.py, run by ctest first):
// the same state_dict file, the same images, every stage compared.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "modeling/torchvision/tv_faster_rcnn.h"
#include "modeling/torchvision/tv_training.h"
#include "serialize/state_dict.h"

using namespace rcnn;
using namespace rcnn::modeling::tv;

namespace {

std::string dir() {
  const char* d = std::getenv("RCNN_TV_PARITY_DIR");
  return d ? d : "";
}

// The oracle's outputs of one architecture, by key (a missing key fails the test).
struct Outputs {
  serialize::StateDict sd;
  explicit Outputs(const std::string& arch) : sd(serialize::read_state_dict(dir() + "/" + arch + "_outputs.pth")) {}
  torch::Tensor operator()(const std::string& k) const {
    const auto* t = sd.find(k);
    EXPECT_NE(t, nullptr) << k;
    return t ? *t : torch::Tensor();
  }
};

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0 && b.numel() == 0) return 0;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

void check(const std::string& arch) {
  ASSERT_FALSE(dir().empty()) << "RCNN_TV_PARITY_DIR not set (ctest sets it after running make_parity.py)";
  auto opts = tv_preset(arch, 7);
  if (arch != "torchvision_mobilenet_v3_large_320_fpn") {  // the oracle's sizes; the 320 builder keeps its own
    opts.min_size = 320;
    opts.max_size = 480;
  }
  opts.frozen_bn_eps = 1e-5;  // FrozenBatchNorm2d's default (not the COCO weights' 0)
  TvFasterRCNN model(opts);
  const auto original = serialize::read_state_dict(dir() + "/" + arch + ".pth");
  model->load(original, arch + ".pth");
  // And back: what we write reads back equal, key for key (roundtrip_check.py
  // then loads it into torchvision itself).
  const std::string back = dir() + "/roundtrip_" + arch + ".pth";
  serialize::write_state_dict(back, model->state_dict());
  {
    const auto again = serialize::read_state_dict(back);
    ASSERT_EQ(again.entries.size(), original.entries.size());
    for (const auto& [k, v] : original.entries) {
      const auto* w = again.find(k);
      ASSERT_NE(w, nullptr) << k;
      EXPECT_TRUE(torch::equal(*w, v)) << k;
    }
  }
  const Outputs get(arch);
  std::vector<torch::Tensor> images;
  for (int i = 0; i < 3; ++i) images.push_back(image_from_rgb8(get("image" + std::to_string(i))));
  const auto r = model->infer(images);
  // The transform: the padded batch, bit for bit.
  EXPECT_EQ(r.batch.tensors.sizes(), get("batch").sizes());
  EXPECT_EQ(max_abs(r.batch.tensors, get("batch")), 0.0);
  double worst_feature = 0, worst_proposal = 0, worst_box = 0, worst_score = 0;
  int64_t n_props = 0, n_dets = 0;
  // The body's returned layers, then the FPN's levels (finest first, 'pool' last).
  {
    torch::NoGradGuard ng;
    auto& bb = *model->backbone;
    const auto body = bb.resnet ? bb.resnet->forward(r.batch.tensors) : bb.mobilenet->forward(r.batch.tensors);
    for (size_t l = 0; l < body.size(); ++l)
      EXPECT_LE(max_abs(body[l], get("body_" + std::to_string(l))), 1e-4) << "body " << l;
  }
  const size_t L = r.features.size();
  ASSERT_EQ(L, size_t(opts.anchor_sizes.size()));
  for (size_t l = 0; l < L; ++l) {
    const auto f = get("feature_" + (l + 1 == L ? std::string("pool") : std::to_string(l)));
    ASSERT_EQ(r.features[l].sizes(), f.sizes()) << l;
    EXPECT_LE(max_abs(r.features[l], f), 1e-4) << "level " << l;
    worst_feature = std::max(worst_feature, max_abs(r.features[l], f));
  }
  // Anchors: equal.
  ASSERT_EQ(r.anchors.sizes(), get("anchors").sizes());
  EXPECT_EQ(max_abs(r.anchors, get("anchors")), 0.0);
  for (int i = 0; i < 3; ++i) {
    // Proposals: same count, same order, within 1e-3 px.
    const auto p = get("proposals" + std::to_string(i));
    ASSERT_EQ(r.proposals[size_t(i)].boxes.sizes(), p.sizes()) << "image " << i;
    EXPECT_LE(max_abs(r.proposals[size_t(i)].boxes, p), 1e-3) << "image " << i;
    worst_proposal = std::max(worst_proposal, max_abs(r.proposals[size_t(i)].boxes, p));
    n_props += p.size(0);
  }
  // RoI features within 1e-4.
  ASSERT_EQ(r.roi_features.sizes(), get("roi_features").sizes());
  EXPECT_LE(max_abs(r.roi_features, get("roi_features")), 1e-4);
  // Detections: boxes 1e-3 px (original image coordinates), scores 1e-5, labels equal.
  for (int i = 0; i < 3; ++i) {
    const auto s = std::to_string(i);
    const auto& d = r.detections[size_t(i)];
    ASSERT_EQ(d.boxes.sizes(), get("boxes" + s).sizes()) << "image " << i;
    EXPECT_LE(max_abs(d.boxes, get("boxes" + s)), 1e-3) << "image " << i;
    EXPECT_LE(max_abs(d.scores, get("scores" + s)), 1e-5) << "image " << i;
    EXPECT_TRUE(torch::equal(d.labels, get("labels" + s))) << "image " << i;
    worst_box = std::max(worst_box, max_abs(d.boxes, get("boxes" + s)));
    worst_score = std::max(worst_score, max_abs(d.scores, get("scores" + s)));
    n_dets += d.boxes.size(0);
  }
  // One image alone (batch of one: its own padding and anchor grid), as `rcnn detect` runs it.
  const auto one = model->infer({images[1]});
  const auto& d1 = one.detections[0];
  ASSERT_EQ(d1.boxes.sizes(), get("single_boxes").sizes());
  EXPECT_LE(max_abs(d1.boxes, get("single_boxes")), 1e-3);
  EXPECT_LE(max_abs(d1.scores, get("single_scores")), 1e-5);
  EXPECT_TRUE(torch::equal(d1.labels, get("single_labels")));
  // The figures the README quotes.
  std::cout << arch << ": max |ours - torchvision|: features " << worst_feature << ", proposals " << worst_proposal
            << " px (" << n_props << "), RoI features " << max_abs(r.roi_features, get("roi_features"))
            << ", detection boxes " << worst_box << " px, scores " << worst_score << " (" << n_dets
            << " detections); anchors " << r.anchors.size(0) << " equal\n";
}

// One training step: the oracle's four losses on the same images and targets,
// replaying the anchors and RoIs torchvision's samplers drew.
void check_training(const std::string& arch) {
  ASSERT_FALSE(dir().empty());
  auto opts = tv_preset(arch, 7);
  opts.min_size = 320;
  opts.max_size = 480;
  opts.frozen_bn_eps = 1e-5;
  TvFasterRCNN model(opts);
  model->load(serialize::read_state_dict(dir() + "/" + arch + ".pth"), arch);
  const Outputs get(arch);
  std::vector<torch::Tensor> images;
  std::vector<TvTarget> targets;
  TvSamples replay;
  for (int i = 0; i < 3; ++i) {
    const auto s = std::to_string(i);
    images.push_back(image_from_rgb8(get("image" + s)));
    targets.push_back({get("target_boxes" + s), get("target_labels" + s)});
    replay.rpn_pos.push_back(get("rpn_pos" + s));
    replay.rpn_neg.push_back(get("rpn_neg" + s));
    replay.roi_pos.push_back(get("roi_pos" + s));
    replay.roi_neg.push_back(get("roi_neg" + s));
  }
  ASSERT_GT(replay.rpn_pos[0].numel(), 0);
  ASSERT_GT(replay.roi_pos[0].numel(), 0);
  model->train();
  modeling::TrainStep step;
  const auto L = training_losses(*model, images, targets, &replay, nullptr, std::nullopt, &step);
  const double d[] = {std::abs(L.objectness.item<double>() - get("loss_objectness").item<double>()),
                      std::abs(L.rpn_box_reg.item<double>() - get("loss_rpn_box_reg").item<double>()),
                      std::abs(L.classifier.item<double>() - get("loss_classifier").item<double>()),
                      std::abs(L.box_reg.item<double>() - get("loss_box_reg").item<double>())};
  const char* names[] = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"};
  for (int k = 0; k < 4; ++k) EXPECT_LE(d[k], 1e-4) << names[k];
  // What the RoI sampling and Losses stages show (modeling::TrainStep): the
  // replayed samples, and per-sample terms whose sums over the divisors are
  // torchvision's four losses.
  const auto sum = [](const torch::Tensor& t) { return t.sum().item<double>(); };
  const auto& R = step.rpn;
  const auto& Q = step.roi;
  std::vector<int64_t> want_pos, want_neg;
  int64_t roi_fg = 0;
  for (int i = 0; i < 3; ++i) {
    const int64_t K = R.labels.numel() / 3;
    for (auto* part : {&replay.rpn_pos[size_t(i)], &replay.rpn_neg[size_t(i)]}) {
      auto v = std::get<0>(part->sort());
      for (int64_t k = 0; k < v.numel(); ++k)
        (part == &replay.rpn_pos[size_t(i)] ? want_pos : want_neg).push_back(i * K + v[k].item<int64_t>());
    }
    roi_fg += replay.roi_pos[size_t(i)].numel();
  }
  EXPECT_TRUE(torch::equal(R.fg, torch::tensor(want_pos, torch::kLong)));
  EXPECT_TRUE(torch::equal(R.bg, torch::tensor(want_neg, torch::kLong)));
  EXPECT_EQ(Q.fg.numel(), roi_fg);
  ASSERT_EQ(R.count, R.fg.numel() + R.bg.numel());
  ASSERT_EQ(Q.count, Q.fg.numel() + Q.bg.numel());
  const double view[] = {sum(R.obj_terms) / double(R.count), sum(R.box_terms) / double(R.count),
                         sum(Q.cls_terms) / double(Q.count), sum(Q.box_terms) / double(Q.count)};
  const char* oracle[] = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"};
  for (int k = 0; k < 4; ++k)
    EXPECT_LE(std::abs(view[k] - get(oracle[k]).item<double>()), 1e-4) << "the view's " << oracle[k];
  // Every fg RoI's class target is its GT's label, every bg RoI's the background.
  for (int64_t i = 0; i < Q.fg.numel(); ++i) EXPECT_GT(Q.class_target[Q.fg[i].item<int64_t>()].item<int64_t>(), 0);
  for (int64_t i = 0; i < Q.bg.numel(); ++i) EXPECT_EQ(Q.class_target[Q.bg[i].item<int64_t>()].item<int64_t>(), 0);
  // BatchNorm2d layers (v2) trained their statistics as torch.nn.BatchNorm2d's train mode does: the running
  // mean and variance (momentum 0.1, unbiased variance) and the counter equal the oracle's after its step.
  const auto before = serialize::read_state_dict(dir() + "/" + arch + ".pth");
  int trained_norms = 0;
  double worst_stat = 0, moved = 0;
  for (const auto& m : model->named_modules()) {
    const auto* n = m.value()->as<Norm2d>();
    if (!n || n->frozen) continue;
    ++trained_norms;
    for (const char* field : {"running_mean", "running_var"}) {
      const std::string key = m.key() + "." + field;
      const auto want = get("after." + key);
      const auto& ours = std::string(field) == "running_mean" ? n->running_mean : n->running_var;
      ASSERT_TRUE(want.defined()) << key;
      worst_stat = std::max(worst_stat, max_abs(ours, want) / (1.0 + want.abs().max().item<double>()));
      moved = std::max(moved, max_abs(want, *before.find(key)));
    }
    EXPECT_EQ(n->num_batches_tracked.item<int64_t>(), get("after." + m.key() + ".num_batches_tracked").item<int64_t>())
        << m.key();
  }
  int oracle_norms = 0;
  for (const auto& [k, v] : get.sd.entries)
    oracle_norms += k.rfind("after.", 0) == 0 && k.size() > 13 && k.compare(k.size() - 13, 13, ".running_mean") == 0;
  EXPECT_EQ(trained_norms, oracle_norms);
  EXPECT_EQ(trained_norms > 0, arch == "torchvision_resnet50_fpn_v2");
  if (trained_norms > 0) {
    EXPECT_GT(moved, 1e-3);  // the oracle's statistics did move: a BatchNorm2d left in eval mode fails
    EXPECT_LE(worst_stat, 1e-4);
    std::cout << arch << ": " << trained_norms << " BatchNorm2d layers, running statistics moved up to " << moved
              << ", |ours - torchvision| / (1 + |torchvision|) up to " << worst_stat << "\n";
  }
  // The losses reach the trainable weights.
  L.total().backward();
  EXPECT_TRUE(model->box_predictor->cls_score->weight.grad().defined());
  EXPECT_GT(model->rpn_head->cls_logits->weight.grad().abs().sum().item<double>(), 0);
  std::cout << arch << " training step: |ours - torchvision| objectness " << d[0] << ", rpn_box_reg " << d[1]
            << ", classifier " << d[2] << ", box_reg " << d[3] << " (losses " << L.objectness.item<double>() << ", "
            << L.rpn_box_reg.item<double>() << ", " << L.classifier.item<double>() << ", " << L.box_reg.item<double>()
            << ")\n";
}

}  // namespace

TEST(TorchvisionParity, TrainingStepResNet50FPN) {
  check_training("torchvision_resnet50_fpn");
}

TEST(TorchvisionParity, TrainingStepMobileNetV3LargeFPN) {
  check_training("torchvision_mobilenet_v3_large_fpn");
}

TEST(TorchvisionParity, TrainingStepResNet50FPNv2WithBatchNormStatistics) {
  check_training("torchvision_resnet50_fpn_v2");
}

TEST(TorchvisionParity, ResNet50FPN) {
  check("torchvision_resnet50_fpn");
}

TEST(TorchvisionParity, ResNet50FPNv2) {
  check("torchvision_resnet50_fpn_v2");
}

TEST(TorchvisionParity, MobileNetV3LargeFPN) {
  check("torchvision_mobilenet_v3_large_fpn");
}

TEST(TorchvisionParity, MobileNetV3Large320FPN) {
  check("torchvision_mobilenet_v3_large_320_fpn");
}

TEST(TorchvisionParity, LoadErrorsNameTheKeyAndChangeNothing) {
  ASSERT_FALSE(dir().empty());
  const auto sd = serialize::read_state_dict(dir() + "/torchvision_resnet50_fpn.pth");
  auto message = [&](TvFasterRCNN& m) {
    try {
      m->load(sd, "model.pth");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  TvFasterRCNN wrong_classes(tv_preset("torchvision_resnet50_fpn", 5));
  const auto before = wrong_classes->box_predictor->cls_score->weight.clone();
  const auto before_body = wrong_classes->backbone->resnet->conv1->weight.clone();
  const auto e = message(wrong_classes);
  EXPECT_NE(e.find("model.pth: roi_heads.box_predictor.cls_score.weight has shape [7, 1024]"), std::string::npos) << e;
  EXPECT_TRUE(torch::equal(before, wrong_classes->box_predictor->cls_score->weight));
  EXPECT_TRUE(torch::equal(before_body, wrong_classes->backbone->resnet->conv1->weight));  // nothing half-loaded
  TvFasterRCNN v2(tv_preset("torchvision_resnet50_fpn_v2", 7));
  const auto e2 = message(v2);
  EXPECT_NE(e2.find("model.pth: unexpected key backbone.fpn.inner_blocks.0.0.bias (not part of torchvision_resnet50_fpn_v2)"), std::string::npos) << e2;
}

TEST(TorchvisionParity, OptimizedForInferenceAgreesUpToRounding) {
  // Folded BatchNorm and channels-last change the order of float operations,
  // not the function: the FPN features agree to float rounding. The bound is
  // relative to each level's scale and holds for every kernel choice: the
  // channels-last layout alone moves a ResNet-50 body by 2.3e-6 of its scale
  // on AVX-512 kernels (0 on AVX2), so 1e-5 left too little room; 1e-4 does.
  ASSERT_FALSE(dir().empty());
  for (const char* arch : {"torchvision_resnet50_fpn", "torchvision_mobilenet_v3_large_fpn"}) {
    auto opts = tv_preset(arch, 7);
    opts.min_size = 320;
    opts.max_size = 480;
    opts.frozen_bn_eps = 1e-5;
    const auto sd = serialize::read_state_dict(dir() + "/" + std::string(arch) + ".pth");
    TvFasterRCNN exact(opts), fast(opts);
    exact->load(sd, arch);
    fast->load(sd, arch);
    fast->optimize_for_inference();
    const auto ref = serialize::read_state_dict(dir() + "/" + std::string(arch) + "_outputs.pth");
    const auto img = image_from_rgb8(*ref.find("image0"));
    const auto a = exact->infer({img}), b = fast->infer({img});
    ASSERT_EQ(a.features.size(), b.features.size());
    for (size_t l = 0; l < a.features.size(); ++l) {
      const double scale = a.features[l].abs().max().item<double>();
      EXPECT_GT(scale, 0.0);
      EXPECT_LE(max_abs(a.features[l], b.features[l]) / scale, 1e-4) << arch << " level " << l;
    }
    // The box head on oneDNN's inner product: the same RoI features give the
    // same outputs up to float rounding.
    {
      torch::NoGradGuard ng;
      EXPECT_FALSE(fast->box_head->onednn.empty());
      ASSERT_GT(a.roi_features.size(0), 0);
      const auto ha = exact->box_head->forward(a.roi_features), hb = fast->box_head->forward(a.roi_features);
      const double scale = ha.abs().max().item<double>();
      EXPECT_GT(scale, 0.0);
      EXPECT_LE(max_abs(ha, hb) / scale, 1e-4) << arch << " box head";
      // Channels-last RoI features (what the optimized model's RoIAlign gives) take fc6 as a 7x7 convolution.
      const auto hc = fast->box_head->forward(a.roi_features.contiguous(at::MemoryFormat::ChannelsLast));
      EXPECT_LE(max_abs(ha, hc) / scale, 1e-4) << arch << " box head, fc6 as a convolution";
      EXPECT_TRUE(b.roi_features.is_contiguous(at::MemoryFormat::ChannelsLast)) << arch;
    }
    EXPECT_THROW(fast->state_dict(), c10::Error);
  }
}
