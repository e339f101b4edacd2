#pragma once
// Where this process sits in a data-parallel run: its rank, the world size
// and the rendezvous address. No torch types (the api layer and the
// launcher include it).
//
// The environment variables are torchrun's, so `torchrun --nproc_per_node 2
// rcnn train ...` works as well as `rcnn train --nproc 2`:
//   RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT.
#include <optional>
#include <stdexcept>
#include <string>

namespace rcnn::dist {

struct DistError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DistEnv {
  int rank = 0;              // global rank, 0 .. world_size - 1
  int world_size = 1;        // nnodes * nproc
  int local_rank = 0;        // rank on this machine (its GPU with NCCL)
  int local_world_size = 1;  // processes on this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // A collective (or the rendezvous) that waits longer than this fails and
  // names the ranks it was waiting for.
  double timeout_s = 120;

  bool distributed() const { return world_size > 1; }
  std::string describe() const;  // "rank 1 of 2 (local 1 of 2), master 127.0.0.1:29500"
};

// Reads the torchrun variables. nullopt when WORLD_SIZE is unset. Throws
// DistError naming the variable when one is malformed or inconsistent
// (RANK outside [0, WORLD_SIZE), a port outside 1..65535, ...).
std::optional<DistEnv> env_from_environment();

// "HOST:PORT" (an IPv6 address in brackets: "[::1]:29500"). Throws DistError.
void parse_master(const std::string& spec, DistEnv& env);

// Checks ranks, sizes and port; throws DistError naming the field.
void validate(const DistEnv& env);

// A TCP port on 127.0.0.1 that nothing listens on at the time of the call.
int free_local_port();

}  // namespace rcnn::dist
