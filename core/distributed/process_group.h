#pragma once
// One data-parallel group on PyTorch's c10d: a TCPStore rendezvous hosted by
// rank 0 and a process group on it (Gloo for CPU tensors, NCCL for CUDA
// tensors when LibTorch was built with it). Everything the trainer needs
// from the other ranks goes through here, and every failure comes back as a
// DistError that names the ranks involved.
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distributed/dist_env.h"

namespace rcnn::dist {

class DistGroup {
 public:
  // Joins the rendezvous at env.master_addr:master_port (rank 0 listens
  // there) and builds the process group for `device` (CPU: Gloo; CUDA:
  // NCCL). `abort_check`, when given, is polled while rank 0 waits for the
  // others to join: a non-empty string (e.g. "rank 1 exited with status 2")
  // ends the wait with that error at once instead of at the timeout.
  static std::shared_ptr<DistGroup> connect(const DistEnv& env, const torch::Device& device,
                                            std::function<std::string()> abort_check = {});
  ~DistGroup();

  int rank() const { return env_.rank; }
  int world() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }
  std::string backend() const { return backend_; }

  // In place, element-wise sum over the ranks (one contiguous tensor; the
  // gradient buckets flatten theirs). `what` names the step in errors.
  void allreduce_sum(torch::Tensor& t, const std::string& what);
  // In place, every rank gets root's values.
  void broadcast(torch::Tensor& t, int root, const std::string& what);
  // Waits for every rank, up to timeout_s (e.g. while rank 0 evaluates).
  void barrier(double timeout_s, const std::string& what);

  // Every rank passes its own `value` (e.g. the resolved config as JSON);
  // all of them throw, with the same message naming the first rank that
  // differs from rank 0 and how, when any differs.
  void agree(const std::string& key, const std::string& value,
             const std::function<std::string(const std::string& rank0, const std::string& mine)>& describe_diff = {});

  // The training step this rank is in; each collective also leaves its
  // sequence number in the store, so that a failure can tell which ranks
  // fell behind (and at which step they were last seen).
  void arrive(int64_t step) { step_ = step; }
  // Best effort: leaves this rank's error for the others to report.
  void post_error(const std::string& message) noexcept;

  // Bytes moved by allreduce_sum so far, and the time spent in it.
  int64_t allreduced_bytes() const { return bytes_; }
  double allreduce_seconds() const { return seconds_; }

 private:
  struct Impl;  // the c10d store and process group (their headers stay in the .cpp)
  DistGroup();
  [[noreturn]] void fail(const std::string& what, const std::string& cause);
  std::string who_is_behind();
  void mark(const std::string& what);  // before each collective

  DistEnv env_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
  int64_t step_ = -1;
  int64_t seq_ = 0;  // collectives started by this rank
  int64_t bytes_ = 0;
  double seconds_ = 0;
};

// Whether this LibTorch has the c10d backend for `device` ("gloo"/"nccl").
bool has_backend(const torch::Device& device);

}  // namespace rcnn::dist
