#pragma once
// torchvision's GeneralizedRCNNTransform at inference: normalise, resize
// (scale = min(min_size / short side, max_size / long side) in float32,
// output size floor(side * scale), bilinear, align_corners = false), pad the
// batch with zeros to a multiple of size_divisible; detections are mapped
// back to the original size per axis.
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "modeling/torchvision/tv_options.h"

namespace rcnn::modeling::tv {

struct ImageBatch {
  torch::Tensor tensors;                              // (N, 3, H_pad, W_pad)
  std::vector<std::pair<int64_t, int64_t>> sizes;     // resized (h, w) per image
  std::vector<std::pair<int64_t, int64_t>> original;  // (h, w) per image
};

// The size (h, w) an h x w image is resized to, and a batch of largest size
// (h, w) padded to.
std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w, const TvOptions& o);
std::pair<int64_t, int64_t> padded_size(int64_t h, int64_t w, const TvOptions& o);
// images: (3, H, W) float in [0, 1], RGB.
ImageBatch transform_images(const std::vector<torch::Tensor>& images, const TvOptions& o);
// A (3, H, W) float [0, 1] image from 8-bit RGB (H, W, 3), as to_tensor does.
torch::Tensor image_from_rgb8(const torch::Tensor& hwc);
// boxes (R, 4) from `from` (h, w) to `to` (h, w), per axis.
torch::Tensor resize_boxes(const torch::Tensor& boxes, std::pair<int64_t, int64_t> from,
                           std::pair<int64_t, int64_t> to);

}  // namespace rcnn::modeling::tv
