#pragma once
// torchvision's AnchorGenerator: per level, base anchors from (sizes,
// ratios) with h = size * sqrt(r), w = size / sqrt(r), ratio-major, rounded
// to integers; shifted by index * stride (the cell corner) where stride =
// padded image size // feature size per axis; order level -> y -> x -> anchor.
#include <torch/torch.h>

#include <vector>

namespace rcnn::modeling::tv {

torch::Tensor base_anchors(const std::vector<double>& sizes, const std::vector<double>& ratios);  // (A, 4) float

struct LevelGrid {
  int64_t height = 0, width = 0;          // feature map
  int64_t stride_h = 0, stride_w = 0;     // padded image size // feature size
};

// Anchors of one level, (H * W * A, 4) float.
torch::Tensor grid_anchors(const torch::Tensor& base, const LevelGrid& g);

}  // namespace rcnn::modeling::tv
