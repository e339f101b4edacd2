#include "modeling/torchvision/tv_fpn.h"

#include "engine/op_cost.h"

namespace rcnn::modeling::tv {

FPNImpl::FPNImpl(const std::vector<int64_t>& in_channels, int64_t out, bool norm) {
  for (int64_t c : in_channels) {
    inner_blocks->push_back(ConvNorm(c, out, 1, 1, norm, Act::None));
    layer_blocks->push_back(ConvNorm(out, out, 3, 1, norm, Act::None));
  }
  register_module("inner_blocks", inner_blocks);
  register_module("layer_blocks", layer_blocks);
}

std::vector<torch::Tensor> FPNImpl::forward(const std::vector<torch::Tensor>& x) {
  // torchvision.ops.FeaturePyramidNetwork.forward: top-down with nearest upsampling.
  const int n = int(x.size());
  auto inner = [&](int i, const torch::Tensor& t) { return inner_blocks[size_t(i)]->as<ConvNorm>()->forward(t); };
  auto layer = [&](int i, const torch::Tensor& t) { return layer_blocks[size_t(i)]->as<ConvNorm>()->forward(t); };
  auto last_inner = inner(n - 1, x[size_t(n - 1)]);
  std::vector<torch::Tensor> results{layer(n - 1, last_inner)};
  for (int i = n - 2; i >= 0; --i) {
    auto lateral = inner(i, x[size_t(i)]);
    auto top_down = torch::upsample_nearest2d(last_inner, {lateral.size(2), lateral.size(3)});
    last_inner = lateral + top_down;
    results.insert(results.begin(), layer(i, last_inner));
  }
  results.push_back(torch::max_pool2d(results.back(), 1, 2, 0));  // LastLevelMaxPool
  return results;
}

BackboneWithFPNImpl::BackboneWithFPNImpl(Arch arch) {
  switch (arch) {
    case Arch::ResNet50FPN:
    case Arch::ResNet50FPNv2:
      resnet = register_module("body", ResNet50Body());
      fpn = register_module("fpn", FPN(std::vector<int64_t>{256, 512, 1024, 2048}, 256, arch == Arch::ResNet50FPNv2));
      break;
    case Arch::MobileNetV3LargeFPN:
      mobilenet = register_module("body", MobileNetV3Body());
      fpn = register_module("fpn", FPN(std::vector<int64_t>{160, 960}, 256, false));
      break;
  }
}

std::vector<torch::Tensor> BackboneWithFPNImpl::forward(const torch::Tensor& x, std::vector<torch::Tensor>* body) {
  std::vector<torch::Tensor> c;
  {
    engine::StageMark mark("backbone");
    c = resnet ? resnet->forward(x) : mobilenet->forward(x);
  }
  if (body) *body = c;
  engine::StageMark mark("fpn");
  return fpn->forward(c);
}

}  // namespace rcnn::modeling::tv
