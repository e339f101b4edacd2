#include "engine/peak.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

namespace rcnn::engine {

namespace {
// Best time of `reps` calls after one warm-up, in seconds.
template <class F>
double best_seconds(int reps, F&& body) {
  body();
  double best = 1e30;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
}  // namespace

double MachinePeak::compute_gflops() const {
  return std::max({gemm_gflops, blas_gflops, conv_gflops});
}

MachinePeak measure_peak(Precision p, const PeakOptions& o) {
  check_precision(p, torch::kCPU);
  torch::NoGradGuard ng;
  MachinePeak r;
  r.precision = p;
  const auto dt = p == Precision::BF16 ? torch::kBFloat16 : torch::kFloat;
  auto g = at::detail::createCPUGenerator(7);
  const int64_t n = o.gemm_size;
  const double gemm_flops = 2.0 * double(n) * double(n) * double(n);
  auto a = torch::randn({n, n}, g).to(dt), b = torch::randn({n, n}, g).to(dt);
  if (at::hasMKLDNN()) {
    auto am = a.to_mkldnn(), bm = b.to_mkldnn();
    r.gemm_gflops = gemm_flops / best_seconds(o.reps, [&] { torch::mkldnn_linear(am, bm, {}); }) / 1e9;
  }
  r.blas_gflops = gemm_flops / best_seconds(o.reps, [&] { torch::mm(a, b); }) / 1e9;

  auto x = torch::randn({1, 256, o.conv_h, o.conv_w}, g).to(dt).contiguous(torch::MemoryFormat::ChannelsLast);
  auto w = (torch::randn({256, 256, 3, 3}, g) * 0.02).to(dt).contiguous(torch::MemoryFormat::ChannelsLast);
  const double conv_flops = 2.0 * 256 * double(o.conv_h) * double(o.conv_w) * 256 * 9;
  r.conv_gflops = conv_flops / best_seconds(o.reps, [&] { torch::conv2d(x, w, {}, 1, 1); }) / 1e9;

  const int64_t floats = o.copy_mb * (1 << 20) / 4;
  auto src = torch::rand({floats}, g), dst = torch::empty_like(src);
  r.bandwidth_gbs = 2.0 * double(floats) * 4 / best_seconds(o.reps, [&] { dst.copy_(src); }) / 1e9;
  return r;
}

RooflinePoint roofline(const StageCost& c, const MachinePeak& peak) {
  RooflinePoint p;
  const double s = c.ms / 1e3;
  if (s <= 0) return p;
  p.gflops = c.flops / s / 1e9;
  p.gbs = c.bytes / s / 1e9;
  p.intensity = c.bytes > 0 ? c.flops / c.bytes : 0;
  if (c.flops > 0) {
    const double by_memory = p.intensity * peak.bandwidth_gbs;
    p.memory_bound = by_memory < peak.compute_gflops();
    p.attainable = std::min(peak.compute_gflops(), by_memory > 0 ? by_memory : peak.compute_gflops());
    p.share = p.attainable > 0 ? p.gflops / p.attainable : 0;
  } else {
    p.memory_bound = true;
    p.attainable = peak.bandwidth_gbs;
    p.share = peak.bandwidth_gbs > 0 ? p.gbs / peak.bandwidth_gbs : 0;
  }
  return p;
}

}  // namespace rcnn::engine
