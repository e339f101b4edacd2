#include "engine/device.h"

#include <dlfcn.h>
#include <malloc.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace rcnn::engine {

torch::Device resolve_device(const std::string& spec) {
  if (spec.empty() || spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::kCPU;
  if (spec == "cpu") return torch::kCPU;
  if (spec.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw std::invalid_argument("device '" + spec + "': CUDA is not available in this LibTorch build");
    int idx = 0;
    if (spec.size() > 4) {
      if (spec[4] != ':') throw std::invalid_argument("device '" + spec + "': expected cuda or cuda:N");
      try {
        idx = std::stoi(spec.substr(5));
      } catch (...) {
        throw std::invalid_argument("device '" + spec + "': expected cuda or cuda:N");
      }
      if (idx < 0 || idx >= int(torch::cuda::device_count()))
        throw std::invalid_argument("device '" + spec + "': only " + std::to_string(torch::cuda::device_count()) +
                                    " CUDA device(s)");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(idx));
  }
  throw std::invalid_argument("device '" + spec + "': expected auto, cpu, cuda or cuda:N");
}

void tune_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("RCNN_MALLOC");
    if (env && std::string(env) == "default") return;
    // Tensors of a detector are large (tens of MB for a batch's activations)
    // and short-lived. glibc serves each of them with a fresh mmap and
    // unmaps it on free, so every iteration pays page faults on memory it
    // just released (a third of a RoIAlign call's time here). Keep freed
    // memory in the heap instead: no mmap for large blocks, no trimming.
    // The process keeps its peak footprint, which a training run reaches
    // anyway. RCNN_MALLOC=default leaves glibc's behaviour alone.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    mallopt(M_TOP_PAD, 64 << 20);
    // One arena for every thread. glibc gives threads arenas of their own
    // (up to 8 per core); with trimming off, what a thread frees stays in its
    // arena's top chunk, and malloc_trim (api::release_free_memory) releases
    // free memory of every arena except those top chunks. In the studio each
    // training run's threads left up to 64 MiB resident per arena: +80 %
    // resident memory over a 90 s GUI soak with the heap in use flat, +8 %
    // with one arena (docs/reliability.md). MALLOC_ARENA_MAX overrides.
    if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 1);
  });
}

void tune_blas_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("OPENBLAS_NUM_THREADS") || std::getenv("OMP_NUM_THREADS")) return;  // the user decided
    // Debian's OpenBLAS (pthread flavour) keeps its own pool of one thread
    // per core next to LibTorch's OpenMP pool. Small GEMMs (LibTorch's im2col
    // convolution for batch-1 layers under 20480 input values, linear layers)
    // then hand work to threads that the OpenMP pool is spinning on, and both
    // pools thrash the cores: single-image inference of the seed preset took
    // 80-95 ms instead of 27 ms on 2 cores. LibTorch already parallelizes
    // around its GEMM calls, so OpenBLAS runs single-threaded.
    using SetThreads = void (*)(int);
    if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(1);
  });
}

int blas_threads() {
  using GetThreads = int (*)();
  if (auto f = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) return f();
  return 0;
}

int init_threads(int threads) {
  tune_allocator();
  tune_blas_threads();
  if (threads <= 0) {
    if (const char* env = std::getenv("RCNN_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

namespace {
// The first "model name" and "flags" lines of /proc/cpuinfo.
std::pair<std::string, std::string> cpuinfo() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 && model.empty()) model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0 && flags.empty()) flags = line.substr(line.find(':') + 1) + " ";
  }
  return {model.empty() ? "this CPU" : model, flags};
}
}  // namespace

std::string cpu_name() {
  return cpuinfo().first;
}

std::string cpu_vector_flags() {
  const auto flags = cpuinfo().second;
  std::string out;
  for (const char* f : {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"})
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) out += (out.empty() ? "" : " ") + std::string(f);
  return out;
}

std::string blas_name() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos)
      return "OpenBLAS (" + std::to_string(blas_threads()) + " thread(s))";
    if (line.find("libmkl") != std::string::npos) return "MKL";
    if (line.find("libblis") != std::string::npos) return "BLIS";
  }
  std::ifstream m2("/proc/self/maps");
  while (std::getline(m2, line))
    if (line.find("libblas.so") != std::string::npos)
      return "reference BLAS (" + line.substr(line.rfind(' ') + 1) + ")";
  return "unknown";
}

}  // namespace rcnn::engine
