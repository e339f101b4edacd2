#include "modeling/torchvision/tv_layers.h"

namespace rcnn::modeling::tv {

Norm2dImpl::Norm2dImpl(int64_t c) {
  weight = register_parameter("weight", torch::ones({c}), /*requires_grad=*/false);
  bias = register_parameter("bias", torch::zeros({c}), /*requires_grad=*/false);
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
}

void Norm2dImpl::set_frozen(bool f, double frozen_eps) {
  frozen = f;
  eps = f ? frozen_eps : 1e-5;
  weight.set_requires_grad(!f);
  bias.set_requires_grad(!f);
  if (f) {
    num_batches_tracked = torch::Tensor();
  } else if (!num_batches_tracked.defined()) {
    num_batches_tracked = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(running_mean.device()));
  }
}

torch::Tensor Norm2dImpl::forward(const torch::Tensor& x) {
  if (folded) return x;
  if (!frozen) {
    const bool training = is_training();
    if (training) {
      torch::NoGradGuard ng;
      if (num_batches_tracked.device() != running_mean.device()) num_batches_tracked = num_batches_tracked.to(running_mean.device());
      num_batches_tracked.add_(1);
    }
    return torch::batch_norm(x, weight, bias, running_mean, running_var, training, 0.1, eps,
                             at::globalContext().userEnabledCuDNN());
  }
  // torchvision.ops.FrozenBatchNorm2d.forward, op for op.
  auto w = weight.reshape({1, -1, 1, 1});
  auto b = bias.reshape({1, -1, 1, 1});
  auto rv = running_var.reshape({1, -1, 1, 1});
  auto rm = running_mean.reshape({1, -1, 1, 1});
  auto scale = w * (rv + eps).rsqrt();
  auto shift = b - rm * scale;
  return x * scale + shift;
}

void fold_into_conv(torch::nn::Conv2dImpl& conv, Norm2dImpl& n) {
  torch::NoGradGuard ng;
  auto s = n.weight * (n.running_var + n.eps).rsqrt();
  auto t = n.bias - n.running_mean * s;
  conv.weight.mul_(s.view({-1, 1, 1, 1}));
  if (conv.bias.defined()) {
    conv.bias.mul_(s).add_(t);
  } else {
    conv.bias = t.clone();  // forward reads the member; the registered slot stays empty (inference only)
  }
  n.folded = true;
}

ConvNormImpl::ConvNormImpl(int64_t in, int64_t out, int64_t k, int64_t stride, bool with_norm, Act a, int64_t groups)
    : act(a) {
  conv = register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k)
                                                    .stride(stride)
                                                    .padding((k - 1) / 2)
                                                    .groups(groups)
                                                    .bias(!with_norm)));
  if (with_norm) norm = register_module("1", Norm2d(out));
}

torch::Tensor ConvNormImpl::forward(torch::Tensor x) {
  x = conv->forward(x);
  if (norm) x = norm->forward(x);
  switch (act) {
    case Act::ReLU: return torch::relu(x);
    case Act::Hardswish: return torch::hardswish(x);
    default: return x;
  }
}

}  // namespace rcnn::modeling::tv
