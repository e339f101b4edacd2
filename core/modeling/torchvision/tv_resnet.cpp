#include "modeling/torchvision/tv_resnet.h"

namespace rcnn::modeling::tv {
namespace {
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding((k - 1) / 2).bias(false));
}
}  // namespace

BottleneckImpl::BottleneckImpl(int64_t in, int64_t width, int64_t stride, bool ds) {
  // torchvision's Bottleneck (ResNet v1.5): the stride sits on the 3x3 conv.
  conv1 = register_module("conv1", conv(in, width, 1, 1));
  bn1 = register_module("bn1", Norm2d(width));
  conv2 = register_module("conv2", conv(width, width, 3, stride));
  bn2 = register_module("bn2", Norm2d(width));
  conv3 = register_module("conv3", conv(width, width * 4, 1, 1));
  bn3 = register_module("bn3", Norm2d(width * 4));
  if (ds) {
    downsample = torch::nn::Sequential();
    downsample->push_back("0", conv(in, width * 4, 1, stride));
    downsample->push_back("1", Norm2d(width * 4));
    register_module("downsample", downsample);
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  if (bn3->folded && !torch::GradMode::is_enabled()) {
    // Optimized inference (BatchNorm folded): ReLUs in place and the residual
    // add and its ReLU in one pass over the block's output.
    auto out = conv1->forward(x).relu_();
    out = conv2->forward(out).relu_();
    out = conv3->forward(out);
    auto skip = downsample ? downsample->forward(x) : x;
    // (LibTorch 1.13's add_relu has no bf16 kernel: bf16 inference adds, then ReLUs in place.)
    if (out.scalar_type() != at::kFloat || skip.scalar_type() != at::kFloat) return out.add_(skip).relu_();
    return at::_add_relu_(out, skip);
  }
  auto out = torch::relu(bn1->forward(conv1->forward(x)));
  out = torch::relu(bn2->forward(conv2->forward(out)));
  out = bn3->forward(conv3->forward(out));
  out = out + (downsample ? downsample->forward(x) : x);
  return torch::relu(out);
}

ResNet50BodyImpl::ResNet50BodyImpl() {
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", Norm2d(64));
  const int blocks[] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int l = 0; l < 4; ++l) {
    const int64_t width = 64 << l;
    torch::nn::Sequential seq;
    for (int b = 0; b < blocks[l]; ++b) {
      seq->push_back(std::to_string(b), Bottleneck(in, width, b == 0 && l > 0 ? 2 : 1, b == 0));
      in = width * 4;
    }
    layers.push_back(register_module("layer" + std::to_string(l + 1), seq));
  }
}

std::vector<torch::Tensor> ResNet50BodyImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn1->forward(conv1->forward(x)));
  y = torch::max_pool2d(y, 3, 2, 1);
  std::vector<torch::Tensor> out;
  for (auto& l : layers) {
    y = l->forward(y);
    out.push_back(y);
  }
  return out;
}

}  // namespace rcnn::modeling::tv
