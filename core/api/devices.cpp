#include "api/devices.h"

#include <malloc.h>
#include <torch/torch.h>

#include <map>
#include <mutex>

#include "engine/device.h"
#include "engine/peak.h"
#include "engine/precision.h"

namespace rcnn::api {

std::vector<ComputeDevice> compute_devices() {
  std::vector<ComputeDevice> out{{"cpu", "CPU"}};
  if (torch::cuda::is_available())
    for (size_t i = 0; i < torch::cuda::device_count(); ++i)
      out.push_back({"cuda:" + std::to_string(i), "CUDA " + std::to_string(i)});
  return out;
}

void tune_process_allocator() {
  engine::tune_allocator();
}

void release_free_memory() {
  ::malloc_trim(0);
}

std::string cuda_unavailable_reason() {
  if (torch::cuda::is_available()) return "";
  return at::hasCUDA() ? "no CUDA device is visible" : "this LibTorch build has no CUDA";
}

}  // namespace rcnn::api

namespace rcnn::api {
double measured_peak_gflops(const std::string& precision) {
  static std::mutex mu;
  static std::map<std::string, double> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(precision); it != cache.end()) return it->second;
  double gflops = 0;
  try {
    engine::PeakOptions o;
    o.gemm_size = 1024;
    o.conv_h = 50, o.conv_w = 68;  // P4 of an 800-px image
    o.copy_mb = 8;                 // the status bar shows the compute peak only
    gflops = engine::measure_peak(engine::parse_precision(precision), o).compute_gflops();
  } catch (const std::invalid_argument&) {  // bf16 on a CPU without it
  }
  return cache[precision] = gflops;
}

std::string bf16_unavailable_reason() {
  std::string why;
  return engine::cpu_has_bf16(&why) ? std::string() : why;
}
}  // namespace rcnn::api
