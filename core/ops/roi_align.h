#pragma once
// RoIAlign with torchvision 0.14 semantics (docs/ops.md). Layout as
// torchvision's csrc/ops: this declaration, the dispatcher roi_align.cpp,
// cpu/roi_align_kernel.cpp, autograd/roi_align_autograd.cpp,
// roi_align_generic.cpp, and the geometry they share in roi_align_common.h.
//
// Shape shorthand: N images, C channels, H x W feature map, R RoIs,
// ph x pw pooled output.
#include <torch/types.h>

#include <vector>

namespace rcnn::ops {

struct RoIAlignParams {
  int64_t pooled_h = 7;
  int64_t pooled_w = 7;
  double spatial_scale = 1.0;
  int64_t sampling_ratio = 2;  // <= 0: adaptive, ceil(roi_size / pooled_size)
  bool aligned = true;         // subtract half a pixel (Detectron2's fix)
};

// features: (N, C, H, W) float; rois: (R, 5) rows (batch_index, x1, y1, x2, y2)
// in image coordinates -> (R, C, ph, pw). Differentiable w.r.t. features
// (no gradient to the RoI coordinates). CPU tensors run the parallel kernel;
// other devices run roi_align_generic.
torch::Tensor roi_align(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p);

// The same computation written with gather/index ops only: works on any
// device, differentiable through autograd, and an independent check of the
// CPU kernel in tests.
torch::Tensor roi_align_generic(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p);

// Sampling points of one RoI, in feature-map coordinates (before the bilinear
// clamp), for display: (ph * grid_h * pw * grid_w) points as (x, y) pairs.
struct RoISamplingGrid {
  int64_t grid_h = 0, grid_w = 0;
  std::vector<float> xy;  // interleaved x, y; row-major over (ph, gy, pw, gx)
};
RoISamplingGrid roi_align_sampling_points(float x1, float y1, float x2, float y2, const RoIAlignParams& p);

}  // namespace rcnn::ops
