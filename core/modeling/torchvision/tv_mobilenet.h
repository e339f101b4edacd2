#pragma once
// torchvision's MobileNetV3-Large feature extractor as the detector uses it:
// `features` 0-16 under their indices (inverted residual blocks "i.block.j",
// squeeze-excitation fc1/fc2 with hardsigmoid), returning the outputs of
// features 13 (160 channels) and 16 (960 channels), both at stride 32.
#include <torch/torch.h>

#include <vector>

#include "modeling/torchvision/tv_layers.h"

namespace rcnn::modeling::tv {

struct SqueezeExcitationImpl : torch::nn::Module {
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

struct InvertedResidualImpl : torch::nn::Module {
  InvertedResidualImpl(int64_t in, int64_t kernel, int64_t expanded, int64_t out, bool se, bool hardswish,
                       int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Sequential block;
  bool residual;
};
TORCH_MODULE(InvertedResidual);

struct MobileNetV3BodyImpl : torch::nn::Module {
  MobileNetV3BodyImpl();
  std::vector<torch::Tensor> forward(const torch::Tensor& x);  // features[13], features[16]
  std::vector<torch::nn::AnyModule> features;
};
TORCH_MODULE(MobileNetV3Body);

}  // namespace rcnn::modeling::tv
