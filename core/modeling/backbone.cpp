#include "modeling/backbone.h"

#include <ATen/autocast_mode.h>

#include <cstring>

#include "engine/op_cost.h"

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
// The folded convolution. On the CPU in fp32 it goes to oneDNN directly:
// LibTorch sends small batch-1 layers (under 20480 input values, groups 1)
// to its im2col path, whose GEMMs run on the BLAS the runtime settings keep
// single-threaded (engine/device.h); oneDNN uses every intra-op thread.
torch::Tensor folded_conv(const torch::Tensor& x, const FoldedConv& f, at::IntArrayRef stride, at::IntArrayRef padding,
                          at::IntArrayRef dilation, int64_t groups) {
  if (x.is_cpu() && x.scalar_type() == at::kFloat && f.weight.scalar_type() == at::kFloat && at::hasMKLDNN() &&
      !at::autocast::is_cpu_enabled())
    return at::mkldnn_convolution(x, f.weight, f.bias, padding, stride, dilation, groups);
  return torch::conv2d(x, f.weight, f.bias, stride, padding, dilation, groups);
}
}  // namespace

torch::Tensor run_conv_norm_act(nn::Sequential s, const torch::Tensor& x, std::vector<FoldedConv>& cache) {
  if (s->is_training() || torch::GradMode::is_enabled()) return s->forward(x);
  const auto mods = s->children();
  torch::Tensor y = x;
  size_t slot = 0;
  for (size_t i = 0; i < mods.size(); ++i) {
    auto* conv = mods[i]->as<nn::Conv2d>();
    auto* bn = i + 1 < mods.size() ? mods[i + 1]->as<nn::BatchNorm2d>() : nullptr;
    if (conv && bn && bn->running_mean.defined()) {
      // Fold the (frozen, eval-mode) BatchNorm into the conv: one pass over
      // the activations instead of two. Recomputed whenever any of the
      // tensors it came from changed (load, training step).
      if (cache.size() <= slot) cache.resize(slot + 1);
      FoldedConv& f = cache[slot++];
      // Parameters change through in-place ops (optimizer steps, loading),
      // which bump their version counters. BatchNorm's running statistics
      // are updated inside the batch_norm kernel without a version bump, so
      // they are compared by value (a few hundred floats).
      std::vector<const torch::Tensor*> src{&conv->weight, &bn->weight, &bn->bias};
      if (conv->bias.defined()) src.push_back(&conv->bias);
      std::vector<int64_t> key;
      for (const auto* t : src) {
        key.push_back(reinterpret_cast<int64_t>(t->unsafeGetTensorImpl()));
        key.push_back(static_cast<int64_t>(t->_version()));
      }
      auto same = [](const torch::Tensor& a, const torch::Tensor& b) {
        if (!b.defined() || a.sizes() != b.sizes() || a.device() != b.device()) return false;
        if (a.is_cpu() && a.is_contiguous() && b.is_contiguous() && a.scalar_type() == b.scalar_type())
          return std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
        return torch::equal(a, b);
      };
      if (key != f.key || !same(bn->running_mean, f.mean) || !same(bn->running_var, f.var)) {
        f.mean = bn->running_mean.clone();
        f.var = bn->running_var.clone();
        auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
        f.weight = (conv->weight * scale.view({-1, 1, 1, 1})).contiguous();
        f.bias = bn->bias - bn->running_mean * scale;
        if (conv->bias.defined()) f.bias = f.bias + conv->bias * scale;
        f.key = std::move(key);
      }
      const auto& o = conv->options;
      y = folded_conv(y, f, *o.stride(), c10::get<torch::ExpandingArray<2>>(o.padding()), *o.dilation(), o.groups());
      ++i;  // the BatchNorm is folded in
    } else if (auto* relu = mods[i]->as<nn::ReLU>()) {
      (void)relu;
      y = torch::relu_(y);
    } else {
      return s->forward(x);  // not a conv -> norm -> act sequence: the modules' own forward
    }
  }
  return y;
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
    auto y = run_conv_norm_act(c, run_conv_norm_act(b, run_conv_norm_act(a, x, fold[0]), fold[1]), fold[2]);
    auto skip = proj ? run_conv_norm_act(proj, x, fold[3]) : x;
    // Inference: the residual add and its ReLU in one pass (y is this block's own tensor).
    // (fp32 only: LibTorch 1.13's add_relu has no bf16 kernel.)
    if (!torch::GradMode::is_enabled() && y.scalar_type() == at::kFloat && skip.scalar_type() == at::kFloat)
      return at::_add_relu_(y, skip);
    return torch::relu(y + skip);
  }
  nn::Sequential a{nullptr}, b{nullptr}, c{nullptr}, proj{nullptr};
  std::vector<FoldedConv> fold[4];
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
  auto c3 = s2->forward(s1->forward(run_conv_norm_act(stem, x, stem_fold)));
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
  auto c3 = run_conv_norm_act(s3, run_conv_norm_act(s2, run_conv_norm_act(stem, x, fold[0]), fold[1]), fold[2]);
  auto c4 = run_conv_norm_act(s4, c3, fold[3]);
  auto c5 = run_conv_norm_act(s5, c4, fold[4]);
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

std::vector<torch::Tensor> BackboneWithFPNImpl::pyramid(const torch::Tensor& images, std::vector<torch::Tensor>* out) {
  std::vector<torch::Tensor> c;
  {
    engine::StageMark mark("backbone");
    c = body->forward(images);
  }
  if (out) *out = c;
  engine::StageMark mark("fpn");
  return fpn->forward(c);
}

std::vector<torch::Tensor> BackboneWithFPNImpl::forward(const torch::Tensor& images, std::vector<torch::Tensor>* out) {
  if (!is_training() && !torch::GradMode::is_enabled() && images.is_cpu()) {
    // Inference on the CPU: channels-last activations let oneDNN run the
    // convolutions without reordering every input and output.
    return pyramid(images.contiguous(at::MemoryFormat::ChannelsLast), out);
  }
  return pyramid(images, out);
}

}  // namespace rcnn::modeling
