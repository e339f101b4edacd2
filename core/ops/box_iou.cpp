#include "ops/box_iou.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <type_traits>
#include <vector>

namespace rcnn::ops {
namespace {

void check_boxes(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == 4, "box_iou: ", name, " must have shape (K, 4), got ", t.sizes());
  TORCH_CHECK(t.is_floating_point(), "box_iou: ", name, " must be floating point, got ", t.scalar_type());
}

// One row block of the IoU matrix. b is given as structure-of-arrays so the
// inner loop is a straight SIMD loop; the division is made unconditional
// (by 1 where the union is not positive) so it vectorizes, and the select
// keeps the documented 0 for those pairs. The arithmetic per pair is
// torchvision's: inter / (area_a + area_b - inter).
template <typename T>
inline void iou_rows(const T* __restrict a, int64_t begin, int64_t end, const T* __restrict bx1,
                     const T* __restrict by1, const T* __restrict bx2, const T* __restrict by2,
                     const T* __restrict barea, int64_t k, T* __restrict out) {
  for (int64_t i = begin; i < end; ++i) {
    const T ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
    const T area_a = (ax2 - ax1) * (ay2 - ay1);
    T* __restrict row = out + i * k;
    for (int64_t j = 0; j < k; ++j) {
      const T iw = std::max<T>(std::min(ax2, bx2[j]) - std::max(ax1, bx1[j]), T(0));
      const T ih = std::max<T>(std::min(ay2, by2[j]) - std::max(ay1, by1[j]), T(0));
      const T inter = iw * ih;
      const T uni = area_a + barea[j] - inter;
      const bool ok = uni > T(0);
      const T q = inter / (ok ? uni : T(1));
      row[j] = ok ? q : T(0);
    }
  }
}

// float gets an AVX2 clone next to the baseline one, picked at load time by
// the CPU; AVX2 without FMA, so the rounding stays that of separate ops.
__attribute__((target_clones("avx2", "default"))) void iou_rows_f32(
    const float* a, int64_t begin, int64_t end, const float* bx1, const float* by1, const float* bx2,
    const float* by2, const float* barea, int64_t k, float* out) {
  iou_rows<float>(a, begin, end, bx1, by1, bx2, by2, barea, k, out);
}

template <typename T>
void iou_kernel(const T* a, int64_t m, const T* b, int64_t k, T* out) {
  std::vector<T> soa(static_cast<size_t>(5 * k));
  T *bx1 = soa.data(), *by1 = bx1 + k, *bx2 = by1 + k, *by2 = bx2 + k, *barea = by2 + k;
  for (int64_t j = 0; j < k; ++j) {
    bx1[j] = b[4 * j];
    by1[j] = b[4 * j + 1];
    bx2[j] = b[4 * j + 2];
    by2[j] = b[4 * j + 3];
    barea[j] = (bx2[j] - bx1[j]) * (by2[j] - by1[j]);
  }
  // Waking the thread pool costs more than ~100k pairs take on one core.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 17) / std::max<int64_t>(k, 1));
  at::parallel_for(0, m, grain, [&](int64_t begin, int64_t end) {
    if constexpr (std::is_same_v<T, float>) {
      iou_rows_f32(a, begin, end, bx1, by1, bx2, by2, barea, k, out);
    } else {
      iou_rows<T>(a, begin, end, bx1, by1, bx2, by2, barea, k, out);
    }
  });
}

}  // namespace

torch::Tensor box_iou(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  check_boxes(a_in, "a");
  check_boxes(b_in, "b");
  TORCH_CHECK(a_in.device() == b_in.device(), "box_iou: a is on ", a_in.device(), " but b is on ", b_in.device());
  if (!a_in.device().is_cpu()) return box_iou_generic(a_in, b_in);
  auto dtype = at::promote_types(a_in.scalar_type(), b_in.scalar_type());
  auto a = a_in.to(dtype).contiguous();
  auto b = b_in.to(dtype).contiguous();
  auto out = torch::empty({a.size(0), b.size(0)}, a.options());
  if (a.size(0) == 0 || b.size(0) == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "box_iou", [&] {
    iou_kernel<scalar_t>(a.data_ptr<scalar_t>(), a.size(0), b.data_ptr<scalar_t>(), b.size(0),
                         out.data_ptr<scalar_t>());
  });
  return out;
}

torch::Tensor box_iou_generic(const torch::Tensor& a, const torch::Tensor& b) {
  check_boxes(a, "a");
  check_boxes(b, "b");
  auto area_a = (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
  auto area_b = (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  auto lt = torch::max(a.unsqueeze(1).narrow(2, 0, 2), b.unsqueeze(0).narrow(2, 0, 2));
  auto rb = torch::min(a.unsqueeze(1).narrow(2, 2, 2), b.unsqueeze(0).narrow(2, 2, 2));
  auto wh = (rb - lt).clamp_min(0);
  auto inter = wh.select(2, 0) * wh.select(2, 1);
  auto uni = area_a.unsqueeze(1) + area_b.unsqueeze(0) - inter;
  return torch::where(uni > 0, inter / uni, torch::zeros_like(inter));
}

}  // namespace rcnn::ops
