#pragma once
// RoIAlign geometry shared by the CPU kernels and the sampling points the
// studio draws (torchvision's roi_align_common.h plays this role). Every
// quantity is computed in T with torchvision 0.14's expressions, in its
// order, so a kernel built on it is bit-identical to torchvision's.
//
// For RoI (x1, y1, x2, y2) in image coordinates, spatial scale s, output
// ph x pw bins and `aligned` offset o = 0.5 (else 0):
//   start = x1 * s - o, size = x2 * s - o - start (>= 1 when not aligned),
//   bin = size / pooled, grid = sampling_ratio > 0 ? sampling_ratio : ceil(size / pooled),
//   sample (bin p, index i) = start + p * bin + (i + 0.5) * bin / grid.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/roi_align.h"

namespace rcnn::ops::detail {

template <typename T>
struct RoIGeometry {
  T start_w, start_h;      // top-left corner on the feature map
  T bin_w, bin_h;          // bin size in feature-map cells
  int64_t grid_h, grid_w;  // samples per bin along y and x (may be <= 0 for empty RoIs)
  T count() const { return static_cast<T>(grid_h * grid_w); }
  T sample_y(int64_t ph, int64_t iy) const {
    return start_h + static_cast<T>(ph) * bin_h +
           static_cast<T>(static_cast<float>(iy) + 0.5f) * bin_h / static_cast<T>(grid_h);
  }
  T sample_x(int64_t pw, int64_t ix) const {
    return start_w + static_cast<T>(pw) * bin_w +
           static_cast<T>(static_cast<float>(ix) + 0.5f) * bin_w / static_cast<T>(grid_w);
  }
};

template <typename T>
RoIGeometry<T> roi_geometry(T x1, T y1, T x2, T y2, const RoIAlignParams& p) {
  const T scale = static_cast<T>(p.spatial_scale);
  const T offset = p.aligned ? T(0.5) : T(0);
  RoIGeometry<T> g{};
  g.start_w = x1 * scale - offset;
  g.start_h = y1 * scale - offset;
  const T end_w = x2 * scale - offset, end_h = y2 * scale - offset;
  T roi_w = end_w - g.start_w, roi_h = end_h - g.start_h;
  if (!p.aligned) {
    roi_w = std::max(roi_w, T(1));
    roi_h = std::max(roi_h, T(1));
  }
  g.bin_h = roi_h / static_cast<T>(p.pooled_h);
  g.bin_w = roi_w / static_cast<T>(p.pooled_w);
  g.grid_h =
      p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / static_cast<T>(p.pooled_h)));
  g.grid_w =
      p.sampling_ratio > 0 ? p.sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / static_cast<T>(p.pooled_w)));
  return g;
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

// One axis of a tap: make_tap's work on y (or x) alone. A tap's weights and
// offsets are products and sums of its two axes' values, so a RoI's taps
// can be made from pooled_h x grid_h rows and pooled_w x grid_w columns.
template <typename T>
struct AxisTap {
  int64_t lo = 0, hi = 0;
  T l = 0, h = 0;
  bool inside = false;
};

template <typename T>
AxisTap<T> make_axis_tap(int64_t n, T v) {
  AxisTap<T> a;
  // Written as !(in range) so NaN coordinates take this branch.
  if (!(v >= T(-1) && v <= T(n))) return a;
  if (v <= 0) v = 0;
  a.lo = static_cast<int64_t>(v);
  if (a.lo >= n - 1) {
    a.hi = a.lo = n - 1;
    v = static_cast<T>(a.lo);
  } else {
    a.hi = a.lo + 1;
  }
  a.l = v - a.lo;
  a.h = T(1) - a.l;
  a.inside = true;
  return a;
}

// The tap of (y, x) from its axes: the same values as make_tap(H, W, y, x).
template <typename T>
Tap<T> combine_taps(int64_t W, const AxisTap<T>& y, const AxisTap<T>& x) {
  Tap<T> t{};
  if (!(y.inside && x.inside)) {
    for (int i = 0; i < 4; ++i) t.o[i] = 0, t.w[i] = 0;
    t.inside = false;
    return t;
  }
  t.o[0] = y.lo * W + x.lo;
  t.o[1] = y.lo * W + x.hi;
  t.o[2] = y.hi * W + x.lo;
  t.o[3] = y.hi * W + x.hi;
  t.w[0] = y.h * x.h;
  t.w[1] = y.h * x.l;
  t.w[2] = y.l * x.h;
  t.w[3] = y.l * x.l;
  t.inside = true;
  return t;
}

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

}  // namespace rcnn::ops::detail
