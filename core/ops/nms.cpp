#include "ops/nms.h"

#include <torch/torch.h>

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

template <typename T>
int64_t nms_kernel(const T* b, const int64_t* order, int64_t k, T thr, int64_t* keep, int64_t* suppressed_by) {
  // Copy boxes into sorted, structure-of-arrays order so the inner loop walks
  // contiguous memory.
  std::vector<T> x1(k), y1(k), x2(k), y2(k), area(k);
  for (int64_t i = 0; i < k; ++i) {
    const T* r = b + 4 * order[i];
    x1[i] = r[0];
    y1[i] = r[1];
    x2[i] = r[2];
    y2[i] = r[3];
    area[i] = (r[2] - r[0]) * (r[3] - r[1]);
  }
  std::vector<int64_t> sup(k, -1);
  std::vector<uint8_t> removed(k, 0);
  int64_t nkeep = 0;
  for (int64_t i = 0; i < k; ++i) {
    if (removed[i]) continue;
    keep[nkeep++] = order[i];
    const T ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], ia = area[i];
    for (int64_t j = i + 1; j < k; ++j) {
      if (removed[j]) continue;
      const T w = std::max<T>(std::min(ix2, x2[j]) - std::max(ix1, x1[j]), T(0));
      const T h = std::max<T>(std::min(iy2, y2[j]) - std::max(iy1, y1[j]), T(0));
      const T inter = w * h;
      const T uni = ia + area[j] - inter;
      // Same division as torchvision so borderline pairs round identically.
      if (uni > T(0) && inter / uni > thr) {
        removed[j] = 1;
        sup[j] = order[i];
      }
    }
  }
  if (suppressed_by) {
    for (int64_t i = 0; i < k; ++i) suppressed_by[order[i]] = sup[i];
  }
  return nkeep;
}

}  // namespace

torch::Tensor nms_with_suppressor(const torch::Tensor& boxes_in, const torch::Tensor& scores_in, double iou_threshold,
                                  torch::Tensor* suppressed_by) {
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
  return keep.narrow(0, 0, nkeep).clone().to(device);
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
