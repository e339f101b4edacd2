#pragma once
// Resize to the model input (stretch or letterbox), horizontal flip and
// normalization, with boxes mapped forward and back.
#include <torch/types.h>

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace rcnn::data {

// Maps original-image coordinates to model-input coordinates:
// x' = x * sx + pad_x (then x' -> size - x' when flipped).
struct ResizeTransform {
  int in_w = 0, in_h = 0, size = 224;
  float sx = 1, sy = 1, pad_x = 0, pad_y = 0;
  bool flipped = false;

  Annotation forward(const Annotation& a) const;
  // Input -> original coordinates (undoes the flip, then the resize).
  void backward(float& x1, float& y1, float& x2, float& y2) const;
};

// mode: "stretch" (aspect not kept) or "letterbox" (kept, padded bottom/right).
ResizeTransform make_resize(int width, int height, int size, const std::string& mode);
// RGB uint8 -> size x size RGB uint8 (letterbox pads with 0).
cv::Mat apply_resize(const cv::Mat& rgb, const ResizeTransform& t);
// Flips the image in place and marks t as flipped.
void apply_hflip(cv::Mat& rgb, ResizeTransform& t);
// size x size RGB uint8 -> (3, size, size) float, (x / 255 - mean) / std.
torch::Tensor to_tensor(const cv::Mat& rgb, const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace rcnn::data
