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

// Each level's grid for a padded input of h x w without running the
// backbone: every stride-2 step of its convolutions and pools (odd kernel k,
// padding (k - 1) / 2, or the 'pool' level's 1 x 1 max-pool) maps n cells
// to ceil(n / 2); ResNet-50-FPN's levels lie 2, 3, 4, 5 and 6 steps deep,
// MobileNetV3-Large-FPN's 5, 5 and 6. tests/torchvision checks it against
// the backbone's own feature maps.
std::vector<LevelGrid> level_grids(int64_t h, int64_t w, bool mobilenet);

// Anchors of one level, (H * W * A, 4) float.
torch::Tensor grid_anchors(const torch::Tensor& base, const LevelGrid& g);

}  // namespace rcnn::modeling::tv
