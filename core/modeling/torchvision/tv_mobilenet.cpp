#include "modeling/torchvision/tv_mobilenet.h"

namespace rcnn::modeling::tv {
namespace {
// torchvision's _make_divisible(v, 8).
int64_t make_divisible(double v, int64_t d = 8) {
  int64_t n = std::max<int64_t>(d, int64_t(v + double(d) / 2) / d * d);
  if (double(n) < 0.9 * v) n += d;
  return n;
}
}  // namespace

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t c, int64_t s) {
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, s, 1)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(s, c, 1)));
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = torch::relu(fc1->forward(scale));
  scale = torch::hardsigmoid(fc2->forward(scale));
  return scale * x;
}

InvertedResidualImpl::InvertedResidualImpl(int64_t in, int64_t k, int64_t exp, int64_t out, bool se, bool hs,
                                           int64_t stride)
    : residual(stride == 1 && in == out) {
  const Act act = hs ? Act::Hardswish : Act::ReLU;
  int i = 0;
  if (exp != in) block->push_back(std::to_string(i++), ConvNorm(in, exp, 1, 1, true, act));
  block->push_back(std::to_string(i++), ConvNorm(exp, exp, k, stride, true, act, exp));  // depthwise
  if (se) block->push_back(std::to_string(i++), SqueezeExcitation(exp, make_divisible(double(exp / 4))));
  block->push_back(std::to_string(i++), ConvNorm(exp, out, 1, 1, true, Act::None));
  register_module("block", block);
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  auto r = block->forward(x);
  return residual ? r + x : r;
}

MobileNetV3BodyImpl::MobileNetV3BodyImpl() {
  struct C {
    int64_t in, k, exp, out;
    bool se, hs;
    int64_t stride;
  };
  // mobilenet_v3_large's inverted residual setting (width 1, no reduced tail, no dilation).
  const C cfg[] = {{16, 3, 16, 16, false, false, 1},   {16, 3, 64, 24, false, false, 2},
                   {24, 3, 72, 24, false, false, 1},   {24, 5, 72, 40, true, false, 2},
                   {40, 5, 120, 40, true, false, 1},   {40, 5, 120, 40, true, false, 1},
                   {40, 3, 240, 80, false, true, 2},   {80, 3, 200, 80, false, true, 1},
                   {80, 3, 184, 80, false, true, 1},   {80, 3, 184, 80, false, true, 1},
                   {80, 3, 480, 112, true, true, 1},   {112, 3, 672, 112, true, true, 1},
                   {112, 5, 672, 160, true, true, 2},  {160, 5, 960, 160, true, true, 1},
                   {160, 5, 960, 160, true, true, 1}};
  auto add = [&](auto m) {
    const auto name = std::to_string(features.size());
    features.emplace_back(register_module(name, m));
  };
  add(ConvNorm(3, 16, 3, 2, true, Act::Hardswish));
  for (const auto& c : cfg) add(InvertedResidual(c.in, c.k, c.exp, c.out, c.se, c.hs, c.stride));
  add(ConvNorm(160, 960, 1, 1, true, Act::Hardswish));
}

std::vector<torch::Tensor> MobileNetV3BodyImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> out;
  auto y = x;
  for (size_t i = 0; i < features.size(); ++i) {
    y = features[i].forward(y);
    if (i == 13 || i == 16) out.push_back(y);
  }
  return out;
}

}  // namespace rcnn::modeling::tv
