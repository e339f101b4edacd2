#include "distributed/process_group.h"

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

namespace rcnn::dist {

using std::chrono::milliseconds;

struct DistGroup::Impl {
  torch::Device device{torch::kCPU};  // where the backend wants tensors (NCCL: this rank's GPU)
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  // A heartbeat: a counter in the store ("hb/<rank>") that a thread of its
  // own (its own store connection) raises every second. A rank that is
  // stopped or gone stops raising it, even inside a collective, where the
  // collective counters of two ranks look alike.
  std::thread heartbeat;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;

  void start_heartbeat(const DistEnv& env) {
    heartbeat = std::thread([this, env] {
      try {
        c10d::TCPStoreOptions o;
        o.port = uint16_t(env.master_port);
        o.isServer = false;
        o.waitWorkers = false;
        o.timeout = std::chrono::milliseconds(5000);
        c10d::TCPStore beat(env.master_addr, o);
        const std::string key = "hb/" + std::to_string(env.rank);
        for (int64_t n = 1;; ++n) {
          const std::string v = std::to_string(n);
          beat.set(key, std::vector<uint8_t>(v.begin(), v.end()));
          std::unique_lock<std::mutex> lk(mu);
          if (cv.wait_for(lk, std::chrono::seconds(1), [&] { return stop; })) return;
        }
      } catch (...) {
        // The store is gone (rank 0 ended): nothing left to tell.
      }
    });
  }
  ~Impl() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }
};

DistGroup::DistGroup() : impl_(std::make_unique<Impl>()) {}
DistGroup::~DistGroup() = default;

namespace {
milliseconds ms(double s) { return milliseconds(int64_t(s * 1000.0)); }

// The first line of an exception's text, without c10's backtrace.
std::string first_line(const std::exception& e) {
  std::string s;
  if (auto* c = dynamic_cast<const c10::Error*>(&e))
    s = c->what_without_backtrace();
  else
    s = e.what();
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s = s.substr(0, nl);
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

std::string bytes_str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> to_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
}  // namespace

bool has_backend(const torch::Device& device) {
#ifdef USE_C10D_NCCL
  if (device.is_cuda()) return true;
#endif
#ifdef USE_C10D_GLOO
  if (device.is_cpu()) return true;
#endif
  (void)device;
  return false;
}

std::shared_ptr<DistGroup> DistGroup::connect(const DistEnv& env, const torch::Device& device,
                                              std::function<std::string()> abort_check) {
  validate(env);
  std::shared_ptr<DistGroup> g(new DistGroup());
  g->env_ = env;
  g->impl_->device = device;
  const std::string who = "rank " + std::to_string(env.rank);
  const std::string addr = env.master_addr + ":" + std::to_string(env.master_port);
  if (!has_backend(device))
    throw DistError(device.is_cuda() ? "this LibTorch has no NCCL backend (CPU-only build): train on the CPU "
                                       "(Gloo) or build against a CUDA LibTorch"
                                     : "this build has no c10d Gloo backend (configure with the gloo headers, "
                                       "Debian's libgloo-dev)");
  c10d::TCPStoreOptions so;
  so.port = uint16_t(env.master_port);
  so.isServer = env.rank == 0;
  so.waitWorkers = false;  // rank 0 waits below, where it can notice a worker that died
  so.timeout = ms(env.timeout_s);
  try {
    g->impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    const std::string why = first_line(e);
    if (env.rank == 0)
      throw DistError(who + ": cannot listen for the rendezvous on " + addr + " (" + why +
                      "); is another run using the port? Pick another with --master HOST:PORT or MASTER_PORT");
    throw DistError(who + ": cannot reach the master " + addr + " within " + std::to_string(int(env.timeout_s)) +
                    " s (" + why + "); is rank 0 running there, and are the address and port right?");
  }
  auto& store = *g->impl_->store;
  try {
    store.set("joined/" + std::to_string(env.rank), to_bytes(env.describe()));
    if (env.rank == 0) {
      const auto deadline = std::chrono::steady_clock::now() + ms(env.timeout_s);
      for (;;) {
        std::vector<std::string> missing;
        for (int r = 1; r < env.world_size; ++r)
          if (!store.check({"joined/" + std::to_string(r)})) missing.push_back(std::to_string(r));
        if (missing.empty()) break;
        if (abort_check) {
          const std::string why = abort_check();
          if (!why.empty()) throw DistError("rendezvous on " + addr + " abandoned: " + why);
        }
        if (std::chrono::steady_clock::now() > deadline) {
          std::string list;
          for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
          throw DistError("rendezvous on " + addr + ": rank(s) " + list + " did not join within " +
                          std::to_string(int(env.timeout_s)) + " s");
        }
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
  } catch (const DistError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistError(who + ": rendezvous on " + addr + " failed: " + first_line(e));
  }
  try {
    if (device.is_cuda()) {
#ifdef USE_C10D_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = ms(env.timeout_s);
      g->impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->impl_->store, env.rank, env.world_size, opts);
      g->backend_ = "nccl";
#endif
    } else {
#ifdef USE_C10D_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(ms(env.timeout_s));
      // One machine: loopback. Several: the interface named by
      // GLOO_SOCKET_IFNAME, else the one this host name resolves to.
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (env.local_world_size == env.world_size)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      g->impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->impl_->store, env.rank, env.world_size, opts);
      g->backend_ = "gloo";
#endif
    }
  } catch (const std::exception& e) {
    g->fail("building the " + std::string(device.is_cuda() ? "NCCL" : "Gloo") + " process group", first_line(e));
  }
  g->impl_->start_heartbeat(env);
  return g;
}

void DistGroup::fail(const std::string& what, const std::string& cause) {
  std::string msg = "rank " + std::to_string(env_.rank) + ": " + what + " failed (" + cause + ")";
  const std::string behind = who_is_behind();
  if (!behind.empty()) msg += "; " + behind;
  throw DistError(msg);
}

std::string DistGroup::who_is_behind() {
  auto& store = *impl_->store;
  try {
    store.setTimeout(milliseconds(2000));
    // Heartbeats now and 2.5 s later: a rank whose count did not move is stopped or gone.
    auto beats = [&] {
      std::vector<int64_t> b(size_t(env_.world_size), -1);
      for (int r = 0; r < env_.world_size; ++r) {
        const std::string k = "hb/" + std::to_string(r);
        if (r != env_.rank && store.check({k})) b[size_t(r)] = std::stoll(bytes_str(store.get(k)));
      }
      return b;
    };
    const auto before = beats();
    std::this_thread::sleep_for(milliseconds(2500));
    const auto after = beats();
    std::string errors, late, silent;
    for (int r = 0; r < env_.world_size; ++r) {
      if (r == env_.rank) continue;
      const std::string ek = "error/" + std::to_string(r);
      if (store.check({ek})) {
        errors += (errors.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + " reported: " +
                  bytes_str(store.get(ek));
        continue;
      }
      const std::string sk = "seq/" + std::to_string(r);
      int64_t seq = 0, step = -1;
      if (store.check({sk})) std::istringstream(bytes_str(store.get(sk))) >> seq >> step;
      const std::string where = step < 0 ? " (before its first step)" : " (at step " + std::to_string(step) + ")";
      if (after[size_t(r)] == before[size_t(r)])
        silent += (silent.empty() ? "" : ", ") + std::string("rank ") + std::to_string(r) + where;
      else if (seq < seq_)
        late += (late.empty() ? "" : ", ") + std::string("rank ") + std::to_string(r) + where;
    }
    store.setTimeout(ms(env_.timeout_s));
    if (!errors.empty()) return errors;
    if (!silent.empty()) return silent + " stopped answering (its heartbeat stands still): that rank died or hangs";
    if (!late.empty())
      return "waiting for " + late + (step_ >= 0 ? " at step " + std::to_string(step_) : std::string()) +
             ": that rank died or hangs";
    return "";
  } catch (const std::exception&) {
    if (env_.rank == 0) return "";
    return "the rendezvous store on rank 0 (" + env_.master_addr + ":" + std::to_string(env_.master_port) +
           ") does not answer: rank 0 died or hangs";
  }
}

void DistGroup::allreduce_sum(torch::Tensor& t, const std::string& what) {
  mark(what);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    // NCCL reduces tensors on its GPU: small CPU tensors (losses, counts) go there and back.
    const bool move = t.device() != impl_->device;
    std::vector<torch::Tensor> v{move ? t.to(impl_->device) : t};
    impl_->pg->allreduce(v)->wait();
    if (move) t.copy_(v[0]);
  } catch (const std::exception& e) {
    fail(what, first_line(e));
  }
  bytes_ += int64_t(t.numel() * t.element_size());
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void DistGroup::broadcast(torch::Tensor& t, int root, const std::string& what) {
  mark(what);
  try {
    const bool move = t.device() != impl_->device;
    std::vector<torch::Tensor> v{move ? t.to(impl_->device) : t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->pg->broadcast(v, o)->wait();
    if (move) t.copy_(v[0]);
  } catch (const std::exception& e) {
    fail(what, first_line(e));
  }
}

void DistGroup::barrier(double timeout_s, const std::string& what) {
  mark(what);
  try {
    // A barrier is an all-reduce of one number with its own timeout (Gloo's
    // barrier would wait with the group's).
    std::vector<torch::Tensor> v{torch::ones({1}, torch::TensorOptions().device(impl_->device))};
    c10d::AllreduceOptions o;
    o.timeout = ms(timeout_s);
    impl_->pg->allreduce(v, o)->wait();
  } catch (const std::exception& e) {
    fail(what, first_line(e));
  }
}

void DistGroup::agree(const std::string& key, const std::string& value,
                      const std::function<std::string(const std::string&, const std::string&)>& describe_diff) {
  auto& store = *impl_->store;
  const std::string k = "agree/" + key;
  std::string rank0 = value;
  bool differs = false;
  try {
    if (env_.rank == 0) {
      store.set(k, to_bytes(value));
    } else {
      rank0 = bytes_str(store.get(k));
      differs = rank0 != value;
      if (differs)
        store.set(k + "/diff/" + std::to_string(env_.rank),
                  to_bytes(describe_diff ? describe_diff(rank0, value) : std::string("differs")));
    }
  } catch (const std::exception& e) {
    fail("comparing " + key + " with rank 0", first_line(e));
  }
  auto flag = torch::full({1}, differs ? 1.0f : 0.0f);
  allreduce_sum(flag, "comparing " + key + " across ranks");
  if (flag.item<float>() == 0) return;
  std::string msg;
  for (int r = 1; r < env_.world_size && msg.empty(); ++r) {
    const std::string dk = k + "/diff/" + std::to_string(r);
    try {
      if (store.check({dk}))
        msg = "rank " + std::to_string(r) + "'s " + key + " differs from rank 0's: " + bytes_str(store.get(dk));
    } catch (const std::exception&) {
    }
  }
  throw DistError(msg.empty() ? key + " differs across ranks" : msg);
}

void DistGroup::mark(const std::string& what) {
  ++seq_;
  try {
    impl_->store->set("seq/" + std::to_string(env_.rank),
                      to_bytes(std::to_string(seq_) + " " + std::to_string(step_)));
  } catch (const std::exception& e) {
    fail(what + " (reporting to the rendezvous store)", first_line(e));
  }
}

void DistGroup::post_error(const std::string& message) noexcept {
  try {
    impl_->store->setTimeout(milliseconds(1000));
    impl_->store->set("error/" + std::to_string(env_.rank), to_bytes(message));
  } catch (...) {
  }
}

}  // namespace rcnn::dist
