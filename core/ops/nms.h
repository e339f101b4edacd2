#pragma once
// Greedy non-maximum suppression (torchvision 0.14 semantics).
//
// Shape shorthand: K boxes, rows (x1, y1, x2, y2).
#include <torch/types.h>

namespace rcnn::ops {

// boxes: (K, 4) float, scores: (K,) float -> kept indices, int64, in
// descending score order (ties: lower index first). A later box is suppressed
// when its IoU with a kept box is strictly greater than iou_threshold.
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);

// As nms(), and also fills `suppressed_by` (K,) int64: for every input box the
// index of the kept box that suppressed it, or -1 when it was kept. The studio
// shows this so a user can see *why* a proposal disappeared.
torch::Tensor nms_with_suppressor(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold,
                                  torch::Tensor* suppressed_by);

// Per-category NMS: boxes with different idxs (K,) int64 never suppress each
// other. Returns kept indices in descending score order.
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold);

}  // namespace rcnn::ops
