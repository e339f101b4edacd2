// Data-parallel training end to end, with real processes of the rcnn CLI
// on loopback: equivalence with one process, a killed rank, a hung rank,
// mismatched configs, and resuming under another world size.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "../proc_util.h"
#include "distributed/dist_env.h"
#include "engine/checkpoint.h"
#include "engine/lr_schedule.h"
#include "modeling/torchvision/tv_faster_rcnn.h"

namespace fs = std::filesystem;
using namespace rcnn;

namespace {
using namespace proc_util;

std::string work(const std::string& name) {
  auto d = fs::path(RCNN_DIST_WORK) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// The default preset on the embedded dataset, small and fast.
std::vector<std::string> train_args(const std::string& run_dir, std::vector<std::string> extra,
                                    const std::string& config = "default") {
  std::vector<std::string> a{"train", "--config", config, "--run-dir", run_dir, "--eval-images", "8",
                             "--set", "solver.eval_period=0", "--set", "solver.log_period=1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::map<std::string, torch::Tensor> weights(const std::string& ckpt) {
  DetectorConfig cfg;
  auto m = engine::load_model(ckpt, torch::kCPU, &cfg);
  std::map<std::string, torch::Tensor> w;
  for (const auto& p : m->named_parameters()) w[p.key()] = p.value().detach().clone();
  return w;
}

}  // namespace

// 2 processes x 8 images and 1 process x 16 images see the same 16 images
// per iteration; with BatchNorm frozen and every labelled anchor and RoI in
// the loss (sampling then has nothing to draw), the global normalisation
// and the averaged gradients must give the same weights after 5 steps.
TEST(DataParallel, TwoByEightEqualsOneBySixteen) {
  const auto dir = work("equivalence");
  const std::vector<std::string> common{"--iters", "5", "--set", "solver.freeze_bn=true", "--set",
                                        "solver.warmup_iters=0", "--set", "rpn.batch_size_per_image=100000",
                                        "--set", "roi.batch_size_per_image=100000"};
  auto a1 = train_args(dir + "/one", common), a2 = train_args(dir + "/two", common);
  a1.insert(a1.end(), {"--set", "solver.batch_size=16"});
  a2.insert(a2.end(), {"--set", "solver.batch_size=8", "--nproc", "2"});
  ASSERT_EQ(run(a1, dir + "/one.log"), 0) << slurp(dir + "/one.log");
  ASSERT_EQ(run(a2, dir + "/two.log"), 0) << slurp(dir + "/two.log") << slurp(dir + "/two/rank1.log");
  EXPECT_NE(slurp(dir + "/two.log").find("data parallel: 2 processes (gloo), global batch 16"), std::string::npos);

  DetectorConfig cfg;
  engine::load_model(dir + "/one/last.pt", torch::kCPU, &cfg);
  torch::manual_seed(cfg.solver.seed);  // the trainer's initial weights
  modeling::FasterRCNN init(cfg);
  std::map<std::string, torch::Tensor> w0;
  for (const auto& p : init->named_parameters()) w0[p.key()] = p.value().detach();
  const auto w1 = weights(dir + "/one/last.pt"), w2 = weights(dir + "/two/last.pt");
  ASSERT_EQ(w1.size(), w2.size());
  double max_diff = 0, max_moved = 0;
  for (const auto& [k, v] : w1) {
    max_diff = std::max(max_diff, (v - w2.at(k)).abs().max().item<double>());
    max_moved = std::max(max_moved, (v - w0.at(k)).abs().max().item<double>());
  }
  std::printf("5 steps: weights moved up to %.3g; 2x8 vs 1x16 differ by up to %.3g\n", max_moved, max_diff);
  EXPECT_GT(max_moved, 1e-2);
  // Equal up to rounding, relative to how far the weights moved. The rounding depends on the kernels: 3e-8 to
  // 2.8e-7 here (AMD EPYC; default kernels, AVX512_CORE + SkylakeX, AVX2 + Haswell), which an absolute 2e-7
  // did not survive. What this test guards against moves the weights by a share of max_moved: gradients summed
  // instead of averaged, unsynchronised initial weights, ranks reading the same images. (Each rank normalising
  // by its own sample count alone differs by only ~6e-7 on equal shards; DistGroup.SplitBatchGradientsEqual-
  // TheWholeBatch catches it on an uneven split.)
  EXPECT_LT(max_diff, 1e-4 * max_moved);
  // The logged global losses agree too.
  auto last_line = [](const std::string& p) {
    std::ifstream in(p);
    std::string l, last;
    while (std::getline(in, l))
      if (l.find("\"train\"") != std::string::npos) last = l;
    return nlohmann::json::parse(last);
  };
  const auto j1 = last_line(dir + "/one/metrics.jsonl"), j2 = last_line(dir + "/two/metrics.jsonl");
  EXPECT_EQ(j2["world_size"], 2);
  EXPECT_NEAR(j1["loss"].get<double>(), j2["loss"].get<double>(), 1e-4 * j1["loss"].get<double>());
}

// The same equivalence for a torchvision model through the same trainer: a
// MobileNetV3-Large-FPN with FrozenBatchNorm2d (random weights), every
// labelled anchor and RoI in its losses, the embedded set's images all
// 224 x 224 (one batch pads none of them): 2 processes x 2 images and 1 x 4
// end at the same weights after 3 SGD steps.
TEST(DataParallel, TorchvisionTwoByTwoEqualsOneByFour) {
  const auto dir = work("tv_equivalence");
  const std::vector<std::string> common{
      "--iters", "3", "--set", "torchvision.min_size=160", "--set",
      "torchvision.max_size=240", "--set", "solver.warmup_iters=0", "--set", "solver.lr=0.02", "--set",
      "torchvision.rpn_batch_size_per_image=100000", "--set", "torchvision.box_batch_size_per_image=100000"};
  const std::string preset = "torchvision_mobilenet_v3_large_fpn";
  auto a1 = train_args(dir + "/one", common, preset), a2 = train_args(dir + "/two", common, preset);
  a1.insert(a1.end(), {"--set", "solver.batch_size=4"});
  a2.insert(a2.end(), {"--set", "solver.batch_size=2", "--nproc", "2"});
  ASSERT_EQ(run(a1, dir + "/one.log"), 0) << slurp(dir + "/one.log");
  ASSERT_EQ(run(a2, dir + "/two.log"), 0) << slurp(dir + "/two.log") << slurp(dir + "/two/rank1.log");
  const auto log2 = slurp(dir + "/two.log");
  EXPECT_NE(log2.find("data parallel: 2 processes (gloo), global batch 4"), std::string::npos) << log2;
  EXPECT_NE(log2.find("the torchvision detector's losses"), std::string::npos) << log2;
  EXPECT_NE(log2.find("FrozenBatchNorm2d"), std::string::npos) << log2;

  const auto cfg = config_from_json_string(engine::read_checkpoint_meta(dir + "/one/last.pt").config_json, "one");
  torch::manual_seed(cfg.solver.seed);  // the trainer's initial weights
  modeling::tv::TvFasterRCNN init(torchvision_options(cfg));
  std::map<std::string, torch::Tensor> w0;
  for (const auto& p : init->named_parameters()) w0[p.key()] = p.value().detach();
  std::map<std::string, torch::Tensor> w1, w2;
  for (auto& t : engine::read_checkpoint_weights(dir + "/one/last.pt")) w1[t.name] = t.tensor;
  for (auto& t : engine::read_checkpoint_weights(dir + "/two/last.pt")) w2[t.name] = t.tensor;
  ASSERT_EQ(w1.size(), w2.size());
  double max_diff = 0, max_moved = 0;
  for (const auto& [k, v] : w0) {
    ASSERT_TRUE(w1.count(k) && w2.count(k)) << k;
    max_diff = std::max(max_diff, (w1.at(k) - w2.at(k)).abs().max().item<double>());
    max_moved = std::max(max_moved, (w1.at(k) - v).abs().max().item<double>());
  }
  std::printf("torchvision, 3 steps: weights moved up to %.3g; 2x2 vs 1x4 differ by up to %.3g\n", max_moved,
              max_diff);
  EXPECT_GT(max_moved, 1e-3);
  // 3.7e-9 here (Intel Xeon, AVX-512 kernels) against 0.055 moved. Each rank dividing by its own sample counts
  // (no global normaliser) differs by 1.7e-6: the bound sits between, 300x above the rounding seen.
  EXPECT_LT(max_diff, 1e-5 * max_moved);
}

// SIGKILL one rank mid-run: the launcher (rank 0) stops with an error that
// names it, the last checkpoint loads, and --resume continues from it.
TEST(DataParallel, KilledRankEndsTheRunNamingItAndResumeContinues) {
  const auto dir = work("kill");
  auto args = train_args(dir + "/run", {"--nproc", "2", "--iters", "100000", "--set", "solver.batch_size=2",
                                        "--set", "solver.checkpoint_period=2", "--dist-timeout", "60"});
  auto p = start(args, {}, dir + "/rank0.log");
  ASSERT_TRUE(wait_file(dir + "/run/last.pt", 120)) << slurp(dir + "/rank0.log");
  const pid_t child = child_of(p.pid);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int st = wait_for(p, 90);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (st < 0) ::kill(p.pid, SIGKILL);
  ASSERT_EQ(st, 1) << slurp(dir + "/rank0.log");
  const auto log = slurp(dir + "/rank0.log");
  EXPECT_NE(log.find("rank 1 (pid " + std::to_string(child) + ") was killed by signal 9"), std::string::npos) << log;
  std::printf("rank 0 ended %.2f s after rank 1 was killed\n", took);
  EXPECT_LT(took, 60.0);
  const auto meta = engine::read_checkpoint_meta(dir + "/run/last.pt");
  EXPECT_GE(meta.iteration, 2);
  EXPECT_EQ(meta.world_size, 2);
  EXPECT_NO_THROW(weights(dir + "/run/last.pt"));
  // Resume on one process for two more iterations.
  auto resume = train_args(dir + "/run", {"--resume", "--iters", std::to_string(meta.iteration + 2)});
  ASSERT_EQ(run(resume, dir + "/resume.log"), 0) << slurp(dir + "/resume.log");
  EXPECT_EQ(engine::read_checkpoint_meta(dir + "/run/last.pt").iteration, meta.iteration + 2);
}

// A rank that stops answering (SIGSTOP) makes the other fail after
// --dist-timeout, naming it and the step it was last seen at.
TEST(DataParallel, HungRankIsNamedAfterTheTimeout) {
  const auto dir = work("hang");
  const std::string port = std::to_string(dist::free_local_port());
  auto env = [&](int r) {
    return std::map<std::string, std::string>{{"RANK", std::to_string(r)}, {"WORLD_SIZE", "2"},
                                              {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port},
                                              {"RCNN_THREADS", "1"}};
  };
  auto args = train_args(dir + "/run", {"--iters", "100000", "--set", "solver.batch_size=2", "--set",
                                        "solver.checkpoint_period=1", "--dist-timeout", "8"});
  auto r0 = start(args, env(0), dir + "/rank0.log");
  auto r1 = start(args, env(1), dir + "/rank1.log");
  ASSERT_TRUE(wait_file(dir + "/run/last.pt", 120)) << slurp(dir + "/rank0.log");
  ASSERT_EQ(::kill(r1.pid, SIGSTOP), 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int st = wait_for(r0, 90);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::kill(r1.pid, SIGKILL);
  ::waitpid(r1.pid, nullptr, 0);
  if (st < 0) ::kill(r0.pid, SIGKILL);
  ASSERT_EQ(st, 1) << slurp(dir + "/rank0.log");
  const auto log = slurp(dir + "/rank0.log");
  EXPECT_NE(log.find("rank 1 (at step"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped answering (its heartbeat stands still): that rank died or hangs"), std::string::npos)
      << log;
  std::printf("rank 0 ended %.2f s after rank 1 stopped (timeout 8 s)\n", took);
  EXPECT_GT(took, 4.0);
  EXPECT_LT(took, 60.0);
  EXPECT_NO_THROW(weights(dir + "/run/last.pt"));
}

TEST(DataParallel, MismatchedConfigsAreAnErrorOnEveryRank) {
  const auto dir = work("mismatch");
  const std::string port = std::to_string(dist::free_local_port());
  auto env = [&](int r) {
    return std::map<std::string, std::string>{{"RANK", std::to_string(r)}, {"WORLD_SIZE", "2"},
                                              {"MASTER_PORT", port}, {"RCNN_THREADS", "1"}};
  };
  auto r0 = start(train_args(dir + "/run", {"--iters", "3", "--set", "solver.lr=0.02"}), env(0), dir + "/r0.log");
  auto r1 = start(train_args(dir + "/run", {"--iters", "3", "--set", "solver.lr=0.01"}), env(1), dir + "/r1.log");
  EXPECT_EQ(wait_for(r0, 120), 1);
  EXPECT_EQ(wait_for(r1, 120), 1);
  for (const auto* f : {"/r0.log", "/r1.log"})
    EXPECT_NE(slurp(dir + f).find("rank 1's config differs from rank 0's: solver.lr = 0.01 (rank 0: 0.02)"),
              std::string::npos)
        << slurp(dir + f);
  EXPECT_FALSE(fs::exists(dir + "/run/last.pt"));
}

// 2 processes for 4 iterations, then one process resumes to 8: the
// iteration count, the image position in the epoch and the learning-rate
// schedule continue; every iteration is logged once.
TEST(DataParallel, ResumeWithWorldSizeTwoThenOneContinues) {
  const auto dir = work("resume");
  ASSERT_EQ(run(train_args(dir + "/run", {"--nproc", "2", "--iters", "4", "--set", "solver.batch_size=4"}),
                dir + "/a.log"),
            0)
      << slurp(dir + "/a.log");
  auto m4 = engine::read_checkpoint_meta(dir + "/run/last.pt");
  EXPECT_EQ(m4.iteration, 4);
  EXPECT_EQ(m4.world_size, 2);
  EXPECT_EQ(m4.images_in_epoch, 32);  // 4 iterations x 2 processes x 4 images
  ASSERT_EQ(run(train_args(dir + "/run", {"--resume", "--iters", "8"}), dir + "/b.log"), 0) << slurp(dir + "/b.log");
  EXPECT_NE(slurp(dir + "/b.log").find("(written by 2 processes, now 1)"), std::string::npos) << slurp(dir + "/b.log");
  auto m8 = engine::read_checkpoint_meta(dir + "/run/last.pt");
  EXPECT_EQ(m8.iteration, 8);
  EXPECT_EQ(m8.world_size, 1);
  EXPECT_EQ(m8.images_in_epoch, 48);  // + 4 iterations x 4 images
  // The first run's schedule was 4 iterations long, the resumed one's 8.
  const auto cfg8 = config_from_json_string(m8.config_json, "last.pt");
  auto cfg4 = cfg8;
  cfg4.solver.max_iters = 4;
  std::ifstream in(dir + "/run/metrics.jsonl");
  std::vector<int64_t> iters;
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l);
    if (j["type"] != "train") continue;
    iters.push_back(j["iter"].get<int64_t>());
    // The line of iteration i reports the lr step i - 1 used.
    const auto& s = iters.back() <= 4 ? cfg4.solver : cfg8.solver;
    EXPECT_DOUBLE_EQ(j["lr"].get<double>(), engine::lr_at(s, iters.back() - 1)) << l;
  }
  EXPECT_EQ(iters, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

// Two "machines" on loopback: each `rcnn train --nnodes 2 --node-rank R
// --master HOST:PORT` is one node of one process; node 1 only trains.
TEST(DataParallel, TwoNodesMeetAtTheMaster) {
  const auto dir = work("nodes");
  const std::string master = "127.0.0.1:" + std::to_string(dist::free_local_port());
  auto node = [&](int r) {
    return train_args(dir + "/run", {"--nnodes", "2", "--node-rank", std::to_string(r), "--master", master, "--iters",
                                     "2", "--set", "solver.batch_size=2"});
  };
  auto n1 = start(node(1), {}, dir + "/node1.log");
  auto n0 = start(node(0), {}, dir + "/node0.log");
  EXPECT_EQ(wait_for(n0, 180), 0) << slurp(dir + "/node0.log");
  EXPECT_EQ(wait_for(n1, 60), 0) << slurp(dir + "/node1.log");
  EXPECT_NE(slurp(dir + "/node0.log").find("data parallel: 2 processes (gloo), global batch 4"), std::string::npos);
  EXPECT_NE(slurp(dir + "/node1.log").find("rank 1 of 2 completed: completed 2 iterations"), std::string::npos)
      << slurp(dir + "/node1.log");
  EXPECT_EQ(engine::read_checkpoint_meta(dir + "/run/last.pt").world_size, 2);
  // --nnodes without --master is an error that says what to pass.
  auto bad = train_args(dir + "/bad", {"--nnodes", "2", "--iters", "1"});
  EXPECT_EQ(run(bad, dir + "/bad.log"), 1);
  EXPECT_NE(slurp(dir + "/bad.log").find("--nnodes 2 needs --master HOST:PORT"), std::string::npos)
      << slurp(dir + "/bad.log");
}
