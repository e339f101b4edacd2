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
// weights; all-zero weights when the point lies outside [-1, H] x [-1, W].
template <typename T>
struct Tap {
  int64_t o[4];
  T w[4];
};

template <typename T>
Tap<T> make_tap(int64_t H, int64_t W, T y, T x) {
  Tap<T> t{};
  if (y < T(-1) || y > T(H) || x < T(-1) || x > T(W)) {
    for (int i = 0; i < 4; ++i) t.o[i] = 0, t.w[i] = 0;
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
  return t;
}

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

// All taps of one RoI, ordered (ph, pw, gy, gx).
template <typename T>
void roi_taps(const T* roi, int64_t H, int64_t W, const RoIAlignParams& p, std::vector<Tap<T>>& taps, RoIGeom& g) {
  g = roi_geom(roi[1], roi[2], roi[3], roi[4], p);
  taps.resize(static_cast<size_t>(p.pooled_h * p.pooled_w * g.grid_h * g.grid_w));
  size_t n = 0;
  // Sample coordinates in T precision, as torchvision computes them.
  const T sy = static_cast<T>(g.start_y), sx = static_cast<T>(g.start_x);
  const T bh = static_cast<T>(g.bin_h), bw = static_cast<T>(g.bin_w);
  for (int64_t ph = 0; ph < p.pooled_h; ++ph)
    for (int64_t pw = 0; pw < p.pooled_w; ++pw)
      for (int64_t iy = 0; iy < g.grid_h; ++iy) {
        const T y = sy + ph * bh + (iy + T(0.5)) * bh / static_cast<T>(g.grid_h);
        for (int64_t ix = 0; ix < g.grid_w; ++ix) {
          const T x = sx + pw * bw + (ix + T(0.5)) * bw / static_cast<T>(g.grid_w);
          taps[n++] = make_tap<T>(H, W, y, x);
        }
      }
}

template <typename T>
void forward_kernel(const T* feat, int64_t N, int64_t C, int64_t H, int64_t W, const T* rois, int64_t R,
                    const RoIAlignParams& p, T* out) {
  at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
    std::vector<Tap<T>> taps;
    RoIGeom g;
    for (int64_t r = begin; r < end; ++r) {
      const T* roi = rois + 5 * r;
      const int64_t b = static_cast<int64_t>(roi[0]);
      roi_taps(roi, H, W, p, taps, g);
      const int64_t per_bin = g.grid_h * g.grid_w;
      const T inv_count = T(1) / static_cast<T>(std::max<int64_t>(per_bin, 1));
      const int64_t bins = p.pooled_h * p.pooled_w;
      for (int64_t c = 0; c < C; ++c) {
        const T* plane = feat + (b * C + c) * H * W;
        T* o = out + (r * C + c) * bins;
        const Tap<T>* t = taps.data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          T acc = 0;
          for (int64_t s = 0; s < per_bin; ++s, ++t)
            acc += t->w[0] * plane[t->o[0]] + t->w[1] * plane[t->o[1]] + t->w[2] * plane[t->o[2]] +
                   t->w[3] * plane[t->o[3]];
          o[bin] = acc * inv_count;
        }
      }
    }
  });
}

template <typename T>
void backward_kernel(const T* grad_out, int64_t N, int64_t C, int64_t H, int64_t W, const T* rois, int64_t R,
                     const RoIAlignParams& p, T* grad_in) {
  // Precompute every RoI's taps once; then each thread owns a slice of
  // channels, so accumulation into grad_in never races and is deterministic.
  std::vector<std::vector<Tap<T>>> all(R);
  std::vector<int64_t> per_bin(R), batch(R);
  at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
    RoIGeom g;
    for (int64_t r = begin; r < end; ++r) {
      roi_taps(rois + 5 * r, H, W, p, all[r], g);
      per_bin[r] = g.grid_h * g.grid_w;
      batch[r] = static_cast<int64_t>(rois[5 * r]);
    }
  });
  const int64_t bins = p.pooled_h * p.pooled_w;
  at::parallel_for(0, C, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t r = 0; r < R; ++r) {
      const T inv_count = T(1) / static_cast<T>(std::max<int64_t>(per_bin[r], 1));
      for (int64_t c = cb; c < ce; ++c) {
        T* plane = grad_in + (batch[r] * C + c) * H * W;
        const T* go = grad_out + (r * C + c) * bins;
        const Tap<T>* t = all[r].data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          const T gv = go[bin] * inv_count;
          for (int64_t s = 0; s < per_bin[r]; ++s, ++t) {
            plane[t->o[0]] += gv * t->w[0];
            plane[t->o[1]] += gv * t->w[1];
            plane[t->o[2]] += gv * t->w[2];
            plane[t->o[3]] += gv * t->w[3];
          }
        }
      }
    }
  });
}

torch::Tensor forward_cpu(const torch::Tensor& f_in, const torch::Tensor& rois_in, const RoIAlignParams& p) {
  auto f = f_in.contiguous();
  auto rois = rois_in.to(f.scalar_type()).contiguous();
  const int64_t R = rois.size(0);
  auto out = torch::zeros({R, f.size(1), p.pooled_h, p.pooled_w}, f.options());
  if (R == 0 || f.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(f.scalar_type(), "roi_align_forward", [&] {
    forward_kernel<scalar_t>(f.data_ptr<scalar_t>(), f.size(0), f.size(1), f.size(2), f.size(3),
                             rois.data_ptr<scalar_t>(), R, p, out.data_ptr<scalar_t>());
  });
  return out;
}

torch::Tensor backward_cpu(const torch::Tensor& grad_in, const torch::Tensor& rois_in, at::IntArrayRef fshape,
                           const RoIAlignParams& p) {
  auto g = grad_in.contiguous();
  auto rois = rois_in.to(g.scalar_type()).contiguous();
  auto out = torch::zeros(fshape, g.options());
  if (rois.size(0) == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "roi_align_backward", [&] {
    backward_kernel<scalar_t>(g.data_ptr<scalar_t>(), fshape[0], fshape[1], fshape[2], fshape[3],
                              rois.data_ptr<scalar_t>(), rois.size(0), p, out.data_ptr<scalar_t>());
  });
  return out;
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
