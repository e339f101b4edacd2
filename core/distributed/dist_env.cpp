#include "distributed/dist_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace rcnn::dist {

namespace {
int parse_int(const char* name, const std::string& text) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(text, &used);
  } catch (...) {
    used = 0;
  }
  if (text.empty() || used != text.size() || v < 0 || v > 1'000'000)
    throw DistError(std::string(name) + "='" + text + "' is not a non-negative integer");
  return int(v);
}
std::optional<std::string> get(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}
}  // namespace

std::string DistEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (local " +
         std::to_string(local_rank) + " of " + std::to_string(local_world_size) + "), master " + master_addr + ":" +
         std::to_string(master_port);
}

void validate(const DistEnv& e) {
  if (e.world_size < 1) throw DistError("world size " + std::to_string(e.world_size) + " must be >= 1");
  if (e.rank < 0 || e.rank >= e.world_size)
    throw DistError("rank " + std::to_string(e.rank) + " is outside [0, " + std::to_string(e.world_size) + ")");
  if (e.local_world_size < 1 || e.local_world_size > e.world_size)
    throw DistError("local world size " + std::to_string(e.local_world_size) + " must be in [1, world size " +
                    std::to_string(e.world_size) + "]");
  if (e.local_rank < 0 || e.local_rank >= e.local_world_size)
    throw DistError("local rank " + std::to_string(e.local_rank) + " is outside [0, " +
                    std::to_string(e.local_world_size) + ")");
  if (e.master_port < 1 || e.master_port > 65535)
    throw DistError("master port " + std::to_string(e.master_port) + " is outside 1..65535");
  if (e.master_addr.empty()) throw DistError("the master address is empty");
  if (!(e.timeout_s > 0)) throw DistError("the distributed timeout must be > 0 s");
}

void parse_master(const std::string& spec, DistEnv& env) {
  std::string host, port;
  if (!spec.empty() && spec.front() == '[') {
    const auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
      throw DistError("--master '" + spec + "': expected [IPV6]:PORT");
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else {
    const auto colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw DistError("--master '" + spec + "': expected HOST:PORT, e.g. 10.0.0.1:29500");
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  env.master_addr = host;
  env.master_port = parse_int("MASTER_PORT", port);
  if (env.master_port < 1 || env.master_port > 65535)
    throw DistError("--master '" + spec + "': port " + port + " is outside 1..65535");
}

std::optional<DistEnv> env_from_environment() {
  auto ws = get("WORLD_SIZE");
  if (!ws) return std::nullopt;
  DistEnv e;
  e.world_size = parse_int("WORLD_SIZE", *ws);
  auto rank = get("RANK");
  if (!rank) throw DistError("WORLD_SIZE is set but RANK is not (both come from the launcher, e.g. torchrun)");
  e.rank = parse_int("RANK", *rank);
  e.local_rank = get("LOCAL_RANK") ? parse_int("LOCAL_RANK", *get("LOCAL_RANK")) : e.rank;
  e.local_world_size =
      get("LOCAL_WORLD_SIZE") ? parse_int("LOCAL_WORLD_SIZE", *get("LOCAL_WORLD_SIZE")) : e.world_size;
  if (auto a = get("MASTER_ADDR")) e.master_addr = *a;
  if (auto p = get("MASTER_PORT")) e.master_port = parse_int("MASTER_PORT", *p);
  if (auto t = get("RCNN_DIST_TIMEOUT")) e.timeout_s = parse_int("RCNN_DIST_TIMEOUT", *t);
  try {
    validate(e);
  } catch (const DistError& err) {
    throw DistError(std::string("torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_*): ") + err.what());
  }
  return e;
}

int free_local_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw DistError(std::string("socket(): ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw DistError("cannot find a free local port: " + why);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace rcnn::dist
