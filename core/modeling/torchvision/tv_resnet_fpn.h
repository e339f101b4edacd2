#pragma once
// torchvision's ResNet-50 body (layer1-layer4 returned as '0'-'3') and
// FeaturePyramidNetwork with LastLevelMaxPool ('pool'), with its module names
// (backbone.body.*, backbone.fpn.inner_blocks.i.*, layer_blocks.i.*).
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

struct FPNImpl : torch::nn::Module {
  FPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels, bool norm);
  // One output per input, then 'pool' (max-pool of the last, kernel 1, stride 2).
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& x);
  torch::nn::ModuleList inner_blocks, layer_blocks;
};
TORCH_MODULE(FPN);

struct ResNetFPNImpl : torch::nn::Module {
  explicit ResNetFPNImpl(bool fpn_norm);
  std::vector<torch::Tensor> forward(const torch::Tensor& x);  // '0', '1', '2', '3', 'pool'
  ResNet50Body body{nullptr};
  FPN fpn{nullptr};
};
TORCH_MODULE(ResNetFPN);

}  // namespace rcnn::modeling::tv
