#pragma once
// Location grid and FPN anchors (reference: get_fpn_location_coords,
// generate_fpn_anchors).
//
// Shape shorthand: H x W feature map of one level, A anchors per location
// (aspect ratios x scales), K = H * W * A anchors of the level.
#include <torch/torch.h>

#include <vector>

#include "config/detector_config.h"

namespace rcnn::modeling {

// Centres of the cells of an H x W map with this stride, row-major:
// cell (i, j) -> ((j + 0.5) * stride, (i + 0.5) * stride). Returns (H*W, 2) as (x, y).
torch::Tensor location_grid(int64_t H, int64_t W, double stride, const torch::TensorOptions& opts);

class AnchorGenerator {
 public:
  explicit AnchorGenerator(AnchorOptions options);
  // Anchors per location: ratios x scales.
  int64_t num_anchors_per_location() const;
  // Side lengths sqrt(area) of the scales of a level with this stride.
  std::vector<double> sizes(double stride) const;
  // (H*W*A, 4) anchors of one level; order location-major, then scale, then
  // aspect ratio (minor), matching permute(0, 2, 3, 1).reshape(N, -1).
  torch::Tensor level_anchors(int64_t H, int64_t W, double stride, const torch::TensorOptions& opts) const;
  const AnchorOptions& options() const { return options_; }

 private:
  AnchorOptions options_;
};

}  // namespace rcnn::modeling
