#pragma once
// CPU kernels of RoIAlign (forward and backward), bit-identical to
// torchvision 0.14's CPU kernels. Inputs are checked by ops/roi_align.cpp.
#include <torch/types.h>

#include "ops/roi_align.h"

namespace rcnn::ops::cpu {

// features (N, C, H, W), rois (R, 5) -> (R, C, ph, pw).
torch::Tensor roi_align_forward_kernel(const torch::Tensor& features, const torch::Tensor& rois,
                                       const RoIAlignParams& p);
// grad (R, C, ph, pw) -> gradient of the features, shape fshape (N, C, H, W).
torch::Tensor roi_align_backward_kernel(const torch::Tensor& grad, const torch::Tensor& rois, at::IntArrayRef fshape,
                                        const RoIAlignParams& p);

}  // namespace rcnn::ops::cpu
