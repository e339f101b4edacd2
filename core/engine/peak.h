#pragma once
// The machine's measured limits, the roof of the roofline: the fastest
// fp32 (or bf16) matrix product and convolution this build's kernels reach
// on this CPU with the current thread count, and the memory bandwidth of a
// large copy. Measured, never assumed from a data sheet: a VM's clocks,
// cores and caches vary too much.
#include <cstdint>

#include "engine/op_cost.h"
#include "engine/precision.h"

namespace rcnn::engine {

struct PeakOptions {
  int64_t gemm_size = 2048;            // M = N = K of the matrix product
  int64_t conv_h = 200, conv_w = 272;  // a 256 -> 256 3x3 convolution on this map (ResNet-50-FPN's P2 at 800 px)
  int64_t copy_mb = 1024;              // the copied buffer, past the caches (VMs report L3s of 480 MB)
  int reps = 3;                        // best of, after one warm-up
};

struct MachinePeak {
  Precision precision = Precision::FP32;
  double gemm_gflops = 0;  // oneDNN inner product (what the box heads run)
  double blas_gflops = 0;  // torch::mm through the BLAS, under the runtime settings (engine/device.h)
  double conv_gflops = 0;  // oneDNN convolution, channels-last
  double bandwidth_gbs = 0;
  double compute_gflops() const;  // the best of the three kernels
};

// Throws std::invalid_argument where `p` cannot run here (check_precision).
MachinePeak measure_peak(Precision p, const PeakOptions& o = {});

// A stage on the roofline: what it achieved, what the roof allows at its
// arithmetic intensity (min(compute peak, FLOPs/byte x bandwidth)), and
// the share. A stage without FLOPs is measured against the bandwidth alone.
struct RooflinePoint {
  double gflops = 0, gbs = 0;  // achieved
  double intensity = 0;        // FLOPs per byte
  double attainable = 0;       // GFLOP/s (or GB/s for a stage without FLOPs)
  double share = 0;            // achieved / attainable
  bool memory_bound = false;
};
RooflinePoint roofline(const StageCost& c, const MachinePeak& peak);

}  // namespace rcnn::engine
