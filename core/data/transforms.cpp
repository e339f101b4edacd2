#include "data/transforms.h"

#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

namespace rcnn::data {

Annotation ResizeTransform::forward(const Annotation& a) const {
  Annotation b = a;
  b.x1 = a.x1 * sx + pad_x;
  b.x2 = a.x2 * sx + pad_x;
  b.y1 = a.y1 * sy + pad_y;
  b.y2 = a.y2 * sy + pad_y;
  if (flipped) {
    const float x1 = size - b.x2, x2 = size - b.x1;
    b.x1 = x1;
    b.x2 = x2;
  }
  return b;
}

void ResizeTransform::backward(float& x1, float& y1, float& x2, float& y2) const {
  if (flipped) {
    const float a = size - x2, b = size - x1;
    x1 = a;
    x2 = b;
  }
  x1 = (x1 - pad_x) / sx;
  x2 = (x2 - pad_x) / sx;
  y1 = (y1 - pad_y) / sy;
  y2 = (y2 - pad_y) / sy;
}

ResizeTransform make_resize(int w, int h, int size, const std::string& mode) {
  ResizeTransform t;
  t.in_w = w;
  t.in_h = h;
  t.size = size;
  if (mode == "letterbox") {
    const float s = float(size) / float(std::max(w, h));
    t.sx = t.sy = s;
  } else {
    t.sx = float(size) / float(w);
    t.sy = float(size) / float(h);
  }
  return t;
}

cv::Mat apply_resize(const cv::Mat& rgb, const ResizeTransform& t) {
  cv::Mat out(t.size, t.size, CV_8UC3, cv::Scalar(0, 0, 0));
  const int w = std::max(1, int(std::lround(t.in_w * t.sx))), h = std::max(1, int(std::lround(t.in_h * t.sy)));
  cv::Mat resized;
  cv::resize(rgb, resized, cv::Size(std::min(w, t.size), std::min(h, t.size)), 0, 0,
             (t.sx < 1 || t.sy < 1) ? cv::INTER_AREA : cv::INTER_LINEAR);
  resized.copyTo(out(cv::Rect(int(t.pad_x), int(t.pad_y), resized.cols, resized.rows)));
  return out;
}

void apply_hflip(cv::Mat& rgb, ResizeTransform& t) {
  cv::flip(rgb, rgb, 1);
  t.flipped = !t.flipped;
}

torch::Tensor to_tensor(const cv::Mat& rgb, const std::vector<float>& mean, const std::vector<float>& std) {
  TORCH_CHECK(rgb.type() == CV_8UC3 && rgb.isContinuous(), "to_tensor: expected a continuous 8-bit RGB image");
  auto t = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8)
               .permute({2, 0, 1})
               .to(torch::kFloat)
               .div_(255.0);
  auto m = torch::tensor(mean).view({3, 1, 1});
  auto s = torch::tensor(std).view({3, 1, 1});
  return ((t - m) / s).contiguous();
}

}  // namespace rcnn::data
