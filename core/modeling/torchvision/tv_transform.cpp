#include "modeling/torchvision/tv_transform.h"

#include <tuple>

#include <cmath>

namespace rcnn::modeling::tv {

torch::Tensor image_from_rgb8(const torch::Tensor& hwc) {
  return hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat).div(255);
}

std::pair<int64_t, int64_t> resized_size(int64_t h, int64_t w, const TvOptions& o) {
  // scale in float32 as torchvision computes it: `self_min_size / min_size`
  // with min_size a float32 tensor is Python's reversed division, which
  // torch evaluates as min_size.reciprocal() * self_min_size (two
  // roundings: 480 / 400 gives 1.19999993, so 400 px become 479, not 480).
  const float mn = float(std::min(h, w)), mx = float(std::max(h, w));
  const float s = std::min((1.0f / mn) * float(o.min_size), (1.0f / mx) * float(o.max_size));
  const double scale = double(s);
  return {int64_t(std::floor(double(h) * scale)), int64_t(std::floor(double(w) * scale))};
}

std::pair<int64_t, int64_t> padded_size(int64_t h, int64_t w, const TvOptions& o) {
  const double d = double(o.size_divisible);
  return {int64_t(std::ceil(double(h) / d) * d), int64_t(std::ceil(double(w) / d) * d)};
}

ImageBatch transform_images(const std::vector<torch::Tensor>& images, const TvOptions& o) {
  ImageBatch b;
  std::vector<torch::Tensor> resized;
  for (const auto& img : images) {
    TORCH_CHECK(img.dim() == 3 && img.size(0) == 3, "torchvision transform: images must be (3, H, W), got ",
                img.sizes());
    auto mean = torch::tensor(o.image_mean, torch::kDouble).to(img.scalar_type());
    auto std = torch::tensor(o.image_std, torch::kDouble).to(img.scalar_type());
    auto x = (img - mean.view({-1, 1, 1})) / std.view({-1, 1, 1});
    const int64_t h = img.size(1), w = img.size(2);
    const auto [oh, ow] = resized_size(h, w, o);
    x = torch::upsample_bilinear2d(x.unsqueeze(0), {oh, ow}, false, c10::nullopt, c10::nullopt).squeeze(0);
    b.sizes.emplace_back(oh, ow);
    b.original.emplace_back(h, w);
    resized.push_back(x);
  }
  int64_t H = 0, W = 0;
  for (const auto& r : resized) H = std::max(H, r.size(1)), W = std::max(W, r.size(2));
  std::tie(H, W) = padded_size(H, W, o);
  b.tensors = torch::zeros({int64_t(resized.size()), 3, H, W}, resized.empty() ? torch::kFloat : resized[0].options());
  for (size_t i = 0; i < resized.size(); ++i)
    b.tensors[int64_t(i)].narrow(1, 0, resized[i].size(1)).narrow(2, 0, resized[i].size(2)).copy_(resized[i]);
  return b;
}

torch::Tensor resize_boxes(const torch::Tensor& boxes, std::pair<int64_t, int64_t> from,
                           std::pair<int64_t, int64_t> to) {
  auto f = boxes.options().dtype(torch::kFloat);
  auto ratio_h = torch::tensor(float(to.first), f) / torch::tensor(float(from.first), f);
  auto ratio_w = torch::tensor(float(to.second), f) / torch::tensor(float(from.second), f);
  auto u = boxes.unbind(1);
  return torch::stack({u[0] * ratio_w, u[1] * ratio_h, u[2] * ratio_w, u[3] * ratio_h}, 1);
}

}  // namespace rcnn::modeling::tv
