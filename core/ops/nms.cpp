#include "ops/nms.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace rcnn::ops {
namespace {

void check_inputs(const torch::Tensor& boxes, const torch::Tensor& scores, double thr) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "nms: boxes must have shape (K, 4), got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0),
              "nms: scores must have shape (K,) with K = ", boxes.size(0), ", got ", scores.sizes());
  TORCH_CHECK(boxes.is_floating_point(), "nms: boxes must be floating point, got ", boxes.scalar_type());
  TORCH_CHECK(boxes.device() == scores.device(), "nms: boxes on ", boxes.device(), " but scores on ", scores.device());
  TORCH_CHECK(thr >= 0.0 && thr <= 1.0, "nms: iou_threshold must be in [0, 1], got ", thr);
}

// IoU of a kept box (i) and a later box (j) > thr, with torchvision's
// arithmetic in its order, so borderline pairs round identically.
template <typename T>
inline bool iou_above(T ix1, T iy1, T ix2, T iy2, T ia, T jx1, T jy1, T jx2, T jy2, T ja, T thr) {
  const T w = std::max<T>(std::min(ix2, jx2) - std::max(ix1, jx1), T(0));
  const T h = std::max<T>(std::min(iy2, jy2) - std::max(iy1, jy1), T(0));
  const T inter = w * h;
  const T uni = ia + ja - inter;
  return uni > T(0) && inter / uni > thr;
}

// Greedy NMS over boxes already in descending score order (rank r = position
// in `order`). Every kept box is compared with every later box: O(K^2).
template <typename T>
void nms_full(const T* x1, const T* y1, const T* x2, const T* y2, const T* area, int64_t k, T thr,
                 std::vector<int64_t>& sup) {
  for (int64_t i = 0; i < k; ++i) {
    if (sup[i] >= 0) continue;  // suppressed by an earlier kept box
    const T ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], ia = area[i];
    for (int64_t j = i + 1; j < k; ++j) {
      if (sup[j] < 0 && iou_above(ix1, iy1, ix2, iy2, ia, x1[j], y1[j], x2[j], y2[j], area[j], thr)) sup[j] = i;
    }
  }
}

// The same greedy walk, but each kept box only looks at boxes whose top-left
// corner is near its own. IoU > t needs the intersection width to be at
// least t * w_i and t * w_j, which bounds |x1_j - x1_i| <= (1-t)/t * w_i (and
// likewise y1 with the heights). Boxes are binned by (x1, y1) on a uniform
// grid; a kept box scans only the cells its window touches. Boxes outside the
// window can never be suppressed by it, so the result - kept set, order and
// suppressor - is exactly the O(K^2) walk's: the grid only skips pairs whose
// IoU is provably <= t. The window gets a small margin for rounding.
template <typename T>
void nms_grid(const T* x1, const T* y1, const T* x2, const T* y2, const T* area, int64_t k, T thr,
                 std::vector<int64_t>& sup) {
  double minx = x1[0], maxx = x1[0], miny = y1[0], maxy = y1[0];
  for (int64_t i = 1; i < k; ++i) {
    minx = std::min<double>(minx, x1[i]);
    maxx = std::max<double>(maxx, x1[i]);
    miny = std::min<double>(miny, y1[i]);
    maxy = std::max<double>(maxy, y1[i]);
  }
  // About two boxes per cell when they are spread out.
  const int64_t G = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(std::sqrt(k / 2.0))), 1, 1024);
  const double cw = maxx > minx ? (maxx - minx) / G : 1.0, ch = maxy > miny ? (maxy - miny) / G : 1.0;
  auto cell_x = [&](double x) { return std::clamp<int64_t>(static_cast<int64_t>((x - minx) / cw), 0, G - 1); };
  auto cell_y = [&](double y) { return std::clamp<int64_t>(static_cast<int64_t>((y - miny) / ch), 0, G - 1); };
  // Cells in CSR form; each entry carries its box's rank and corner.
  std::vector<int32_t> start(G * G + 1, 0), cell_of(k);
  for (int64_t i = 0; i < k; ++i) {
    cell_of[i] = static_cast<int32_t>(cell_y(y1[i]) * G + cell_x(x1[i]));
    ++start[cell_of[i] + 1];
  }
  for (int64_t c = 0; c < G * G; ++c) start[c + 1] += start[c];
  std::vector<int32_t> fill(start.begin(), start.end() - 1), rank(k);
  std::vector<T> cx1(k), cy1(k);
  for (int64_t i = 0; i < k; ++i) {
    const int32_t p = fill[cell_of[i]]++;
    rank[p] = static_cast<int32_t>(i);
    cx1[p] = x1[i];
    cy1[p] = y1[i];
  }
  const double reach = (1.0 - static_cast<double>(thr)) / static_cast<double>(thr) * 1.001;
  for (int64_t i = 0; i < k; ++i) {
    if (sup[i] >= 0) continue;  // suppressed by an earlier kept box
    const T ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], ia = area[i];
    const double w = static_cast<double>(ix2) - ix1, h = static_cast<double>(iy2) - iy1;
    if (!(w > 0 && h > 0)) continue;  // empty or inverted: all its intersections are 0
    const double rx = reach * w + 1e-5 * (std::abs(static_cast<double>(ix1)) + w);
    const double ry = reach * h + 1e-5 * (std::abs(static_cast<double>(iy1)) + h);
    const T xlo = static_cast<T>(ix1 - rx), xhi = static_cast<T>(ix1 + rx);
    const T ylo = static_cast<T>(iy1 - ry), yhi = static_cast<T>(iy1 + ry);
    const int64_t gx0 = cell_x(ix1 - rx), gx1 = cell_x(ix1 + rx), gy0 = cell_y(iy1 - ry), gy1 = cell_y(iy1 + ry);
    for (int64_t gy = gy0; gy <= gy1; ++gy) {
      for (int64_t p = start[gy * G + gx0], pe = start[gy * G + gx1 + 1]; p < pe; ++p) {
        if (cx1[p] < xlo || cx1[p] > xhi || cy1[p] < ylo || cy1[p] > yhi) continue;
        const int64_t j = rank[p];
        if (j > i && sup[j] < 0 && iou_above(ix1, iy1, ix2, iy2, ia, x1[j], y1[j], x2[j], y2[j], area[j], thr))
          sup[j] = i;
      }
    }
  }
}

template <typename T>
int64_t nms_kernel(const T* b, const int64_t* order, int64_t k, T thr, int64_t* keep, int64_t* suppressed_by) {
  // Copy boxes into sorted, structure-of-arrays order so the inner loops walk
  // contiguous memory.
  std::vector<T> x1(k), y1(k), x2(k), y2(k), area(k);
  bool finite = true;
  for (int64_t i = 0; i < k; ++i) {
    const T* r = b + 4 * order[i];
    x1[i] = r[0];
    y1[i] = r[1];
    x2[i] = r[2];
    y2[i] = r[3];
    area[i] = (r[2] - r[0]) * (r[3] - r[1]);
    finite = finite && std::isfinite(r[0]) && std::isfinite(r[1]) && std::isfinite(r[2]) && std::isfinite(r[3]);
  }
  std::vector<int64_t> sup(k, -1);
  // The window needs t > 0 (at t = 0 any touching pair counts) and finite
  // coordinates (NaN breaks the x1 ordering); small inputs gain nothing.
  const bool windowed = finite && thr > T(0.05) && k >= 64 && k < (int64_t{1} << 31);
  if (windowed)
    nms_grid(x1.data(), y1.data(), x2.data(), y2.data(), area.data(), k, thr, sup);
  else
    nms_full(x1.data(), y1.data(), x2.data(), y2.data(), area.data(), k, thr, sup);
  int64_t n = 0;
  for (int64_t i = 0; i < k; ++i)
    if (sup[i] < 0) keep[n++] = order[i];
  if (suppressed_by) {
    for (int64_t i = 0; i < k; ++i) suppressed_by[order[i]] = sup[i] < 0 ? -1 : order[sup[i]];
  }
  return n;
}

}  // namespace

torch::Tensor nms_with_suppressor(const torch::Tensor& boxes_in, const torch::Tensor& scores_in, double iou_threshold,
                                  torch::Tensor* suppressed_by) {
  // Seen by ATen's profiling hooks (engine/op_cost.h) as one operator.
  RECORD_FUNCTION("rcnn::nms", std::vector<c10::IValue>({boxes_in, scores_in}));
  check_inputs(boxes_in, scores_in, iou_threshold);
  const auto device = boxes_in.device();
  const int64_t k = boxes_in.size(0);
  auto long_opts = torch::TensorOptions().dtype(torch::kLong);
  if (k == 0) {
    if (suppressed_by) *suppressed_by = torch::empty({0}, long_opts.device(device));
    return torch::empty({0}, long_opts.device(device));
  }
  // Non-CPU tensors take the same greedy walk on the host: NMS is sequential
  // and for the few thousand boxes of a detector the copy is cheap.
  auto boxes = boxes_in.detach().to(torch::kCPU).contiguous();
  auto scores = scores_in.detach().to(torch::kCPU).contiguous();
  auto order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
  auto keep = torch::empty({k}, long_opts);
  torch::Tensor sup;
  if (suppressed_by) sup = torch::empty({k}, long_opts);
  int64_t nkeep = 0;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "nms", [&] {
    nkeep = nms_kernel<scalar_t>(boxes.data_ptr<scalar_t>(), order.data_ptr<int64_t>(), k,
                                 static_cast<scalar_t>(iou_threshold), keep.data_ptr<int64_t>(),
                                 suppressed_by ? sup.data_ptr<int64_t>() : nullptr);
  });
  if (suppressed_by) *suppressed_by = sup.to(device);
  auto kept = keep.narrow(0, 0, nkeep).clone().to(device);
  if (guard.isActive() && guard.needsOutputs()) guard.setOutputs(std::vector<c10::IValue>{kept});
  return kept;
}

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  return nms_with_suppressor(boxes, scores, iou_threshold, nullptr);
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold) {
  check_inputs(boxes, scores, iou_threshold);
  TORCH_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0),
              "batched_nms: idxs must have shape (K,) with K = ", boxes.size(0), ", got ", idxs.sizes());
  if (boxes.size(0) == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  // Offset each category into its own disjoint region; the offset is relative
  // to the minimum coordinate so negative boxes are handled too.
  auto b = boxes.detach();
  auto lo = b.min();
  auto span = b.max() - lo + 1;
  auto shifted = (b - lo) + (idxs.to(b.scalar_type()) * span).unsqueeze(1);
  return nms(shifted, scores, iou_threshold);
}

}  // namespace rcnn::ops
