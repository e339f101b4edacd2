// Crash safety of training: `rcnn train` killed with SIGKILL at random
// moments (some inside checkpoint writes) and resumed, again and again,
// must end where an uninterrupted run with the same seed ends, bit for bit,
// with a continuous iteration count and a clean metrics.jsonl. Also: a full
// disk and a read-only run directory are clear errors that keep the last
// good checkpoint.
//
// RCNN_SOAK_KILLS (default 4), RCNN_SOAK_ITERS (default 40) and
// RCNN_SOAK_SEED set the soak's size; scripts/kill9-soak.sh runs 20 kills.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>

#include "../proc_util.h"
#include "engine/checkpoint.h"

namespace fs = std::filesystem;
using namespace rcnn;
using namespace proc_util;

namespace {
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

std::string work(const std::string& name) {
  auto d = fs::path(RCNN_SOAK_WORK) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

constexpr int kCheckpointPeriod = 3;

// The detector a soak trains: the seed's fast preset, or a torchvision
// MobileNetV3-FPN (random weights, small inputs, a short warm-up so that
// SGD's momentum matters by the first checkpoint).
std::vector<std::string> g_family{"--config", "fast"};

std::vector<std::string> train_args(const std::string& run_dir, int iters, bool resume) {
  std::vector<std::string> a{"train", "--run-dir", run_dir, "--iters", std::to_string(iters),
                             "--set", "solver.batch_size=2", "--set", "solver.eval_period=0",
                             "--set", "solver.log_period=1",
                             "--set", "solver.checkpoint_period=" + std::to_string(kCheckpointPeriod)};
  a.insert(a.end(), g_family.begin(), g_family.end());
  if (resume) a.push_back("--resume");
  return a;
}
const std::vector<std::string> kTorchvision{"--config",
                                            "torchvision_mobilenet_v3_large_fpn",
                                            "--set",
                                            "torchvision.min_size=160",
                                            "--set",
                                            "torchvision.max_size=240",
                                            "--set",
                                            "solver.warmup_iters=2"};
const std::map<std::string, std::string> kEnv{{"RCNN_THREADS", "1"}};

// Every parameter and buffer of a checkpoint (any family).
std::map<std::string, torch::Tensor> state(const std::string& ckpt) {
  std::map<std::string, torch::Tensor> s;
  for (auto& t : engine::read_checkpoint_weights(ckpt)) s[t.name] = t.tensor;
  EXPECT_GT(s.size(), 10u) << ckpt;
  return s;
}

// The "train" lines' iterations; every line must be whole JSON.
std::vector<int64_t> logged_iters(const std::string& metrics, std::string* torn) {
  std::ifstream in(metrics);
  std::vector<int64_t> out;
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_discarded()) {
      if (torn) *torn += l + "\n";
      continue;
    }
    if (j.value("type", "") == "train") out.push_back(j["iter"].get<int64_t>());
  }
  return out;
}

// A temporary file of an atomic write (of `prefix`: "last.pt" for a checkpoint), i.e. a write under way or killed.
bool has_temp_file(const std::string& dir, const std::string& prefix = "") {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto n = e.path().filename().string();
    if (n.find(".tmp") != std::string::npos && n.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void soak(const std::string& name, int kills, int iters) {
  std::mt19937 rng(uint32_t(env_int("RCNN_SOAK_SEED", 7)));
  const auto dir = work(name);
  // The uninterrupted run; its timing spreads the kills over the whole run.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run(train_args(dir + "/ref", iters, false), dir + "/ref.log", 600, kEnv), 0) << slurp(dir + "/ref.log");
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double training = 0;
  {
    std::ifstream in(dir + "/ref/metrics.jsonl");
    for (std::string l; std::getline(in, l);) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("type", "") == "train") training = j["elapsed_s"].get<double>();
    }
  }
  // Kill k lands once the run has logged about (k + 1) / (kills + 1) of its
  // iterations, plus a random part of an iteration (so anywhere in a step:
  // forward, backward, the optimizer, a metrics line or a checkpoint).
  const double per_iter = training / double(iters);
  std::printf("uninterrupted run: %.1f s (%.1f s training, %.0f ms an iteration)\n", total, training,
              1000 * per_iter);
  std::uniform_real_distribution<double> within(0.0, 1.5 * per_iter);
  const std::string run_dir = dir + "/run", last = run_dir + "/last.pt";
  int64_t prev_ck = 0;
  int done = 0, in_writes = 0, finished_early = 0;
  for (int k = 0; k < kills; ++k) {
    const bool resume = fs::exists(last);
    const std::string log = dir + "/attempt" + std::to_string(k) + ".log";
    auto p = start(train_args(run_dir, iters, resume), kEnv, log);
    // Every third kill waits for a checkpoint write to be under way (its
    // temporary file exists); the others land at a random moment.
    const bool in_write = k % 3 == 2;
    if (in_write) {
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!has_temp_file(run_dir, "last.pt") && std::chrono::steady_clock::now() < end && wait_for(p, 0) < 0)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    } else {
      const int64_t target = int64_t(double(k + 1) * iters / double(kills + 1));
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      for (;;) {
        const auto seen = logged_iters(run_dir + "/metrics.jsonl", nullptr);
        if ((!seen.empty() && seen.back() >= target) || std::chrono::steady_clock::now() > end || wait_for(p, 0) >= 0)
          break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(int64_t(1e6 * within(rng))));
    }
    const bool writing = has_temp_file(run_dir, "last.pt");
    ::kill(p.pid, SIGKILL);
    const int st = wait_for(p, 30);
    if (st == 0) {  // it finished before the kill: nothing left to interrupt
      ++finished_early;
      break;
    }
    ASSERT_EQ(st, 128 + SIGKILL) << slurp(log);
    ++done;
    in_writes += (in_write && writing) ? 1 : 0;
    if (!fs::exists(last)) continue;  // killed before its first checkpoint
    // The checkpoint never goes back, and the run got at most one
    // checkpoint interval past it before the kill.
    const int64_t ck = engine::read_checkpoint_meta(last).iteration;
    const auto seen = logged_iters(run_dir + "/metrics.jsonl", nullptr);
    const int64_t reached = seen.empty() ? 0 : seen.back();
    EXPECT_GE(ck, prev_ck) << "attempt " << k;
    EXPECT_LE(reached - ck, kCheckpointPeriod) << "attempt " << k << ": reached " << reached << ", checkpoint " << ck;
    std::printf("attempt %d: killed%s at iteration %lld, resumes from checkpoint %lld\n", k,
                in_write && writing ? " inside a checkpoint write" : "", (long long)reached, (long long)ck);
    prev_ck = ck;
  }
  // And to the end.
  ASSERT_EQ(run(train_args(run_dir, iters, fs::exists(last)), dir + "/final.log", 600, kEnv), 0)
      << slurp(dir + "/final.log");
  std::printf("%d SIGKILLs (%d inside a checkpoint write, %d attempts finished first), then resumed to %d\n", done,
              in_writes, finished_early, iters);
  EXPECT_GE(done, std::max(1, kills / 2));
  EXPECT_EQ(engine::read_checkpoint_meta(last).iteration, iters);
  std::string torn;
  const auto seen = logged_iters(run_dir + "/metrics.jsonl", &torn);
  EXPECT_TRUE(torn.empty()) << "torn lines:\n" << torn;
  std::vector<int64_t> want(static_cast<size_t>(iters));
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(seen, want) << "every iteration logged once, in order";
  EXPECT_FALSE(has_temp_file(run_dir)) << "a killed write's temporary file was left behind";
  // Bit for bit the uninterrupted run's weights, BatchNorm statistics included.
  const auto a = state(dir + "/ref/last.pt"), b = state(last);
  ASSERT_EQ(a.size(), b.size());
  int differ = 0;
  for (const auto& [key, t] : a)
    if (!torch::equal(t, b.at(key))) ++differ, ADD_FAILURE() << key << " differs from the uninterrupted run";
  EXPECT_EQ(differ, 0);
}
}  // namespace

TEST(KillSoak, SigkillAndResumeEndBitExactWithAContinuousLog) {
  g_family = {"--config", "fast"};
  soak("soak", env_int("RCNN_SOAK_KILLS", 4), env_int("RCNN_SOAK_ITERS", 40));
}

// The same soak fine-tuning a torchvision model through the same trainer:
// its weights, SGD's momentum, the data order and the samplers' draws resume
// bit for bit, with last.pth (torch.save) written beside each last.pt.
TEST(KillSoak, TorchvisionSigkillAndResumeEndBitExact) {
  g_family = kTorchvision;
  soak("soak_tv", env_int("RCNN_SOAK_KILLS", 3), env_int("RCNN_SOAK_ITERS", 15));
  EXPECT_TRUE(fs::exists(fs::path(RCNN_SOAK_WORK) / "soak_tv/run/last.pth"));
}

// A tmpfs of a few MB as the run directory: the first checkpoint fits, the
// second cannot be written next to it. The run stops with an error naming
// the file and the reason, and the first checkpoint is intact. Then the same
// file system read-only: resuming is a clear error too.
TEST(KillSoak, FullDiskAndReadOnlyRunDirectoryKeepTheLastCheckpoint) {
  g_family = {"--config", "fast"};
  const auto dir = work("disk");
  const std::string mnt = dir + "/small";
  fs::create_directories(mnt);
  // A checkpoint of the fast preset is about 5.7 MB (weights and momentum).
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=9m") != 0)
    GTEST_SKIP() << "cannot mount a small tmpfs here (" << std::strerror(errno) << "); needs root";
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string run_dir = mnt + "/run", last = run_dir + "/last.pt";
  const int st = run(train_args(run_dir, 30, false), dir + "/full.log", 600, kEnv);
  const auto log = slurp(dir + "/full.log");
  EXPECT_EQ(st, 1) << log;
  EXPECT_NE(log.find(last + ": write failed (No space left on device)"), std::string::npos) << log;
  EXPECT_NE(log.find("the last good checkpoint " + last + " (iteration 3) is kept"), std::string::npos) << log;
  EXPECT_EQ(engine::read_checkpoint_meta(last).iteration, kCheckpointPeriod);
  EXPECT_NO_THROW(state(last));
  EXPECT_FALSE(has_temp_file(run_dir));

  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=9m"), 0) << std::strerror(errno);
  const auto before = slurp(last);
  EXPECT_EQ(run(train_args(run_dir, 30, true), dir + "/ro.log", 600, kEnv), 1);
  const auto ro = slurp(dir + "/ro.log");
  EXPECT_NE(ro.find("Read-only file system"), std::string::npos) << ro;
  EXPECT_NE(ro.find(run_dir), std::string::npos) << ro;
  EXPECT_EQ(slurp(last), before);
}
