// rcnn_bench cases of data parallelism (bench/data_parallel.sh measures whole training runs).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <atomic>
#include <future>
#include <thread>

#include "distributed/process_group.h"

using namespace rcnn;

// Data parallelism's communication alone: the gradient all-reduce of two
// ranks (threads of this process, Gloo over loopback) on a flat float
// buffer of range(0) KiB (5918 KiB: the default preset's gradients; 25 MiB:
// one full bucket). Peer: a memcpy of the same bytes.
static void BM_GlooAllreduce2Ranks(benchmark::State& st) {
  const int64_t n = st.range(0) * 1024 / 4;
  const int port = dist::free_local_port();
  auto env = [&](int r) {
    dist::DistEnv e;
    e.rank = r;
    e.world_size = e.local_world_size = 2;
    e.local_rank = r;
    e.master_port = port;
    return e;
  };
  auto peer = std::async(std::launch::async, [&] { return dist::DistGroup::connect(env(1), torch::kCPU); });
  auto g0 = dist::DistGroup::connect(env(0), torch::kCPU);
  auto g1 = peer.get();
  auto a = torch::randn({n}), b = torch::randn({n});
  std::atomic<bool> go{true};
  std::atomic<int64_t> rounds{0};
  std::thread other([&] {  // rank 1 mirrors every round rank 0 starts
    for (int64_t k = 0;; ++k) {
      while (rounds.load() <= k)
        if (!go.load()) return;
      g1->allreduce_sum(b, "bench");
    }
  });
  for (auto _ : st) {
    ++rounds;
    g0->allreduce_sum(a, "bench");
  }
  go = false;
  other.join();
  st.SetBytesProcessed(st.iterations() * n * 4);
}
static void BM_MemcpyPeer(benchmark::State& st) {
  const int64_t n = st.range(0) * 1024 / 4;
  auto a = torch::randn({n}), b = torch::empty({n});
  for (auto _ : st) b.copy_(a);
  st.SetBytesProcessed(st.iterations() * n * 4);
}
BENCHMARK(BM_GlooAllreduce2Ranks)->Arg(5918)->Arg(25600)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemcpyPeer)->Arg(5918)->Arg(25600)->Unit(benchmark::kMillisecond);
