#include <gtest/gtest.h>
#include <torch/torch.h>

#include "modeling/faster_rcnn.h"
#include "modeling/linear_as_conv.h"
#include "ops/box_iou.h"

using namespace rcnn;

TEST(Model, SeedShapeTable) {
  DetectorConfig cfg;  // the seed's defaults: RegNetX-400MF, FPN 64, 3 ratios
  torch::manual_seed(0);
  modeling::FasterRCNN m(cfg);
  m->eval();
  torch::NoGradGuard ng;
  auto s = m->run_rpn(torch::randn({2, 3, 224, 224}));
  const std::vector<int64_t> K{2352, 588, 147}, HW{28, 14, 7};
  for (size_t l = 0; l < 3; ++l) {
    EXPECT_EQ(s.feats[l].sizes(), (std::vector<int64_t>{2, 64, HW[l], HW[l]}));
    EXPECT_EQ(s.objectness[l].sizes(), (std::vector<int64_t>{2, K[l]}));
    EXPECT_EQ(s.deltas[l].sizes(), (std::vector<int64_t>{2, K[l], 4}));
    EXPECT_EQ(s.anchors[l].size(0), K[l]);
  }
  // Seed init: predictor weights N(0, 0.01), biases 0.
  EXPECT_EQ(m->rpn_head->pred_obj->bias.abs().sum().item<float>(), 0.f);
  EXPECT_NEAR(m->rpn_head->pred_box->weight.std().item<float>(), 0.01f, 0.001f);
}

TEST(Model, ProposalsRespectTopkAndNms) {
  DetectorConfig cfg;
  cfg.backbone.name = "fast";
  cfg.rpn.pre_nms_topk_test = 50;
  cfg.rpn.post_nms_topk_test = 10;
  torch::manual_seed(0);
  modeling::FasterRCNN m(cfg);
  m->eval();
  torch::NoGradGuard ng;
  auto s = m->run_rpn(torch::randn({1, 3, 224, 224}));
  auto p = m->propose(s, 0, false);
  ASSERT_EQ(p.levels.size(), 3u);
  for (const auto& lp : p.levels) {
    EXPECT_EQ(lp.topk_idx.numel(), 50);
    EXPECT_LE(lp.keep.numel(), 10);
    auto kb = lp.boxes.index_select(0, lp.keep);
    auto iou = ops::box_iou(kb, kb) - torch::eye(kb.size(0)) * 2;
    if (kb.size(0) > 1) EXPECT_LE(iou.max().item<float>(), 0.7f);
    EXPECT_GE(kb.min().item<float>(), 0.f);
    EXPECT_LE(kb.max().item<float>(), 224.f);
  }
}

// Two images, three objects: the detector must memorise them. The verdict may not depend on the kernels the
// CPU picks (oneDNN's ISA, OpenBLAS's core type, the thread count change the rounding, and 300 SGD steps carry
// it into a different trajectory), so the losses are judged by their mean over the last 50 iterations, not by
// one noisy iteration (each draws its own RoI sample), against margins measured on every kernel choice:
// mean / first for rpn_obj 0.0025-0.0034 and roi_cls 0.054-0.075 over ONEDNN_MAX_CPU_ISA SSE41, AVX2,
// AVX512_CORE and ALL with OPENBLAS_CORETYPE Haswell, SkylakeX and Cooperlake, 1 and 2 threads (AMD EPYC,
// AVX-512). The bounds (1/10 and 1/5) keep a factor of 2.6 or more; the last iteration alone reached 0.126
// (AVX512_CORE + SkylakeX), which failed the old "last < first / 10". Then every GT must come out as a
// detection of its class (measured on the same kernel choices: best IoU 0.72-0.98, score >= 0.99, against
// 0.5 and 0.5): that is what a broken loss or optimizer step cannot fake.
TEST(Model, TinyOverfit) {
  torch::manual_seed(0);
  torch::set_num_threads(2);
  DetectorConfig cfg;
  cfg.num_classes = 2;
  cfg.backbone.name = "fast";
  cfg.anchors.stride_scale = 4;
  cfg.anchors.scales_per_octave = 2;
  cfg.rpn.stem_channels = {64};
  cfg.rpn.allow_low_quality_matches = true;
  cfg.rpn.iou_hi = 0.7;
  cfg.rpn.batch_size_per_image = 64;
  cfg.roi.stem_channels = {64};
  cfg.roi.fc_dim = 128;
  cfg.roi.box_regression = true;
  cfg.roi.add_gt_to_proposals = true;
  cfg.roi.sampling_ratio = 2;
  modeling::FasterRCNN m(cfg);
  auto images = torch::zeros({2, 3, 224, 224});
  auto gt = torch::full({2, 2, 5}, -1.f);
  auto paint = [&](int i, int x1, int y1, int x2, int y2, int cls, int row) {
    images[i].slice(1, y1, y2).slice(2, x1, x2).select(0, cls).fill_(2.0);
    gt[i][row] = torch::tensor({float(x1), float(y1), float(x2), float(y2), float(cls)});
  };
  paint(0, 30, 40, 110, 120, 0, 0);
  paint(0, 140, 130, 200, 210, 1, 1);
  paint(1, 60, 20, 180, 90, 1, 0);
  torch::optim::SGD opt(m->parameters(), torch::optim::SGDOptions(0.02).momentum(0.9));
  auto gen = at::detail::createCPUGenerator(1);
  constexpr int kIters = 300, kTail = 50;
  std::map<std::string, double> first, tail;
  for (int it = 0; it < kIters; ++it) {
    auto losses = m->forward_train(images, gt, gen);
    torch::Tensor total = losses["rpn_obj"] + losses["rpn_box"] + losses["roi_cls"] + losses["roi_box"];
    opt.zero_grad();
    total.backward();
    opt.step();
    for (auto& [k, v] : losses) {
      if (it == 0) first[k] = v.item<double>();
      if (it >= kIters - kTail) tail[k] += v.item<double>() / kTail;
    }
  }
  EXPECT_LT(tail["rpn_obj"], first["rpn_obj"] / 10) << first["rpn_obj"] << " -> mean " << tail["rpn_obj"];
  EXPECT_LT(tail["roi_cls"], first["roi_cls"] / 5) << first["roi_cls"] << " -> mean " << tail["roi_cls"];
  m->eval();
  torch::NoGradGuard ng;
  auto dets = m->detect(images);
  for (int i = 0; i < 2; ++i) {
    for (int r = 0; r < 2; ++r) {
      auto g = gt[i][r];
      if (g[4].item<float>() < 0) continue;
      bool found = false;
      float best_iou = 0, best_score = 0;  // of the same-class detection that overlaps it most
      for (int64_t d = 0; d < dets[size_t(i)].boxes.size(0); ++d) {
        const float iou =
            ops::box_iou(dets[size_t(i)].boxes[d].view({1, 4}), g.slice(0, 0, 4).view({1, 4})).item<float>();
        const bool same = dets[size_t(i)].classes[d].item<int64_t>() == int64_t(g[4].item<float>());
        if (same && iou > best_iou) best_iou = iou, best_score = dets[size_t(i)].scores[d].item<float>();
        if (iou >= 0.5f && same && dets[size_t(i)].scores[d].item<float>() > 0.5f) found = true;
      }
      EXPECT_TRUE(found) << "image " << i << " GT " << r << " not detected (best same-class detection: IoU "
                         << best_iou << ", score " << best_score << ")";
    }
  }
}

// Inference folds each conv + BatchNorm into one conv and runs channels-last.
// Its features must equal the unfolded eval-mode computation (run with
// autograd on, which takes the modules' own forward), and the fold must
// follow the weights when they change (a training step, a checkpoint load).
// max |a - b| relative to max |b|: the folded path's rounding is relative to the features' scale, whatever
// kernels the CPU picks (a fixed absolute tolerance is not). Measured over ONEDNN_MAX_CPU_ISA SSE41, AVX2,
// AVX512_CORE, ALL with OpenBLAS's Nehalem, Haswell, SkylakeX and Cooperlake kernels, 1 and 2 threads: the fold
// differs by at most 1.03e-6 (bound 1e-5), while a weight or statistics change moves the features by 0.02-0.39
// (a stale fold would differ by as much; "must matter" asks > 1e-3).
double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-30, b.abs().max().item<double>());
}

TEST(Model, LinearAsConvIsTheLinearLayerAndFollowsItsWeights) {
  torch::manual_seed(2);
  torch::nn::Linear l(3 * 4 * 5, 6);
  modeling::LinearAsConv as_conv;
  auto x = torch::randn({9, 3, 4, 5});
  torch::NoGradGuard ng;
  for (int round = 0; round < 2; ++round) {
    const auto want = l->forward(x.flatten(1));
    for (const auto& in : {x, x.contiguous(at::MemoryFormat::ChannelsLast)}) {
      const auto got = as_conv(l, in);
      ASSERT_EQ(got.sizes(), want.sizes());
      EXPECT_LE((got - want).abs().max().item<double>() / want.abs().max().item<double>(), 1e-5) << round;
    }
    l->weight.mul_(-2).add_(0.25);  // in place, as an optimizer step: the cached weight must follow
  }
  EXPECT_THROW(as_conv(l, torch::randn({2, 3, 4, 4})), c10::Error);
}

TEST(Model, BatchedSecondStageEqualsOneImageAtATime) {
  // detect() runs RoIAlign and the head once for the whole batch's RoIs; each image's share must be what
  // its own second stage gives (up to the head's float rounding on a different batch size).
  for (const std::string preset : {"seed", "default"}) {
    auto cfg = load_preset(preset);
    cfg.num_classes = 4;
    torch::manual_seed(4);
    modeling::FasterRCNN m(cfg);
    m->eval();
    torch::NoGradGuard ng;
    const auto s = m->run_rpn(torch::rand({3, 3, 224, 224}));
    std::vector<modeling::ImageProposals> props;
    std::vector<torch::Tensor> rois, levels;
    for (int64_t i = 0; i < 3; ++i) {
      props.push_back(m->propose(s, i, false));
      const auto one = m->run_second_stage(s, i, props.back());
      rois.push_back(one.rois);
      levels.push_back(one.roi_levels);
    }
    const auto all = m->second_stage_on(s, torch::cat(rois), torch::cat(levels));
    for (int64_t i = 0, from = 0; i < 3; ++i) {
      const auto one = m->run_second_stage(s, i, props[size_t(i)]);
      const int64_t P = one.probs.size(0);
      ASSERT_GT(P, 0);
      EXPECT_TRUE(torch::equal(one.pooled, all.pooled.narrow(0, from, P))) << "RoIAlign is per RoI: the same bits";
      EXPECT_TRUE(torch::allclose(one.probs, all.probs.narrow(0, from, P), 1e-4, 1e-6)) << "image " << i;
      ASSERT_EQ(one.box_deltas.defined(), all.box_deltas.defined());  // the seed preset has no box regression
      if (one.box_deltas.defined())
        EXPECT_TRUE(torch::allclose(one.box_deltas, all.box_deltas.narrow(0, from, P), 1e-4, 1e-5)) << "image " << i;
      from += P;
    }
  }
}

TEST(Model, FoldedInferenceMatchesModulesAndFollowsWeightChanges) {
  for (const std::string name : {"regnetx_400mf", "fast"}) {
    BackboneOptions o;
    o.name = name;
    torch::manual_seed(3);
    modeling::BackboneWithFPN bb(o);
    // Non-trivial statistics so that the fold actually changes the weights.
    bb->train();
    {
      torch::NoGradGuard ng;
      for (int i = 0; i < 3; ++i) bb->forward(torch::randn({4, 3, 64, 64}) * 2 + 0.5);
    }
    bb->eval();
    auto x = torch::randn({1, 3, 64, 64});
    auto reference = [&] {
      std::vector<torch::Tensor> r;
      for (auto& t : bb->forward(x)) r.push_back(t.detach());  // grad mode on: unfolded path
      return r;
    };
    auto folded = [&] {
      torch::NoGradGuard ng;
      return bb->forward(x);
    };
    auto want = reference();
    auto got = folded();
    ASSERT_EQ(got.size(), 3u);
    for (size_t l = 0; l < 3; ++l) {
      EXPECT_EQ(got[l].sizes(), want[l].sizes());
      EXPECT_LE(rel_diff(got[l], want[l]), 1e-5) << name << " level " << l;
    }
    // Change every BatchNorm's scale in place, as an optimizer step would.
    {
      torch::NoGradGuard ng;
      for (auto& m : bb->modules(false))
        if (auto* bn = m->as<torch::nn::BatchNorm2d>()) bn->weight.mul_(0.5).add_(0.1);
    }
    auto want2 = reference();
    auto got2 = folded();
    for (size_t l = 0; l < 3; ++l) {
      EXPECT_GT(rel_diff(want2[l], want[l]), 1e-3) << "the change must matter";
      EXPECT_LE(rel_diff(got2[l], want2[l]), 1e-5) << name << " stale fold at level " << l;
    }
    // A training-mode forward moves the running statistics inside the
    // batch_norm kernel (no version bump): the next eval must see them, as
    // the periodic evaluation during a training run does.
    bb->train();
    {
      torch::NoGradGuard ng;
      bb->forward(torch::randn({4, 3, 64, 64}) * 3 - 1);
    }
    bb->eval();
    auto want3 = reference();
    auto got3 = folded();
    for (size_t l = 0; l < 3; ++l) {
      EXPECT_GT(rel_diff(want3[l], want2[l]), 1e-3) << "the statistics must have moved";
      EXPECT_LE(rel_diff(got3[l], want3[l]), 1e-5) << name << " stale statistics at level " << l;
    }
  }
}
