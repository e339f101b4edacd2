#pragma once
// Pairwise IoU of axis-aligned boxes.
//
// Shape shorthand: M boxes in `a`, K boxes in `b`, each row (x1, y1, x2, y2)
// in continuous coordinates, area = (x2 - x1) * (y2 - y1) (no +1).
#include <torch/types.h>

namespace rcnn::ops {

// a: (M, 4), b: (K, 4), floating dtype, same device -> (M, K) IoU.
// Degenerate pairs whose union is 0 (two zero-area boxes) give IoU 0, not
// torchvision's NaN: a NaN would poison the matcher's max() (docs/ops.md,
// "Box IoU").
torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b);

// Same result, computed with plain tensor ops on any device (the reference
// path for non-CPU tensors and an independent check for the CPU kernel).
torch::Tensor box_iou_generic(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace rcnn::ops
