#include "api/devices.h"

#include "engine/precision.h"

#include <malloc.h>
#include <torch/torch.h>

#include "engine/device.h"

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
std::string bf16_unavailable_reason() {
  std::string why;
  return engine::cpu_has_bf16(&why) ? std::string() : why;
}
}  // namespace rcnn::api
