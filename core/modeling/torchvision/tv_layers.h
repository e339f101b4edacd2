#pragma once
// Layers with torchvision's parameter names and arithmetic.
#include <torch/torch.h>

namespace rcnn::modeling::tv {

// BatchNorm2d, or FrozenBatchNorm2d (frozen = true: the statistics are
// folded as torchvision's FrozenBatchNorm2d folds them, scale = w *
// rsqrt(var + eps), shift = b - mean * scale). Which one a checkpoint holds
// is seen from num_batches_tracked (BatchNorm2d writes it).
//
// A BatchNorm2d in train mode normalises with the batch's statistics and
// updates its running ones (momentum 0.1, the unbiased variance) and its
// num_batches_tracked, as torch.nn.BatchNorm2d does; in eval mode it uses
// the running ones. weight and bias are parameters; a FrozenBatchNorm2d's
// never take gradients (set_frozen), as torchvision keeps them buffers.
struct Norm2dImpl : torch::nn::Module {
  explicit Norm2dImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  // BatchNorm2d (false, eps 1e-5, a counter) or FrozenBatchNorm2d (true, `frozen_eps`).
  void set_frozen(bool frozen, double frozen_eps = 0.0);
  bool frozen = true;
  bool folded = false;  // folded into the preceding conv (fold_batchnorm): identity
  double eps = 1e-5;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(Norm2d);

// Folds n into conv for inference: W' = W * s, b' = b * s + t with
// s = w * rsqrt(var + eps), t = bias - mean * s (the same affine map, up to
// float rounding); n becomes the identity.
void fold_into_conv(torch::nn::Conv2dImpl& conv, Norm2dImpl& n);

enum class Act { None, ReLU, Hardswish };

// Conv2dNormActivation: conv ("0"; bias only without norm), optional norm
// ("1"), optional activation; padding (kernel - 1) / 2.
struct ConvNormImpl : torch::nn::Module {
  ConvNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool norm, Act act, int64_t groups = 1);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Conv2d conv{nullptr};
  Norm2d norm{nullptr};
  Act act;
};
TORCH_MODULE(ConvNorm);

}  // namespace rcnn::modeling::tv
