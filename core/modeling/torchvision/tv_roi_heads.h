#pragma once
// torchvision's second stage at inference: MultiScaleRoIAlign over '0'-'3'
// (aligned = false, level = floor(4 + log2(sqrt(area) / 224) + 1e-6)
// clamped to the available levels), TwoMLPHead (v1) or the conv head (v2),
// FastRCNNPredictor, and postprocess_detections.
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "modeling/linear_as_conv.h"
#include "modeling/torchvision/tv_layers.h"
#include "modeling/torchvision/tv_options.h"

namespace rcnn::modeling::tv {

// Box head: fc6/fc7 (v1) or 4 x conv-BN-ReLU + fc "5" (v2). (R, C, 7, 7) -> (R, 1024).
struct BoxHeadImpl : torch::nn::Module {
  BoxHeadImpl(Arch arch, int64_t channels, int64_t resolution);
  torch::Tensor forward(torch::Tensor x);
  // Inference: the fully connected layers on oneDNN's inner product with
  // weights reordered once (at 1000 RoIs fc6 is a 1000 x 12544 x 1024 product:
  // ~0.23 s on 2 cores against ~0.85 s through a single-threaded BLAS).
  // Results equal the BLAS path up to float rounding.
  void use_onednn();
  std::vector<std::pair<torch::Tensor, torch::Tensor>> onednn;  // (weight, bias) per layer, mkldnn
  std::vector<std::pair<torch::Tensor, torch::Tensor>> onednn_bf16;  // the same in bf16, for bf16 inference
  LinearAsConv first_as_conv;  // fc6 (or v2's fc) on channels-last RoI features, once optimized
  Arch arch;
  torch::nn::Linear fc6{nullptr}, fc7{nullptr}, fc{nullptr};
  std::vector<ConvNorm> convs;
};
TORCH_MODULE(BoxHead);

struct BoxPredictorImpl : torch::nn::Module {
  BoxPredictorImpl(int64_t in, int64_t num_classes);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);  // class logits, box deltas
  torch::nn::Linear cls_score{nullptr}, bbox_pred{nullptr};
};
TORCH_MODULE(BoxPredictor);

// The pooler's level of each box (0 = the first pooled feature map) and the
// spatial scales, as MultiScaleRoIAlign infers them from the feature sizes.
struct PoolerLevels {
  std::vector<double> scales;
  int k_min = 2, k_max = 5;
};
PoolerLevels infer_pooler_levels(const std::vector<torch::Tensor>& feats,
                                 const std::vector<std::pair<int64_t, int64_t>>& image_sizes);
torch::Tensor map_levels(const std::vector<torch::Tensor>& boxes, const PoolerLevels& p);

// (R, C, 7, 7) for the boxes of every image, in order.
torch::Tensor multiscale_roi_align(const std::vector<torch::Tensor>& feats, const std::vector<torch::Tensor>& boxes,
                                   const PoolerLevels& p, const TvOptions& o);

struct TvDetections {
  torch::Tensor boxes;   // (D, 4)
  torch::Tensor scores;  // (D,)
  torch::Tensor labels;  // (D,) int64, 1..num_classes-1
  torch::Tensor proposal;  // (D,) int64, the RoI (index into the image's proposals) it came from
};

std::vector<TvDetections> postprocess_detections(const torch::Tensor& class_logits, const torch::Tensor& box_regression,
                                                 const std::vector<torch::Tensor>& proposals,
                                                 const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                                 const TvOptions& o);

}  // namespace rcnn::modeling::tv
