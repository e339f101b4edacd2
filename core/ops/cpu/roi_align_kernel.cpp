// RoIAlign CPU kernels: channels-last, SIMD over channels, torchvision's
// arithmetic and order (see ops/roi_align_common.h for the geometry).
#include "ops/cpu/roi_align_kernel.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <type_traits>

#include "ops/roi_align_common.h"

namespace rcnn::ops::cpu {
namespace {

// All taps of one RoI, ordered (ph, pw, gy, gx). Every quantity is computed
// in T with the same expressions, in the same order, as torchvision's CPU
// kernel, so both produce bit-identical weights and offsets.
template <typename T>
struct RoITaps {
  std::vector<detail::Tap<T>> taps;
  int64_t batch = 0;
  int64_t per_bin = 0;  // samples per bin actually taken (grid_h * grid_w, >= 0)
  T count = 1;          // divisor: grid_h * grid_w (forward clamps it to >= 1)
  std::vector<detail::AxisTap<T>> rows, cols;  // scratch of roi_taps
};

template <typename T>
void roi_taps(const T* roi, int64_t H, int64_t W, const RoIAlignParams& p, RoITaps<T>& out) {
  const auto g = detail::roi_geometry<T>(roi[1], roi[2], roi[3], roi[4], p);
  out.batch = static_cast<int64_t>(roi[0]);
  out.count = g.count();
  const int64_t ny = std::max<int64_t>(g.grid_h, 0), nx = std::max<int64_t>(g.grid_w, 0);
  out.per_bin = ny * nx;
  out.taps.resize(static_cast<size_t>(p.pooled_h * p.pooled_w * out.per_bin));
  // Each axis once (detail::make_axis_tap), then every (row, column) pair:
  // the values detail::make_tap gives, without its work per sample.
  auto& ys = out.rows;
  auto& xs = out.cols;
  ys.resize(static_cast<size_t>(p.pooled_h * ny));
  xs.resize(static_cast<size_t>(p.pooled_w * nx));
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t iy = 0; iy < ny; ++iy) ys[size_t(ph * ny + iy)] = detail::make_axis_tap<T>(H, g.sample_y(ph, iy));
  for (int64_t pw = 0; pw < p.pooled_w; ++pw)
    for (int64_t ix = 0; ix < nx; ++ix) xs[size_t(pw * nx + ix)] = detail::make_axis_tap<T>(W, g.sample_x(pw, ix));
  size_t n = 0;
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw)
      for (int64_t iy = 0; iy < ny; ++iy)
        for (int64_t ix = 0; ix < nx; ++ix)
          out.taps[n++] = detail::combine_taps<T>(W, ys[size_t(ph * ny + iy)], xs[size_t(pw * nx + ix)]);
}

// x / count. When count is a power of two, x * (1 / count) is the same
// correctly rounded value and much cheaper; otherwise divide, as torchvision.
template <typename T>
struct Divide {
  T count, inv;
  bool pow2;
  explicit Divide(T c) : count(c), inv(T(1) / c) {
    int e = 0;
    pow2 = c > T(0) && std::frexp(c, &e) == T(0.5);
  }
  T operator()(T x) const { return pow2 ? x * inv : x / count; }
};

// Forward over a channels-last copy of the features: the four corners of a
// sample are C contiguous values each, so the per-channel sum is a vector
// loop. Per channel the arithmetic is torchvision's, in its order:
// acc += w1*v1 + w2*v2 + w3*v3 + w4*v4 over the samples, then acc / count.
// `out` is (R, C, bins) or, with out_nhwc, channels-last (R, bins, C).
template <typename T>
inline __attribute__((always_inline)) void forward_rois(const T* feat_nhwc, int64_t C, int64_t H, int64_t W,
                                                        const T* rois, int64_t begin, int64_t end,
                                                        const RoIAlignParams& p, T* out, bool out_nhwc) {
  const int64_t bins = p.pooled_h * p.pooled_w;
  {
    RoITaps<T> rt;
    std::vector<T> acc(static_cast<size_t>(C));
    for (int64_t r = begin; r < end; ++r) {
      roi_taps(rois + 5 * r, H, W, p, rt);
      const T count = std::max(rt.count, T(1));
      const Divide<T> div(count);
      const T* base = feat_nhwc + rt.batch * H * W * C;
      T* o = out + r * C * bins;
      const detail::Tap<T>* t = rt.taps.data();
      T* __restrict a = acc.data();
      for (int64_t bin = 0; bin < bins; ++bin) {
        std::fill(acc.begin(), acc.end(), T(0));
        for (int64_t s = 0; s < rt.per_bin; ++s, ++t) {
          const T* __restrict v1 = base + t->o[0] * C;
          const T* __restrict v2 = base + t->o[1] * C;
          const T* __restrict v3 = base + t->o[2] * C;
          const T* __restrict v4 = base + t->o[3] * C;
          const T w1 = t->w[0], w2 = t->w[1], w3 = t->w[2], w4 = t->w[3];
          for (int64_t c = 0; c < C; ++c) a[c] += w1 * v1[c] + w2 * v2[c] + w3 * v3[c] + w4 * v4[c];
        }
        if (out_nhwc)
          for (int64_t c = 0; c < C; ++c) o[bin * C + c] = div(a[c]);
        else
          for (int64_t c = 0; c < C; ++c) o[c * bins + bin] = div(a[c]);
      }
    }
  }
}

// The float kernel is also built for AVX-512 and AVX2 and picked at load
// time: the same IEEE operations in the same order per channel (no FMA
// contraction in this file), so every CPU gives the same bits, faster.
__attribute__((target_clones("avx512f", "avx2", "default"))) void forward_rois_f32(const float* feat_nhwc, int64_t C,
                                                                                   int64_t H, int64_t W,
                                                                                   const float* rois, int64_t begin,
                                                                                   int64_t end, const RoIAlignParams& p,
                                                                                   float* out, bool out_nhwc) {
  forward_rois<float>(feat_nhwc, C, H, W, rois, begin, end, p, out, out_nhwc);
}

template <typename T>
void forward_kernel(const T* feat_nhwc, int64_t C, int64_t H, int64_t W, const T* rois, int64_t R,
                    const RoIAlignParams& p, T* out, bool out_nhwc) {
  at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
    if constexpr (std::is_same_v<T, float>)
      forward_rois_f32(feat_nhwc, C, H, W, rois, begin, end, p, out, out_nhwc);
    else
      forward_rois<T>(feat_nhwc, C, H, W, rois, begin, end, p, out, out_nhwc);
  });
}

// Backward into a channels-last gradient buffer. Each thread owns a slice of
// channels and walks every RoI, bin and sample in torchvision's order, so
// each gradient element receives the same terms, (g * w) / count, in the
// same order as torchvision's serial loop: no atomics, deterministic, and
// bit-identical. grad_out_t is the output gradient as (R, bins, C).
template <typename T>
void backward_kernel(const T* grad_out_t, int64_t C, int64_t H, int64_t W, const T* rois, int64_t R,
                     const RoIAlignParams& p, T* grad_nhwc) {
  std::vector<RoITaps<T>> all(static_cast<size_t>(R));
  at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) roi_taps(rois + 5 * r, H, W, p, all[r]);
  });
  const int64_t bins = p.pooled_h * p.pooled_w;
  // Slices of at least 16 channels keep the inner loop vector-wide.
  const int64_t grain = std::min<int64_t>(C, 16);
  at::parallel_for(0, C, grain, [&](int64_t cb, int64_t ce) {
    const int64_t n = ce - cb;
    for (int64_t r = 0; r < R; ++r) {
      const RoITaps<T>& rt = all[r];
      const Divide<T> div(rt.count);
      T* base = grad_nhwc + rt.batch * H * W * C + cb;
      const detail::Tap<T>* t = rt.taps.data();
      for (int64_t bin = 0; bin < bins; ++bin) {
        const T* g = grad_out_t + (r * bins + bin) * C + cb;
        for (int64_t s = 0; s < rt.per_bin; ++s, ++t) {
          if (!t->inside) continue;
          T* d1 = base + t->o[0] * C;
          T* d2 = base + t->o[1] * C;
          T* d3 = base + t->o[2] * C;
          T* d4 = base + t->o[3] * C;
          const T w1 = t->w[0], w2 = t->w[1], w3 = t->w[2], w4 = t->w[3];
          // The four corners may coincide at the border; keep torchvision's
          // order of the adds (corner 1, 2, 3, 4) for each channel.
          for (int64_t c = 0; c < n; ++c) {
            const T gc = g[c];
            d1[c] += div(gc * w1);
            d2[c] += div(gc * w2);
            d3[c] += div(gc * w3);
            d4[c] += div(gc * w4);
          }
        }
      }
    }
  });
}

}  // namespace

torch::Tensor roi_align_forward_kernel(const torch::Tensor& f_in, const torch::Tensor& rois_in,
                                       const RoIAlignParams& p) {
  const int64_t C = f_in.size(1), H = f_in.size(2), W = f_in.size(3);
  auto rois = rois_in.to(f_in.scalar_type()).contiguous();
  const int64_t R = rois.size(0);
  // The output keeps the features' layout (as a convolution does): channels-
  // last features, as the inference backbones make them, give channels-last
  // RoI features for the heads' convolutions. The values are the same.
  const bool nhwc = f_in.dim() == 4 && f_in.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
  // (torch::zeros ignores a memory format; the kernel writes every element.)
  auto out =
      torch::empty({R, C, p.pooled_h, p.pooled_w},
                   f_in.options().memory_format(nhwc ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
  if (R == 0 || f_in.numel() == 0) return out.zero_();
  // (N, H, W, C) contiguous; free when the caller already holds channels-last.
  auto f = f_in.permute({0, 2, 3, 1}).contiguous();
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "roi_align_forward", [&] {
    forward_kernel<scalar_t>(f.data_ptr<scalar_t>(), C, H, W, rois.data_ptr<scalar_t>(), R, p, out.data_ptr<scalar_t>(),
                             nhwc);
  });
  return out;
}

torch::Tensor roi_align_backward_kernel(const torch::Tensor& grad_in, const torch::Tensor& rois_in,
                                        at::IntArrayRef fshape, const RoIAlignParams& p) {
  const int64_t N = fshape[0], C = fshape[1], H = fshape[2], W = fshape[3];
  auto rois = rois_in.to(grad_in.scalar_type()).contiguous();
  const int64_t R = rois.size(0);
  if (R == 0 || N * C * H * W == 0) return torch::zeros(fshape, grad_in.options());
  // Output gradient as (R, bins, C); gradient buffer as (N, H, W, C).
  auto g = grad_in.reshape({R, C, p.pooled_h * p.pooled_w}).permute({0, 2, 1}).contiguous();
  auto gin = torch::zeros({N, H, W, C}, grad_in.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "roi_align_backward", [&] {
    backward_kernel<scalar_t>(g.data_ptr<scalar_t>(), C, H, W, rois.data_ptr<scalar_t>(), R, p,
                              gin.data_ptr<scalar_t>());
  });
  return gin.permute({0, 3, 1, 2}).contiguous();
}

}  // namespace rcnn::ops::cpu
