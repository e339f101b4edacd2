#pragma once
// torchvision's BackboneWithFPN: a body (ResNet-50: C2-C5; MobileNetV3-Large:
// features 13 and 16) under the name "body", and FeaturePyramidNetwork
// ("fpn": inner_blocks.i, layer_blocks.i) with LastLevelMaxPool ('pool').
#include <torch/torch.h>

#include <vector>

#include "modeling/torchvision/tv_mobilenet.h"
#include "modeling/torchvision/tv_options.h"
#include "modeling/torchvision/tv_resnet.h"

namespace rcnn::modeling::tv {

struct FPNImpl : torch::nn::Module {
  FPNImpl(const std::vector<int64_t>& in_channels, int64_t out_channels, bool norm);
  // One output per input, then 'pool' (max-pool of the last, kernel 1, stride 2).
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& x);
  torch::nn::ModuleList inner_blocks, layer_blocks;
};
TORCH_MODULE(FPN);

struct BackboneWithFPNImpl : torch::nn::Module {
  explicit BackboneWithFPNImpl(Arch arch);
  // The FPN levels, finest first, then 'pool'; body (optional) receives the body's outputs the FPN read.
  std::vector<torch::Tensor> forward(const torch::Tensor& x, std::vector<torch::Tensor>* body = nullptr);
  ResNet50Body resnet{nullptr};
  MobileNetV3Body mobilenet{nullptr};
  FPN fpn{nullptr};
};
TORCH_MODULE(BackboneWithFPN);

}  // namespace rcnn::modeling::tv
