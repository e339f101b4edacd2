#include "ops/roi_align.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

namespace rcnn::ops {
namespace {

void check_inputs(const torch::Tensor& f, const torch::Tensor& rois, const RoIAlignParams& p) {
  TORCH_CHECK(f.dim() == 4, "roi_align: features must have shape (N, C, H, W), got ", f.sizes());
  TORCH_CHECK(f.is_floating_point(), "roi_align: features must be floating point, got ", f.scalar_type());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "roi_align: rois must have shape (R, 5) [batch_index, x1, y1, x2, y2], got ", rois.sizes());
  TORCH_CHECK(f.device() == rois.device(), "roi_align: features on ", f.device(), " but rois on ", rois.device());
  TORCH_CHECK(p.pooled_h > 0 && p.pooled_w > 0, "roi_align: output size must be positive, got ", p.pooled_h, "x",
              p.pooled_w);
  TORCH_CHECK(p.spatial_scale > 0, "roi_align: spatial_scale must be > 0, got ", p.spatial_scale);
}

// Bilinear tap of one sample point: 4 flat offsets into an H*W plane and their
// weights. A point outside [-1, H] x [-1, W] gets offset 0 and zero weights
// (forward adds 0 * v, as torchvision does) and `inside` = false (backward
// skips it, as torchvision does).
template <typename T>
struct Tap {
  int64_t o[4];
  T w[4];
  bool inside;
};

template <typename T>
Tap<T> make_tap(int64_t H, int64_t W, T y, T x) {
  Tap<T> t{};
  // Written as !(in range) so NaN coordinates take this branch.
  if (!(y >= T(-1) && y <= T(H) && x >= T(-1) && x <= T(W))) {
    for (int i = 0; i < 4; ++i) t.o[i] = 0, t.w[i] = 0;
    t.inside = false;
    return t;
  }
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(x), yh, xh;
  if (yl >= H - 1) {
    yh = yl = H - 1;
    y = static_cast<T>(yl);
  } else {
    yh = yl + 1;
  }
  if (xl >= W - 1) {
    xh = xl = W - 1;
    x = static_cast<T>(xl);
  } else {
    xh = xl + 1;
  }
  const T ly = y - yl, lx = x - xl, hy = T(1) - ly, hx = T(1) - lx;
  t.o[0] = yl * W + xl;
  t.o[1] = yl * W + xh;
  t.o[2] = yh * W + xl;
  t.o[3] = yh * W + xh;
  t.w[0] = hy * hx;
  t.w[1] = hy * lx;
  t.w[2] = ly * hx;
  t.w[3] = ly * lx;
  t.inside = true;
  return t;
}

// Geometry of one RoI for display, in double.
struct RoIGeom {
  double start_x, start_y, bin_w, bin_h;
  int64_t grid_h, grid_w;
};

RoIGeom roi_geom(double x1, double y1, double x2, double y2, const RoIAlignParams& p) {
  const double off = p.aligned ? 0.5 : 0.0;
  RoIGeom g{};
  g.start_x = x1 * p.spatial_scale - off;
  g.start_y = y1 * p.spatial_scale - off;
  double w = x2 * p.spatial_scale - off - g.start_x;
  double h = y2 * p.spatial_scale - off - g.start_y;
  if (!p.aligned) {
    w = std::max(w, 1.0);
    h = std::max(h, 1.0);
  }
  g.bin_w = w / p.pooled_w;
  g.bin_h = h / p.pooled_h;
  g.grid_h = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(h / p.pooled_h));
  g.grid_w = p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(w / p.pooled_w));
  return g;
}

// All taps of one RoI, ordered (ph, pw, gy, gx). Every quantity is computed
// in T with the same expressions, in the same order, as torchvision's CPU
// kernel, so both produce bit-identical weights and offsets.
template <typename T>
struct RoITaps {
  std::vector<Tap<T>> taps;
  int64_t batch = 0;
  int64_t per_bin = 0;  // samples per bin actually taken (grid_h * grid_w, >= 0)
  T count = 1;          // divisor: grid_h * grid_w (forward clamps it to >= 1)
};

template <typename T>
void roi_taps(const T* roi, int64_t H, int64_t W, const RoIAlignParams& p, RoITaps<T>& out) {
  const T scale = static_cast<T>(p.spatial_scale);
  const T offset = p.aligned ? T(0.5) : T(0);
  const T start_w = roi[1] * scale - offset, start_h = roi[2] * scale - offset;
  const T end_w = roi[3] * scale - offset, end_h = roi[4] * scale - offset;
  T roi_w = end_w - start_w, roi_h = end_h - start_h;
  if (!p.aligned) {
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  const T bin_h = roi_h / static_cast<T>(p.pooled_h), bin_w = roi_w / static_cast<T>(p.pooled_w);
  const int64_t gh = p.sampling_ratio > 0 ? p.sampling_ratio
                                          : static_cast<int64_t>(std::ceil(roi_h / static_cast<T>(p.pooled_h)));
  const int64_t gw = p.sampling_ratio > 0 ? p.sampling_ratio
                                          : static_cast<int64_t>(std::ceil(roi_w / static_cast<T>(p.pooled_w)));
  out.batch = static_cast<int64_t>(roi[0]);
  out.count = static_cast<T>(gh * gw);
  const int64_t ny = std::max<int64_t>(gh, 0), nx = std::max<int64_t>(gw, 0);
  out.per_bin = ny * nx;
  out.taps.resize(static_cast<size_t>(p.pooled_h * p.pooled_w * out.per_bin));
  size_t n = 0;
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw)
      for (int64_t iy = 0; iy < ny; ++iy) {
        const T y = start_h + static_cast<T>(ph) * bin_h +
                    static_cast<T>(static_cast<float>(iy) + 0.5f) * bin_h / static_cast<T>(gh);
        for (int64_t ix = 0; ix < nx; ++ix) {
          const T x = start_w + static_cast<T>(pw) * bin_w +
                      static_cast<T>(static_cast<float>(ix) + 0.5f) * bin_w / static_cast<T>(gw);
          out.taps[n++] = make_tap<T>(H, W, y, x);
        }
      }
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
template <typename T>
void forward_kernel(const T* feat_nhwc, int64_t C, int64_t H, int64_t W, const T* rois, int64_t R,
                    const RoIAlignParams& p, T* out) {
  const int64_t bins = p.pooled_h * p.pooled_w;
  at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
    RoITaps<T> rt;
    std::vector<T> acc(static_cast<size_t>(C));
    for (int64_t r = begin; r < end; ++r) {
      roi_taps(rois + 5 * r, H, W, p, rt);
      const T count = std::max(rt.count, T(1));
      const Divide<T> div(count);
      const T* base = feat_nhwc + rt.batch * H * W * C;
      T* o = out + r * C * bins;
      const Tap<T>* t = rt.taps.data();
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
        for (int64_t c = 0; c < C; ++c) o[c * bins + bin] = div(a[c]);
      }
    }
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
      const Tap<T>* t = rt.taps.data();
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

torch::Tensor forward_cpu(const torch::Tensor& f_in, const torch::Tensor& rois_in, const RoIAlignParams& p) {
  const int64_t C = f_in.size(1), H = f_in.size(2), W = f_in.size(3);
  auto rois = rois_in.to(f_in.scalar_type()).contiguous();
  const int64_t R = rois.size(0);
  auto out = torch::zeros({R, C, p.pooled_h, p.pooled_w}, f_in.options());
  if (R == 0 || f_in.numel() == 0) return out;
  // (N, H, W, C) contiguous; free when the caller already holds channels-last.
  auto f = f_in.permute({0, 2, 3, 1}).contiguous();
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "roi_align_forward", [&] {
    forward_kernel<scalar_t>(f.data_ptr<scalar_t>(), C, H, W, rois.data_ptr<scalar_t>(), R, p,
                             out.data_ptr<scalar_t>());
  });
  return out;
}

torch::Tensor backward_cpu(const torch::Tensor& grad_in, const torch::Tensor& rois_in, at::IntArrayRef fshape,
                           const RoIAlignParams& p) {
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

class RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& features,
                               const torch::Tensor& rois, int64_t ph, int64_t pw, double scale, int64_t sampling,
                               bool aligned) {
    RoIAlignParams p{ph, pw, scale, sampling, aligned};
    ctx->save_for_backward({rois});
    ctx->saved_data["shape"] = features.sizes().vec();
    ctx->saved_data["ph"] = ph;
    ctx->saved_data["pw"] = pw;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["sampling"] = sampling;
    ctx->saved_data["aligned"] = aligned;
    return forward_cpu(features, rois, p);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto rois = ctx->get_saved_variables()[0];
    RoIAlignParams p{ctx->saved_data["ph"].toInt(), ctx->saved_data["pw"].toInt(), ctx->saved_data["scale"].toDouble(),
                     ctx->saved_data["sampling"].toInt(), ctx->saved_data["aligned"].toBool()};
    auto shape = ctx->saved_data["shape"].toIntVector();
    auto gin = backward_cpu(grads[0], rois, shape, p);
    return {gin, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor roi_align(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p) {
  check_inputs(features, rois, p);
  if (!features.device().is_cpu()) return roi_align_generic(features, rois, p);
  return RoIAlignFunction::apply(features, rois, p.pooled_h, p.pooled_w, p.spatial_scale, p.sampling_ratio, p.aligned);
}

torch::Tensor roi_align_generic(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p) {
  check_inputs(features, rois, p);
  const int64_t N = features.size(0), C = features.size(1), H = features.size(2), W = features.size(3),
                R = rois.size(0);
  auto opts = features.options();
  if (R == 0) return torch::zeros({0, C, p.pooled_h, p.pooled_w}, opts);
  auto r = rois.to(features.scalar_type());
  const double off = p.aligned ? 0.5 : 0.0;
  auto sx = r.select(1, 1) * p.spatial_scale - off;
  auto sy = r.select(1, 2) * p.spatial_scale - off;
  auto w = r.select(1, 3) * p.spatial_scale - off - sx;
  auto h = r.select(1, 4) * p.spatial_scale - off - sy;
  if (!p.aligned) {
    w = w.clamp_min(1.0);
    h = h.clamp_min(1.0);
  }
  auto bw = w / static_cast<double>(p.pooled_w);
  auto bh = h / static_cast<double>(p.pooled_h);
  // Per-RoI grid sizes; pad every RoI to the largest grid and mask the rest.
  torch::Tensor gh, gw;
  if (p.sampling_ratio > 0) {
    gh = torch::full({R}, p.sampling_ratio, opts);
    gw = gh;
  } else {
    gh = (h / static_cast<double>(p.pooled_h)).ceil();
    gw = (w / static_cast<double>(p.pooled_w)).ceil();
  }
  const int64_t GH = std::max<int64_t>(gh.max().item<double>(), 1);
  const int64_t GW = std::max<int64_t>(gw.max().item<double>(), 1);
  auto iy = torch::arange(GH, opts).view({1, 1, GH, 1, 1});  // (R, ph, gy, pw, gx)
  auto ix = torch::arange(GW, opts).view({1, 1, 1, 1, GW});
  auto phv = torch::arange(p.pooled_h, opts).view({1, p.pooled_h, 1, 1, 1});
  auto pwv = torch::arange(p.pooled_w, opts).view({1, 1, 1, p.pooled_w, 1});
  auto v5 = [](const torch::Tensor& t) { return t.view({-1, 1, 1, 1, 1}); };
  auto y = v5(sy) + phv * v5(bh) + (iy + 0.5) * v5(bh) / v5(gh.clamp_min(1));
  auto x = v5(sx) + pwv * v5(bw) + (ix + 0.5) * v5(bw) / v5(gw.clamp_min(1));
  y = y.expand({R, p.pooled_h, GH, p.pooled_w, GW});
  x = x.expand({R, p.pooled_h, GH, p.pooled_w, GW});
  auto in_grid = ((iy < v5(gh)) & (ix < v5(gw))).expand_as(y);
  auto valid = (y >= -1.0) & (y <= static_cast<double>(H)) & (x >= -1.0) & (x <= static_cast<double>(W)) & in_grid;
  y = y.clamp_min(0);
  x = x.clamp_min(0);
  auto yl = y.floor().clamp_max(H - 1);
  auto xl = x.floor().clamp_max(W - 1);
  y = torch::where(yl >= H - 1, yl, y);
  x = torch::where(xl >= W - 1, xl, x);
  auto yh = (yl + 1).clamp_max(H - 1);
  auto xh = (xl + 1).clamp_max(W - 1);
  auto ly = y - yl, lx = x - xl;
  auto hy = 1 - ly, hx = 1 - lx;
  auto vm = valid.to(opts.dtype());
  auto batch = r.select(1, 0).to(torch::kLong).view({-1, 1, 1, 1, 1});
  auto flat = features.permute({0, 2, 3, 1}).reshape({N * H * W, C});
  auto gather = [&](const torch::Tensor& yy, const torch::Tensor& xx) {
    auto idx = (batch * H + yy.to(torch::kLong)) * W + xx.to(torch::kLong);
    return flat.index_select(0, idx.reshape({-1})).view({R, p.pooled_h, GH, p.pooled_w, GW, C});
  };
  auto e = [](const torch::Tensor& t) { return t.unsqueeze(-1); };
  auto val = e(hy * hx * vm) * gather(yl, xl) + e(hy * lx * vm) * gather(yl, xh) + e(ly * hx * vm) * gather(yh, xl) +
             e(ly * lx * vm) * gather(yh, xh);
  auto count = (gh * gw).clamp_min(1).view({-1, 1, 1, 1});
  auto pooled = val.sum({2, 4}) / count;  // (R, ph, pw, C)
  return pooled.permute({0, 3, 1, 2}).contiguous();
}

RoISamplingGrid roi_align_sampling_points(float x1, float y1, float x2, float y2, const RoIAlignParams& p) {
  RoISamplingGrid out;
  auto g = roi_geom(x1, y1, x2, y2, p);
  out.grid_h = g.grid_h;
  out.grid_w = g.grid_w;
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t iy = 0; iy < g.grid_h; ++iy)
      for (int64_t pw = 0; pw < p.pooled_w; ++pw)
        for (int64_t ix = 0; ix < g.grid_w; ++ix) {
          out.xy.push_back(static_cast<float>(g.start_x + pw * g.bin_w + (ix + 0.5) * g.bin_w / g.grid_w));
          out.xy.push_back(static_cast<float>(g.start_y + ph * g.bin_h + (iy + 0.5) * g.bin_h / g.grid_h));
        }
  return out;
}

}  // namespace rcnn::ops
