// Device-generic RoIAlign written with gather/index ops: runs on any device,
// is differentiable through autograd, and is the tests' independent check of
// the CPU kernel (it does not use the shared geometry on purpose).
#include <torch/torch.h>

#include "ops/roi_align.h"
#include "ops/roi_align_checks.h"

namespace rcnn::ops {

torch::Tensor roi_align_generic(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p) {
  detail::check_roi_align_inputs(features, rois, p);
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

}  // namespace rcnn::ops
