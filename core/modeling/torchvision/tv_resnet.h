#pragma once
// torchvision's ResNet-50 body with its module names (conv1, bn1,
// layer1-layer4; the detector returns layer1-layer4 as '0'-'3').
#include <torch/torch.h>

#include <vector>

#include "modeling/torchvision/tv_layers.h"

namespace rcnn::modeling::tv {

struct BottleneckImpl : torch::nn::Module {
  BottleneckImpl(int64_t in, int64_t width, int64_t stride, bool downsample);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  Norm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

struct ResNet50BodyImpl : torch::nn::Module {
  ResNet50BodyImpl();
  // C2-C5 (strides 4, 8, 16, 32; 256, 512, 1024, 2048 channels).
  std::vector<torch::Tensor> forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr};
  Norm2d bn1{nullptr};
  std::vector<torch::nn::Sequential> layers;
};
TORCH_MODULE(ResNet50Body);

}  // namespace rcnn::modeling::tv
