#include "modeling/torchvision/tv_layers.h"

namespace rcnn::modeling::tv {

Norm2dImpl::Norm2dImpl(int64_t c) {
  weight = register_buffer("weight", torch::ones({c}));
  bias = register_buffer("bias", torch::zeros({c}));
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
}

torch::Tensor Norm2dImpl::forward(const torch::Tensor& x) {
  if (folded) return x;
  if (!frozen)
    return torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/false, 0.1, eps,
                             at::globalContext().userEnabledCuDNN());
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
