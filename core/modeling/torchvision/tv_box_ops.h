#pragma once
// torchvision's box utilities, op for op (torchvision 0.14 `ops/boxes.py`,
// `models/detection/_utils.py` BoxCoder), so results are bit-equal.
#include <torch/torch.h>

#include <array>

namespace rcnn::modeling::tv {

// BoxCoder.decode_single: rel_codes (R, 4k) against boxes (R, 4) -> (R, 4k).
torch::Tensor decode_boxes(const torch::Tensor& rel_codes, const torch::Tensor& boxes,
                           const std::array<double, 4>& weights, double clip);
// The default clip of dw, dh: log(1000 / 16).
double default_bbox_clip();

torch::Tensor clip_boxes_to_image(const torch::Tensor& boxes, int64_t height, int64_t width);
torch::Tensor remove_small_boxes(const torch::Tensor& boxes, double min_size);  // kept indices
// batched_nms: per-class loop above 4000 box coordinates on the CPU (20000
// elsewhere), the coordinate offset trick below, as torchvision picks.
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold);

}  // namespace rcnn::modeling::tv
