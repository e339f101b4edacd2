// One trainer for both detector families: the same solver options mean the
// same for the seed's detector and a torchvision model, through
// engine::Trainer and the stage contract's batch losses. Each test runs once
// per family (rcnn::api::TrainJob in process, the embedded dataset).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "api/train_job.h"
#include "engine/checkpoint.h"
#include "engine/lr_schedule.h"
#include "pipeline/families.h"

namespace fs = std::filesystem;
using namespace rcnn;

namespace {

struct Family {
  const char* name;
  std::string preset;
  std::vector<std::string> overrides;
  std::string batchnorm_preset;  // one of the family's with BatchNorm layers that train
};

const Family kSeed{"seed", "fast", {"solver.batch_size=2"}, "fast"};
// Small inputs keep a step near a second on two cores; FrozenBatchNorm2d (random weights). v2: BatchNorm2d.
const Family kTorchvision{"torchvision",
                          "torchvision_mobilenet_v3_large_fpn",
                          {"solver.batch_size=2", "torchvision.min_size=128", "torchvision.max_size=128"},
                          "torchvision_resnet50_fpn_v2"};

void PrintTo(const Family& f, std::ostream* os) {
  *os << f.name << " (" << f.preset << ")";
}

class OneTrainer : public ::testing::TestWithParam<Family> {
 protected:
  // This process's run directories (a torchvision run's checkpoints are hundreds of MB).
  static fs::path scratch() { return fs::temp_directory_path() / ("rcnn_one_trainer_" + std::to_string(::getpid())); }
  static void TearDownTestSuite() { fs::remove_all(scratch()); }

  api::TrainRequest request(const std::string& run, std::vector<std::string> extra) const {
    api::TrainRequest r;
    r.config = GetParam().preset;
    r.overrides = GetParam().overrides;
    r.overrides.insert(r.overrides.end(), extra.begin(), extra.end());
    r.run_dir = (scratch() / (std::string(GetParam().name) + "_" + run)).string();
    fs::remove_all(r.run_dir);
    r.device = "cpu";
    r.eval_max_images = 2;
    return r;
  }
  api::TrainOutcome train(const api::TrainRequest& r, std::string* said = nullptr) const {
    api::TrainJob job(r);
    api::TrainEvents ev;
    ev.on_message = [said](const std::string& m) {
      if (said) *said += m + "\n";
    };
    return job.run(ev);
  }
  // The weights a run started from: the family's random weights from the run's own config and seed.
  // Parameters only by default (BatchNorm's statistics follow the data, not the solver).
  static std::map<std::string, torch::Tensor> initial(const std::string& ckpt, bool buffers = false) {
    const auto cfg = config_from_json_string(engine::read_checkpoint_meta(ckpt).config_json, ckpt);
    auto det = pipeline::make_detector(cfg, torch::kCPU, cfg.solver.seed);
    std::map<std::string, torch::Tensor> w;
    for (auto& t : det->checkpoint_tensors())
      if (buffers || !t.buffer) w[t.name] = t.tensor.detach().clone();
    return w;
  }
  static std::map<std::string, torch::Tensor> weights(const std::string& ckpt) {
    std::map<std::string, torch::Tensor> w;
    for (auto& t : engine::read_checkpoint_weights(ckpt)) w[t.name] = t.tensor;
    return w;
  }
  // One iteration of `r`: each parameter's change from the run's initial weights (fp64); empty when the run
  // did not complete (reported).
  std::map<std::string, torch::Tensor> one_step(api::TrainRequest r) const {
    r.max_iters = 1;
    const auto out = train(r);
    if (out.state != "completed") {
      ADD_FAILURE() << out.message;
      return {};
    }
    const std::string last = r.run_dir + "/last.pt";
    const auto w0 = initial(last), w1 = weights(last);
    std::map<std::string, torch::Tensor> delta;
    for (const auto& [k, v] : w0) {
      if (!w1.count(k)) {
        ADD_FAILURE() << last << " lacks " << k;
        return {};
      }
      delta[k] = w1.at(k).to(torch::kDouble) - v.to(torch::kDouble);
    }
    return delta;
  }
  static std::vector<nlohmann::json> lines(const std::string& metrics, const std::string& type) {
    std::ifstream in(metrics);
    std::vector<nlohmann::json> out;
    for (std::string l; std::getline(in, l);) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("type", "") == type) out.push_back(j);
    }
    return out;
  }
};

}  // namespace

// solver.grad_clip: plain SGD (no momentum, no decay, constant rate) with the
// gradient's norm clipped to 1e-3 moves the weights, all of them together, by
// exactly lr x 1e-3 in L2 (clip_grad_norm_ scales by clip / (norm + 1e-6)).
TEST_P(OneTrainer, GradClipBoundsTheStep) {
  auto r = request("clip", {"solver.momentum=0", "solver.weight_decay=0", "solver.schedule=constant",
                            "solver.warmup_iters=0", "solver.lr=0.1", "solver.grad_clip=0.001",
                            "solver.eval_period=0"});
  const auto delta = one_step(r);
  ASSERT_FALSE(delta.empty());
  double sq = 0;
  for (const auto& [k, d] : delta) sq += d.pow(2).sum().item<double>();
  const double step = std::sqrt(sq);
  std::printf("%s: one clipped step moved the weights by %.6g (lr x clip = 1e-4)\n", GetParam().name, step);
  EXPECT_NEAR(step, 1e-4, 1e-7);
}

// solver.optimizer=adamw: Adam's first step moves every weight with a
// gradient by lr x g / (|g| + 1e-8), i.e. by almost exactly lr = 1e-3, in
// the gradient's direction; SGD's steps would be proportional to |g|.
TEST_P(OneTrainer, AdamWFirstStepMovesEachWeightByTheLearningRate) {
  auto r = request("adamw", {"solver.optimizer=adamw", "solver.weight_decay=0", "solver.schedule=constant",
                             "solver.warmup_iters=0", "solver.lr=0.001", "solver.grad_clip=0",
                             "solver.eval_period=0"});
  const auto delta = one_step(r);
  ASSERT_FALSE(delta.empty());
  double worst = 0;
  int64_t moved = 0, near_lr = 0;
  for (const auto& [k, signed_d] : delta) {
    auto d = signed_d.abs();
    worst = std::max(worst, d.max().item<double>());
    moved += (d > 0).sum().item<int64_t>();
    near_lr += (d > 0.99e-3).sum().item<int64_t>();
  }
  std::printf("%s: AdamW's first step: %lld weights moved, %lld of them by 0.99 lr or more, at most %.6g\n",
              GetParam().name, (long long)moved, (long long)near_lr, worst);
  EXPECT_LE(worst, 1e-3 + 2e-7);  // float32 weights of magnitude ~1 round a step to within an ulp (1.2e-7)
  EXPECT_GT(moved, 1000);
  // Most by the rate itself (the rest have |g| within a few orders of Adam's eps); SGD's steps, lr x |g|,
  // spread over the gradients' many orders of magnitude.
  EXPECT_GT(double(near_lr), 0.5 * double(moved));
}

// --minutes: after 20 iterations the schedule's length is fitted to the
// budget (a budget shorter than 20 iterations: 22), the run completes it,
// and the cosine rate reaches its end at the fitted length.
TEST_P(OneTrainer, MinutesFitTheScheduleToTheBudget) {
  auto r = request("minutes", {"solver.warmup_iters=0", "solver.eval_period=0", "solver.log_period=1",
                               "solver.schedule=cosine"});
  r.max_iters = 100000;
  r.minutes = 0.01;
  std::string said;
  const auto out = train(r, &said);
  ASSERT_EQ(out.state, "completed") << out.message;
  EXPECT_EQ(out.iterations, 22);
  EXPECT_NE(said.find("schedule set to 22 iterations"), std::string::npos) << said;
  const auto log = lines(r.run_dir + "/metrics.jsonl", "train");
  ASSERT_EQ(log.size(), 22u);
  auto solver = config_from_json_string(engine::read_checkpoint_meta(r.run_dir + "/last.pt").config_json, "").solver;
  EXPECT_EQ(solver.max_iters, 22);
  EXPECT_DOUBLE_EQ(log.back()["lr"].get<double>(), engine::lr_at(solver, 21));
}

// solver.eval_period and the best checkpoint: val mAP@0.5 after every
// iteration, best.pt written at the first evaluation (any mAP beats none).
TEST_P(OneTrainer, EvaluationEveryPeriodKeepsTheBestCheckpoint) {
  auto r = request("eval", {"solver.eval_period=1", "solver.warmup_iters=0"});
  r.max_iters = 2;
  const auto out = train(r);
  ASSERT_EQ(out.state, "completed") << out.message;
  const auto evals = lines(r.run_dir + "/metrics.jsonl", "eval");
  ASSERT_EQ(evals.size(), 2u);  // iteration 1, and the final one
  EXPECT_EQ(evals[0]["iter"], 1);
  EXPECT_GE(out.best_map, 0.0);
  EXPECT_TRUE(fs::exists(r.run_dir + "/best.pt"));
  EXPECT_EQ(fs::exists(r.run_dir + "/best.pth"), std::string(GetParam().name) == "torchvision");
  EXPECT_EQ(engine::read_checkpoint_meta(r.run_dir + "/best.pt").best_map, out.best_map);
}

// The NaN guard: a rate that blows the weights up ends the run as failed at
// the first non-finite loss, naming it; the last good checkpoint is kept.
TEST_P(OneTrainer, NonFiniteLossStopsTheRun) {
  auto r = request("nan", {"solver.lr=100", "solver.warmup_iters=0", "solver.grad_clip=0", "solver.momentum=0",
                           "solver.schedule=constant", "solver.eval_period=0", "solver.checkpoint_period=1"});
  r.max_iters = 8;
  const auto out = train(r);
  EXPECT_EQ(out.state, "failed") << out.message;
  EXPECT_NE(out.message.find("non-finite loss at iteration"), std::string::npos) << out.message;
  EXPECT_TRUE(fs::exists(r.run_dir + "/last.pt"));
}

// BatchNorm in training (solver.freeze_bn): off, a step moves every BatchNorm
// layer's running statistics and counts the batch; on, they stay as built.
TEST_P(OneTrainer, BatchNormTrainsItsStatisticsUnlessFrozen) {
  for (const bool frozen : {false, true}) {
    auto r = request(frozen ? "bn_frozen" : "bn_trained",
                     {"solver.eval_period=0", std::string("solver.freeze_bn=") + (frozen ? "true" : "false")});
    r.config = GetParam().batchnorm_preset;
    r.max_iters = 1;
    std::string said;
    const auto out = train(r, &said);
    ASSERT_EQ(out.state, "completed") << out.message;
    const std::string last = r.run_dir + "/last.pt";
    const auto w0 = initial(last, true), w1 = weights(last);
    int stats = 0, moved = 0, counted = 0;
    for (const auto& [k, v] : w0) {
      const bool stat = k.size() > 12 && (k.compare(k.size() - 12, 12, "running_mean") == 0 ||
                                          k.compare(k.size() - 11, 11, "running_var") == 0);
      if (stat) ++stats, moved += !torch::equal(v, w1.at(k));
      if (k.size() > 19 && k.compare(k.size() - 19, 19, "num_batches_tracked") == 0)
        counted += w1.at(k).item<int64_t>() == (frozen ? 0 : 1);
    }
    std::printf("%s, freeze_bn=%d: %d of %d running statistics moved\n", GetParam().name, int(frozen), moved, stats);
    EXPECT_GE(stats, 18);  // the fast preset: 9 BatchNorm layers; v2: 65
    EXPECT_EQ(moved, frozen ? 0 : stats);
    EXPECT_EQ(counted, stats / 2);
    EXPECT_NE(said.find(frozen ? "solver.freeze_bn true" : "solver.freeze_bn false"), std::string::npos) << said;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, OneTrainer, ::testing::Values(kSeed, kTorchvision),
                         [](const auto& info) { return std::string(info.param.name); });
