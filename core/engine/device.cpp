#include "engine/device.h"

#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
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

int init_threads(int threads) {
  if (threads <= 0) {
    if (const char* env = std::getenv("RCNN_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  return threads;
}

std::string blas_name() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) return "OpenBLAS";
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
