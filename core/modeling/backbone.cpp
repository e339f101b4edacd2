#include "modeling/backbone.h"

namespace rcnn::modeling {
namespace nn = torch::nn;

nn::Sequential conv_norm_act(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups,
                             const std::string& norm, bool act) {
  nn::Sequential s;
  s->push_back(
      nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).groups(groups).bias(norm == "none")));
  if (norm == "batch") s->push_back(nn::BatchNorm2d(out));
  if (norm == "group") s->push_back(nn::GroupNorm(nn::GroupNormOptions(std::min<int64_t>(32, out / 4), out)));
  if (act) s->push_back(nn::ReLU(nn::ReLUOptions(true)));
  return s;
}

namespace {

// RegNet X block: 1x1 -> 3x3 grouped (stride) -> 1x1, residual.
struct XBlockImpl : nn::Module {
  XBlockImpl(int64_t in, int64_t out, int64_t stride, int64_t group_width, const std::string& norm) {
    const int64_t groups = std::max<int64_t>(out / group_width, 1);
    a = register_module("a", conv_norm_act(in, out, 1, 1, 1, norm, true));
    b = register_module("b", conv_norm_act(out, out, 3, stride, groups, norm, true));
    c = register_module("c", conv_norm_act(out, out, 1, 1, 1, norm, false));
    if (in != out || stride != 1) proj = register_module("proj", conv_norm_act(in, out, 1, stride, 1, norm, false));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = c->forward(b->forward(a->forward(x)));
    return torch::relu(y + (proj ? proj->forward(x) : x));
  }
  nn::Sequential a{nullptr}, b{nullptr}, c{nullptr}, proj{nullptr};
};
TORCH_MODULE(XBlock);

nn::Sequential regnet_stage(int64_t in, int64_t out, int64_t depth, const std::string& norm) {
  nn::Sequential s;
  for (int64_t i = 0; i < depth; ++i) s->push_back(XBlock(i == 0 ? in : out, out, i == 0 ? 2 : 1, 16, norm));
  return s;
}

}  // namespace

RegNetX400MFImpl::RegNetX400MFImpl(const std::string& norm) {
  stem = register_module("stem", conv_norm_act(3, 32, 3, 2, 1, norm, true));
  s1 = register_module("s1", regnet_stage(32, 32, 1, norm));
  s2 = register_module("s2", regnet_stage(32, 64, 2, norm));
  s3 = register_module("s3", regnet_stage(64, 160, 7, norm));
  s4 = register_module("s4", regnet_stage(160, 400, 12, norm));
  out_channels = {64, 160, 400};
}

std::vector<torch::Tensor> RegNetX400MFImpl::forward(const torch::Tensor& x) {
  auto c3 = s2->forward(s1->forward(stem->forward(x)));
  auto c4 = s3->forward(c3);
  auto c5 = s4->forward(c4);
  return {c3, c4, c5};
}

FastBackboneImpl::FastBackboneImpl(const std::string& norm) {
  auto stage = [&](int64_t in, int64_t out) {
    nn::Sequential s;
    s->extend(*conv_norm_act(in, out, 3, 2, 1, norm, true));
    s->extend(*conv_norm_act(out, out, 3, 1, 1, norm, true));
    return s;
  };
  stem = register_module("stem", conv_norm_act(3, 24, 3, 2, 1, norm, true));
  s2 = register_module("s2", stage(24, 32));
  s3 = register_module("s3", stage(32, 64));
  s4 = register_module("s4", stage(64, 96));
  s5 = register_module("s5", stage(96, 128));
  out_channels = {64, 96, 128};
}

std::vector<torch::Tensor> FastBackboneImpl::forward(const torch::Tensor& x) {
  auto c3 = s3->forward(s2->forward(stem->forward(x)));
  auto c4 = s4->forward(c3);
  auto c5 = s5->forward(c4);
  return {c3, c4, c5};
}

FPNImpl::FPNImpl(const std::vector<int64_t>& in_channels, int64_t channels) {
  lateral = register_module("lateral", nn::ModuleList());
  output = register_module("output", nn::ModuleList());
  for (int64_t c : in_channels) {
    lateral->push_back(nn::Conv2d(nn::Conv2dOptions(c, channels, 1)));
    output->push_back(nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)));
  }
}

std::vector<torch::Tensor> FPNImpl::forward(const std::vector<torch::Tensor>& c) {
  const size_t L = c.size();
  std::vector<torch::Tensor> lat(L), out(L);
  for (size_t i = 0; i < L; ++i) lat[i] = lateral[i]->as<nn::Conv2d>()->forward(c[i]);
  for (size_t i = L - 1; i-- > 0;) {
    auto up =
        torch::nn::functional::interpolate(lat[i + 1], torch::nn::functional::InterpolateFuncOptions()
                                                           .size(std::vector<int64_t>{lat[i].size(2), lat[i].size(3)})
                                                           .mode(torch::kNearest));
    lat[i] = lat[i] + up;
  }
  for (size_t i = 0; i < L; ++i) out[i] = output[i]->as<nn::Conv2d>()->forward(lat[i]);
  return out;
}

BackboneWithFPNImpl::BackboneWithFPNImpl(const BackboneOptions& o) {
  if (o.name == "fast")
    body = register_module("body", std::make_shared<FastBackboneImpl>(o.norm));
  else
    body = register_module("body", std::make_shared<RegNetX400MFImpl>(o.norm));
  fpn = register_module("fpn", FPN(body->out_channels, o.fpn_channels));
}

std::vector<torch::Tensor> BackboneWithFPNImpl::forward(const torch::Tensor& images) {
  return fpn->forward(body->forward(images));
}

}  // namespace rcnn::modeling
