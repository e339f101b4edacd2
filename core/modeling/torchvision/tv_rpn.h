#pragma once
// torchvision's RPNHead and RegionProposalNetwork.filter_proposals
// (inference): per level top-k by objectness, sigmoid, clip, remove boxes
// under 1e-3, score threshold, NMS batched by level, per image top-k.
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "modeling/torchvision/tv_layers.h"
#include "modeling/torchvision/tv_options.h"

namespace rcnn::modeling::tv {

struct RPNHeadImpl : torch::nn::Module {
  RPNHeadImpl(int64_t channels, int64_t anchors, int conv_depth);
  // Per level: objectness (N, A, H, W) and deltas (N, 4A, H, W).
  std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> forward(const std::vector<torch::Tensor>& x);
  torch::nn::Sequential conv;
  torch::nn::Conv2d cls_logits{nullptr}, bbox_pred{nullptr};
};
TORCH_MODULE(RPNHead);

// concat_box_prediction_layers: objectness (N * K, 1) and deltas (N * K, 4)
// in level -> y -> x -> anchor order.
std::pair<torch::Tensor, torch::Tensor> concat_box_prediction_layers(const std::vector<torch::Tensor>& cls,
                                                                     const std::vector<torch::Tensor>& reg);

struct Proposals {
  torch::Tensor boxes;   // (P, 4) input coordinates, descending score
  torch::Tensor scores;  // (P,) sigmoid(objectness)
  torch::Tensor levels;  // (P,) level index
};

// proposals (N, K, 4) decoded, objectness (N * K, 1); image sizes (h, w).
std::vector<Proposals> filter_proposals(const torch::Tensor& proposals, const torch::Tensor& objectness,
                                        const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                        const std::vector<int64_t>& anchors_per_level, const TvOptions& o,
                                        bool training);

}  // namespace rcnn::modeling::tv
