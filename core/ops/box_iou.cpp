#include "ops/box_iou.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace rcnn::ops {
namespace {

void check_boxes(const torch::Tensor& t, const char* name) {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == 4, "box_iou: ", name, " must have shape (K, 4), got ", t.sizes());
  TORCH_CHECK(t.is_floating_point(), "box_iou: ", name, " must be floating point, got ", t.scalar_type());
}

template <typename T>
void iou_kernel(const T* a, int64_t m, const T* b, int64_t k, T* out) {
  std::vector<T> area_b(k);
  for (int64_t j = 0; j < k; ++j) area_b[j] = (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]);
  at::parallel_for(0, m, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
      const T area_a = (ax2 - ax1) * (ay2 - ay1);
      T* row = out + i * k;
      for (int64_t j = 0; j < k; ++j) {
        const T* bj = b + 4 * j;
        const T iw = std::max<T>(std::min(ax2, bj[2]) - std::max(ax1, bj[0]), T(0));
        const T ih = std::max<T>(std::min(ay2, bj[3]) - std::max(ay1, bj[1]), T(0));
        const T inter = iw * ih;
        const T uni = area_a + area_b[j] - inter;
        row[j] = uni > T(0) ? inter / uni : T(0);
      }
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
