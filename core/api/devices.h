#pragma once
// The devices this LibTorch can run the model on, for pickers. No torch types.
#include <string>
#include <vector>

namespace rcnn::api {

struct ComputeDevice {
  std::string id;     // "cpu", "cuda:0", ... (what Session::set_device and TrainRequest::device take)
  std::string label;  // "CPU", "CUDA 0"
};

// The CPU, then every CUDA device LibTorch sees (none on a CPU-only build).
std::vector<ComputeDevice> compute_devices();
// The allocator settings the trainer wants (engine::tune_allocator: freed
// memory kept for reuse, one malloc arena). Call it first in main(), before
// any thread starts: a thread that allocated earlier keeps an arena of its
// own, whose top chunk release_free_memory cannot return.
void tune_process_allocator();
// Returns the heap's free memory to the operating system (malloc_trim).
// The trainer's allocator settings keep freed memory for reuse, which is
// right within a run but lets a long-running studio's resident size creep;
// the studio calls this when a training run ends and when its model thread
// goes idle.
void release_free_memory();

// Why there is no CUDA device: "this LibTorch build has no CUDA" or "no
// CUDA device is visible"; empty when there is one.
std::string cuda_unavailable_reason();
// The fastest convolution or matrix product this machine ran at `precision`
// ("fp32" or "bf16"), in GFLOP/s (engine/peak.h, a smaller problem than
// rcnn_bench --roofline's): measured once per process and precision, about
// 0.2 s on first use; 0 where the precision cannot run here.
double measured_peak_gflops(const std::string& precision);

// Why the bf16 inference path (Session::set_precision("bf16")) cannot run on
// this CPU, or "" when it can (AVX-512-BF16 or AMX-BF16 present).
std::string bf16_unavailable_reason();

}  // namespace rcnn::api
