#include "modeling/torchvision/tv_box_ops.h"

#include <cmath>

#include "ops/nms.h"

namespace rcnn::modeling::tv {
using torch::indexing::None;
using torch::indexing::Slice;

double default_bbox_clip() {
  return std::log(1000.0 / 16);
}

torch::Tensor decode_boxes(const torch::Tensor& rel_codes, const torch::Tensor& boxes_in,
                           const std::array<double, 4>& w, double clip) {
  auto boxes = boxes_in.to(rel_codes.scalar_type());
  auto widths = boxes.select(1, 2) - boxes.select(1, 0);
  auto heights = boxes.select(1, 3) - boxes.select(1, 1);
  auto ctr_x = boxes.select(1, 0) + 0.5 * widths;
  auto ctr_y = boxes.select(1, 1) + 0.5 * heights;
  auto dx = rel_codes.index({Slice(), Slice(0, None, 4)}) / w[0];
  auto dy = rel_codes.index({Slice(), Slice(1, None, 4)}) / w[1];
  auto dw = rel_codes.index({Slice(), Slice(2, None, 4)}) / w[2];
  auto dh = rel_codes.index({Slice(), Slice(3, None, 4)}) / w[3];
  dw = torch::clamp(dw, c10::nullopt, clip);
  dh = torch::clamp(dh, c10::nullopt, clip);
  auto pred_ctr_x = dx * widths.unsqueeze(1) + ctr_x.unsqueeze(1);
  auto pred_ctr_y = dy * heights.unsqueeze(1) + ctr_y.unsqueeze(1);
  auto pred_w = torch::exp(dw) * widths.unsqueeze(1);
  auto pred_h = torch::exp(dh) * heights.unsqueeze(1);
  auto half = torch::tensor(0.5, pred_ctr_x.options());
  auto c_h = half * pred_h;
  auto c_w = half * pred_w;
  return torch::stack({pred_ctr_x - c_w, pred_ctr_y - c_h, pred_ctr_x + c_w, pred_ctr_y + c_h}, 2).flatten(1);
}

torch::Tensor clip_boxes_to_image(const torch::Tensor& boxes, int64_t height, int64_t width) {
  auto bx = boxes.index({"...", Slice(0, None, 2)}).clamp(0, width);
  auto by = boxes.index({"...", Slice(1, None, 2)}).clamp(0, height);
  return torch::stack({bx, by}, boxes.dim()).reshape(boxes.sizes());
}

torch::Tensor remove_small_boxes(const torch::Tensor& boxes, double min_size) {
  auto ws = boxes.select(1, 2) - boxes.select(1, 0);
  auto hs = boxes.select(1, 3) - boxes.select(1, 1);
  auto keep = (ws >= min_size).logical_and(hs >= min_size);
  return torch::where(keep)[0];
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold) {
  const int64_t limit = boxes.device().is_cpu() ? 4000 : 20000;
  if (boxes.numel() > limit) {
    auto keep_mask = torch::zeros_like(scores, scores.options().dtype(torch::kBool));
    auto classes = std::get<0>(torch::_unique(idxs));
    auto ids = classes.to(torch::kCPU).contiguous();
    for (int64_t c = 0; c < ids.numel(); ++c) {
      auto curr = torch::where(idxs == ids[c])[0];
      auto k = ops::nms(boxes.index({curr}), scores.index({curr}), iou_threshold);
      keep_mask.index_put_({curr.index({k})}, true);
    }
    auto keep = torch::where(keep_mask)[0];
    return keep.index({std::get<1>(scores.index({keep}).sort(0, /*descending=*/true))});
  }
  if (boxes.numel() == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  auto max_coordinate = boxes.max();
  auto offsets = idxs.to(boxes.scalar_type()) * (max_coordinate + torch::tensor(1).to(boxes.scalar_type()));
  return ops::nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace rcnn::modeling::tv
