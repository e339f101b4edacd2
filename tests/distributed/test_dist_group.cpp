// The c10d group in one process: two ranks on two threads over loopback
// (Gloo, a TCPStore on a free port), as PyTorch's own c10d tests do.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "distributed/grad_sync.h"
#include "distributed/process_group.h"
#include "modeling/faster_rcnn.h"

using namespace rcnn;

namespace {
dist::DistEnv env_for(int rank, int world, int port, double timeout = 20) {
  dist::DistEnv e;
  e.rank = rank;
  e.world_size = world;
  e.local_rank = rank;
  e.local_world_size = world;
  e.master_port = port;
  e.timeout_s = timeout;
  return e;
}

// Runs fn(group) on `world` ranks (threads); returns each rank's result or
// the text of what it threw.
template <class F>
std::vector<std::string> on_ranks(int world, F fn) {
  const int port = dist::free_local_port();
  std::vector<std::future<std::string>> fs;
  for (int r = 0; r < world; ++r)
    fs.push_back(std::async(std::launch::async, [=]() -> std::string {
      try {
        auto g = dist::DistGroup::connect(env_for(r, world, port), torch::kCPU);
        return fn(*g);
      } catch (const std::exception& e) {
        return std::string("threw: ") + e.what();
      }
    }));
  std::vector<std::string> out;
  for (auto& f : fs) out.push_back(f.get());
  return out;
}
}  // namespace

TEST(DistGroup, AllreduceSumsAndBroadcastCopiesRoot) {
  auto res = on_ranks(3, [](dist::DistGroup& g) {
    auto t = torch::tensor({1.f, 2.f}) * float(g.rank() + 1);
    g.allreduce_sum(t, "test");
    auto b = torch::full({2}, float(g.rank()));
    g.broadcast(b, 2, "test");
    return std::to_string(t[0].item<float>()) + " " + std::to_string(t[1].item<float>()) + " " +
           std::to_string(b[0].item<float>());
  });
  // (1 + 2 + 3) * (1, 2); root 2's value everywhere.
  for (const auto& r : res) EXPECT_EQ(r, "6.000000 12.000000 2.000000");
}

TEST(DistGroup, GradBucketsAverageWithUndefinedGradients) {
  // Three parameters in buckets of 16 bytes (so several buckets). a: every
  // rank has a gradient; b: only rank 1; c: none (stays undefined, as it
  // would on one process).
  auto res = on_ranks(2, [](dist::DistGroup& g) {
    auto a = torch::zeros({3}, torch::requires_grad()), b = torch::zeros({2}, torch::requires_grad()),
         c = torch::zeros({2}, torch::requires_grad());
    a.mutable_grad() = torch::tensor({1.f, 2.f, 3.f}) * float(g.rank() + 1);
    if (g.rank() == 1) b.mutable_grad() = torch::tensor({4.f, 8.f});
    dist::GradBuckets buckets({a, b, c}, 16);
    EXPECT_GE(buckets.num_buckets(), 2u);
    buckets.average(g);
    std::ostringstream os;
    os << a.grad()[0].item<float>() << "," << a.grad()[2].item<float>() << " " << b.grad()[1].item<float>() << " "
       << c.grad().defined();
    return os.str();
  });
  // a: (1,2,3)(1 + 2) / 2 = (1.5, 3, 4.5); b: (0 + 8) / 2 = 4; c undefined.
  for (const auto& r : res) EXPECT_EQ(r, "1.5,4.5 4 0");
}

TEST(DistGroup, AgreeNamesTheRankAndTheDifference) {
  auto res = on_ranks(3, [](dist::DistGroup& g) {
    const std::string mine = g.rank() == 2 ? "lr=0.01" : "lr=0.02";
    g.agree("config", mine, [](const std::string& a, const std::string& b) { return b + " vs " + a; });
    return std::string("agreed");
  });
  for (const auto& r : res) EXPECT_EQ(r, "threw: rank 2's config differs from rank 0's: lr=0.01 vs lr=0.02");
  auto ok = on_ranks(2, [](dist::DistGroup& g) {
    g.agree("config", "same", {});
    return std::string("agreed");
  });
  for (const auto& r : ok) EXPECT_EQ(r, "agreed");
}

TEST(DistGroup, PortInUseIsAClearError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  try {
    dist::DistGroup::connect(env_for(0, 2, port, 5), torch::kCPU);
    ADD_FAILURE() << "rank 0 listened on a port in use";
  } catch (const dist::DistError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot listen for the rendezvous on 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << m;
    EXPECT_NE(m.find("--master HOST:PORT"), std::string::npos) << m;
  }
  ::close(fd);
}

TEST(DistGroup, UnreachableMasterIsAClearError) {
  const int port = dist::free_local_port();  // nobody listens there
  const auto t0 = std::chrono::steady_clock::now();
  try {
    dist::DistGroup::connect(env_for(1, 2, port, 3), torch::kCPU);
    ADD_FAILURE() << "rank 1 joined a rendezvous nobody hosts";
  } catch (const dist::DistError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank 1: cannot reach the master 127.0.0.1:" + std::to_string(port) + " within 3 s"),
              std::string::npos)
        << m;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
}

TEST(DistGroup, RankThatNeverJoinsIsNamed) {
  const int port = dist::free_local_port();
  try {
    dist::DistGroup::connect(env_for(0, 3, port, 2), torch::kCPU);
    ADD_FAILURE();
  } catch (const dist::DistError& e) {
    EXPECT_NE(std::string(e.what()).find("rank(s) 1, 2 did not join within 2 s"), std::string::npos) << e.what();
  }
}

TEST(DistEnv, TorchrunVariablesAreReadAndChecked) {
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  ::setenv("LOCAL_WORLD_SIZE", "2", 1);
  ::setenv("MASTER_ADDR", "10.1.2.3", 1);
  ::setenv("MASTER_PORT", "29555", 1);
  auto e = dist::env_from_environment();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->describe(), "rank 3 of 4 (local 1 of 2), master 10.1.2.3:29555");
  ::setenv("RANK", "4", 1);
  EXPECT_THROW(dist::env_from_environment(), dist::DistError);
  ::setenv("RANK", "x", 1);
  try {
    dist::env_from_environment();
    ADD_FAILURE();
  } catch (const dist::DistError& err) {
    EXPECT_NE(std::string(err.what()).find("RANK='x' is not a non-negative integer"), std::string::npos);
  }
  for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
    ::unsetenv(v);
  EXPECT_FALSE(dist::env_from_environment());
  dist::DistEnv m;
  dist::parse_master("[::1]:1234", m);
  EXPECT_EQ(m.master_addr, "::1");
  EXPECT_EQ(m.master_port, 1234);
  EXPECT_THROW(dist::parse_master("host", m), dist::DistError);
  EXPECT_THROW(dist::parse_master("host:70000", m), dist::DistError);
}

TEST(DistGroup, LateRankIsNamedWhenACollectiveTimesOut) {
  const int port = dist::free_local_port();
  std::promise<void> release;
  auto released = release.get_future().share();
  auto hung = std::async(std::launch::async, [&] {
    auto g = dist::DistGroup::connect(env_for(1, 2, port, 2), torch::kCPU);
    g->arrive(7);
    auto t = torch::ones({1});
    g->allreduce_sum(t, "first");
    released.wait();  // "hangs" in its step 8 compute, never reaching the second all-reduce
  });
  std::string msg;
  {
    auto g = dist::DistGroup::connect(env_for(0, 2, port, 2), torch::kCPU);
    g->arrive(7);
    auto t = torch::ones({1});
    g->allreduce_sum(t, "first");
    g->arrive(8);
    try {
      g->allreduce_sum(t, "second");
    } catch (const dist::DistError& e) {
      msg = e.what();
    }
    release.set_value();
    hung.get();
  }
  EXPECT_NE(msg.find("rank 0: second failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("waiting for rank 1 (at step 7) at step 8: that rank died or hangs"), std::string::npos) << msg;
}

// The loss normalisation of data parallelism, on the model itself: a batch
// of 4 images split 3 + 1 over two ranks (so their sample counts differ
// threefold) gives, after the averaged all-reduce, the gradients of the
// 4-image batch on one process. Every labelled anchor and RoI is sampled
// and BatchNorm uses its running statistics, so nothing else differs.
TEST(DistGroup, SplitBatchGradientsEqualTheWholeBatch) {
  auto cfg = load_preset("default");
  cfg.rpn.batch_size_per_image = 100000;
  cfg.roi.batch_size_per_image = 100000;
  torch::manual_seed(5);
  auto images = torch::randn({4, 3, 224, 224});
  auto gt = torch::full({4, 3, 5}, -1.f);
  gt[0][0] = torch::tensor({10.f, 20.f, 120.f, 150.f, 2.f});
  gt[0][1] = torch::tensor({100.f, 30.f, 200.f, 90.f, 5.f});
  gt[0][2] = torch::tensor({50.f, 110.f, 90.f, 210.f, 1.f});
  gt[1][0] = torch::tensor({60.f, 60.f, 160.f, 160.f, 3.f});
  gt[3][0] = torch::tensor({0.f, 0.f, 40.f, 30.f, 7.f});  // image 2 has no object
  auto make = [&] {
    torch::manual_seed(1);
    modeling::FasterRCNN m(cfg);
    m->train();
    for (auto& c : m->modules(false))
      if (c->as<torch::nn::BatchNorm2d>() || c->as<torch::nn::BatchNorm1d>()) c->eval();
    return m;
  };
  auto whole = make();
  auto gen = at::detail::createCPUGenerator(3);
  std::map<std::string, torch::Tensor> ref;
  {
    torch::Tensor total = torch::zeros({});
    for (auto& [k, v] : whole->forward_train(images, gt, gen)) total = total + v;
    total.backward();
    for (auto& p : whole->named_parameters())
      if (p.value().grad().defined()) ref[p.key()] = p.value().grad().clone();
  }
  std::vector<std::map<std::string, torch::Tensor>> got(2);
  for (bool global : {true, false}) {
    std::vector<modeling::FasterRCNN> models{make(), make()};  // here: the global RNG is not for threads
    on_ranks(2, [&](dist::DistGroup& g) {
      auto m = models[size_t(g.rank())];
      const int64_t from = g.rank() == 0 ? 0 : 3, n = g.rank() == 0 ? 3 : 1;
      modeling::SampleNormalizer norm;
      if (global) norm = dist::global_sample_normalizer(g, [] { return std::string("test"); });
      torch::Tensor total = torch::zeros({});
      for (auto& [k, v] : m->forward_train(images.narrow(0, from, n), gt.narrow(0, from, n),
                                           at::detail::createCPUGenerator(3), norm))
        total = total + v;
      total.backward();
      dist::GradBuckets(m->parameters()).average(g);
      if (g.rank() == 0)
        for (auto& p : m->named_parameters())
          if (p.value().grad().defined()) got[global ? 0 : 1][p.key()] = p.value().grad().clone();
      return std::string();
    });
  }
  ASSERT_EQ(got[0].size(), ref.size());
  double diff = 0, broken = 0, scale = 0;
  for (const auto& [k, v] : ref) {
    diff = std::max(diff, (got[0].at(k) - v).abs().max().item<double>());
    broken = std::max(broken, (got[1].at(k) - v).abs().max().item<double>());
    scale = std::max(scale, v.abs().max().item<double>());
  }
  std::printf("largest gradient %.3g; split 3+1 differs by %.3g (each rank normalising alone: %.3g)\n", scale, diff,
              broken);
  EXPECT_LT(diff, 1e-5 * scale);
  EXPECT_GT(broken, 1e-4 * scale);  // the check can tell (about 1e-3 here)
}
