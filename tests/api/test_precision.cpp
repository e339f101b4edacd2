// The opt-in bf16 inference path (engine/precision.h): refused with a reason
// where the CPU lacks bf16 arithmetic; where it has it, the bundled model's
// val mAP@0.5 stays within 0.01 of fp32's while its scores do change (the
// path is live, not a no-op). The verdict depends on the CPU by design: each
// test says which branch it took.
#include <gtest/gtest.h>

#include <cmath>

#include "api/eval_job.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "engine/precision.h"
#include "modeling/faster_rcnn.h"
#include "modeling/torchvision/tv_faster_rcnn.h"

using namespace rcnn;

TEST(Precision, Bf16RunsOnlyWhereTheCpuHasIt) {
  api::Session s(load_preset("fast"), "cpu");
  EXPECT_EQ(s.precision(), "fp32");
  try {
    s.set_precision("fp16");
    ADD_FAILURE() << "fp16 is no precision of ours";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'fp16': expected fp32 or bf16"), std::string::npos) << e.what();
  }
  std::string why;
  if (engine::cpu_has_bf16(&why)) {
    std::printf("this CPU has bf16 arithmetic: the path runs\n");
    s.set_precision("bf16");
    EXPECT_EQ(s.precision(), "bf16");
  } else {
    std::printf("this CPU lacks bf16: %s\n", why.c_str());
    try {
      s.set_precision("bf16");
      ADD_FAILURE() << "bf16 accepted on a CPU without it";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("neither AVX-512-BF16 nor AMX-BF16"), std::string::npos) << e.what();
    }
    EXPECT_EQ(s.precision(), "fp32");  // nothing changed
  }
}

TEST(Precision, Bf16EvaluationOfTheBundledModelStaysWithinAHundredthOfFp32) {
  std::string why;
  if (!engine::cpu_has_bf16(&why)) GTEST_SKIP() << "no bf16 on this CPU: " << why;
  api::EvalRequest r;
  r.checkpoint = resource_dir() + "/models/fashion_default.pt";
  r.device = "cpu";
  const auto fp32 = api::run_evaluation(r);
  r.precision = "bf16";
  const auto bf16 = api::run_evaluation(r);
  ASSERT_EQ(fp32.detections.size(), bf16.detections.size());
  int same = 0, total = 0;
  for (size_t i = 0; i < fp32.detections.size(); ++i)
    for (size_t k = 0; k < std::min(fp32.detections[i].size(), bf16.detections[i].size()); ++k) {
      ++total;
      same += fp32.detections[i][k].score == bf16.detections[i][k].score;
    }
  std::printf("val mAP@0.5: fp32 %.4f, bf16 %.4f; %d of %d detection scores identical\n", fp32.result.map50,
              bf16.result.map50, same, total);
  EXPECT_LE(std::abs(fp32.result.map50 - bf16.result.map50), 0.01);
  EXPECT_GT(fp32.result.map50, 0.5);  // a trained model, not noise
  EXPECT_LT(same, total);             // bf16 did run
}

TEST(Precision, Bf16RunsEveryFamilysOptimizedInference) {
  // Every architecture's inference path under bf16, as `rcnn detect --precision bf16` runs it (folded,
  // channels-last, the heads' oneDNN layers): it runs, its stage outputs come back as fp32, and bf16 did
  // change the arithmetic. (LibTorch 1.13's fused add+ReLU has no bf16 kernel: the residual blocks must
  // not reach it in bf16.)
  std::string why;
  if (!engine::cpu_has_bf16(&why)) GTEST_SKIP() << "no bf16 on this CPU: " << why;
  torch::NoGradGuard ng;
  for (const std::string preset : {"seed", "default", "fast"}) {
    auto cfg = load_preset(preset);
    cfg.num_classes = 3;
    torch::manual_seed(1);
    modeling::FasterRCNN m(cfg);
    m->eval();
    const auto x = torch::rand({2, 3, 224, 224});
    const auto ref = m->run_rpn(x);
    engine::PrecisionScope bf16(engine::Precision::BF16);
    std::vector<modeling::Detections> dets;
    ASSERT_NO_THROW(dets = m->detect(x)) << preset;
    ASSERT_EQ(dets.size(), 2u);
    EXPECT_EQ(dets[0].scores.scalar_type(), torch::kFloat) << preset;
    const auto got = m->run_rpn(x);
    EXPECT_EQ(got.feats[0].scalar_type(), torch::kFloat) << preset;
    EXPECT_FALSE(torch::equal(got.feats[0], ref.feats[0])) << preset << ": bf16 changed nothing";
  }
  for (const char* arch : {"torchvision_resnet50_fpn", "torchvision_resnet50_fpn_v2",
                           "torchvision_mobilenet_v3_large_fpn"}) {
    auto opts = modeling::tv::tv_preset(arch, 5);
    opts.min_size = 256;
    opts.max_size = 320;
    torch::manual_seed(2);
    modeling::tv::TvFasterRCNN m(opts);
    m->optimize_for_inference();
    const auto img = torch::rand({3, 240, 320});
    const auto ref = m->infer({img});
    engine::PrecisionScope bf16(engine::Precision::BF16);
    modeling::tv::TvInference r;
    ASSERT_NO_THROW(r = m->infer({img})) << arch;
    EXPECT_EQ(r.class_logits.scalar_type(), torch::kFloat) << arch;
    EXPECT_FALSE(torch::equal(r.features[0], ref.features[0])) << arch << ": bf16 changed nothing";
  }
}
