#pragma once
// Argument checks shared by every RoIAlign entry point.
#include <torch/torch.h>

#include "ops/roi_align.h"

namespace rcnn::ops::detail {

inline void check_roi_align_inputs(const torch::Tensor& f, const torch::Tensor& rois, const RoIAlignParams& p) {
  TORCH_CHECK(f.dim() == 4, "roi_align: features must have shape (N, C, H, W), got ", f.sizes());
  TORCH_CHECK(f.is_floating_point(), "roi_align: features must be floating point, got ", f.scalar_type());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "roi_align: rois must have shape (R, 5) [batch_index, x1, y1, x2, y2], got ", rois.sizes());
  TORCH_CHECK(f.device() == rois.device(), "roi_align: features on ", f.device(), " but rois on ", rois.device());
  TORCH_CHECK(p.pooled_h > 0 && p.pooled_w > 0, "roi_align: output size must be positive, got ", p.pooled_h, "x",
              p.pooled_w);
  TORCH_CHECK(p.spatial_scale > 0, "roi_align: spatial_scale must be > 0, got ", p.spatial_scale);
}

}  // namespace rcnn::ops::detail
