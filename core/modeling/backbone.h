#pragma once
// Backbones giving c3, c4, c5 at strides 8, 16, 32, and the FPN on top.
//
// Shape shorthand: N images, 3 x S x S input (S a multiple of 32).
#include <torch/torch.h>

#include <vector>

#include "config/detector_config.h"

namespace rcnn::modeling {

// conv -> norm -> (ReLU)
torch::nn::Sequential conv_norm_act(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups,
                                    const std::string& norm, bool act);

// Inference-time fold of a conv followed by a BatchNorm into one conv,
// cached; `key` identifies the parameters and their versions, `mean`/`var`
// are the running statistics it was computed from.
struct FoldedConv {
  std::vector<int64_t> key;
  torch::Tensor mean, var, weight, bias;
};

// s->forward(x) for a conv -> norm -> act sequence built by conv_norm_act
// (or several chained). In eval mode without autograd, each conv + BatchNorm
// pair runs as one conv with folded weights (same result up to float
// rounding); otherwise, and for other norms, it is exactly s->forward(x).
torch::Tensor run_conv_norm_act(torch::nn::Sequential s, const torch::Tensor& x,
                                std::vector<FoldedConv>& cache);

// Common interface: forward returns {c3, c4, c5}.
struct BackboneImpl : torch::nn::Module {
  virtual std::vector<torch::Tensor> forward(const torch::Tensor& x) = 0;
  std::vector<int64_t> out_channels;  // channels of c3, c4, c5
};

// RegNetX-400MF shape (Radosavovic et al. 2020, as torchvision's
// regnet_x_400mf and the reference's backbone): stem 32, stages of widths
// 32/64/160/400, depths 1/2/7/12, group width 16, bottleneck ratio 1.
// c3/c4/c5 = 64/160/400 channels.
struct RegNetX400MFImpl : BackboneImpl {
  explicit RegNetX400MFImpl(const std::string& norm);
  std::vector<torch::Tensor> forward(const torch::Tensor& x) override;
  torch::nn::Sequential stem{nullptr}, s1{nullptr}, s2{nullptr}, s3{nullptr}, s4{nullptr};
  std::vector<FoldedConv> stem_fold;
};

// A small plain conv net for CPU training from scratch: two conv-BN-ReLU per
// stage, channels 24/32/64/96/128 at strides 2..32 (~0.4 M parameters).
struct FastBackboneImpl : BackboneImpl {
  explicit FastBackboneImpl(const std::string& norm);
  std::vector<torch::Tensor> forward(const torch::Tensor& x) override;
  torch::nn::Sequential stem{nullptr}, s2{nullptr}, s3{nullptr}, s4{nullptr}, s5{nullptr};
  std::vector<FoldedConv> fold[5];
};

// Feature pyramid (Lin et al. 2017): 1x1 laterals to `channels`, top-down
// nearest upsampling and sum, 3x3 output convs -> {p3, p4, p5}.
struct FPNImpl : torch::nn::Module {
  FPNImpl(const std::vector<int64_t>& in_channels, int64_t channels);
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& c);
  torch::nn::ModuleList lateral{nullptr}, output{nullptr};
};
TORCH_MODULE(FPN);

// Backbone + FPN; strides 8, 16, 32.
struct BackboneWithFPNImpl : torch::nn::Module {
  explicit BackboneWithFPNImpl(const BackboneOptions& options);
  // body (optional): receives the body's outputs (c3, c4, c5) the FPN read.
  std::vector<torch::Tensor> forward(const torch::Tensor& images, std::vector<torch::Tensor>* body = nullptr);
  std::shared_ptr<BackboneImpl> body;
  FPN fpn{nullptr};
  std::vector<double> strides{8, 16, 32};

 private:
  // body, then FPN (two cost stages)
  std::vector<torch::Tensor> pyramid(const torch::Tensor& images, std::vector<torch::Tensor>* body);
};
TORCH_MODULE(BackboneWithFPN);

}  // namespace rcnn::modeling
