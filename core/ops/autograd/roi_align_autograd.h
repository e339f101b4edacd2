#pragma once
#include <torch/types.h>

#include "ops/roi_align.h"

namespace rcnn::ops::autograd {

// CPU RoIAlign that autograd can differentiate (features only).
torch::Tensor roi_align_autograd(const torch::Tensor& features, const torch::Tensor& rois, const RoIAlignParams& p);

}  // namespace rcnn::ops::autograd
