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

// What filter_proposals did to each pre-NMS candidate of one image (the
// studio shows it; the same code path, so the same result).
struct ProposalCandidates {
  torch::Tensor anchor;    // (P,) anchor index: the per-level top-k, level-major, objectness order
  torch::Tensor boxes;     // (P, 4) decoded and clipped
  torch::Tensor scores;    // (P,) sigmoid(objectness)
  torch::Tensor levels;    // (P,)
  torch::Tensor small;     // (P,) bool: dropped by remove_small_boxes(1e-3)
  torch::Tensor low;       // (P,) bool: dropped by the score threshold
  torch::Tensor nms_keep;  // NMS survivors as indices into P, descending score (before the post top-n)
  int64_t post_top_n = 0;  // the first post_top_n of nms_keep are the proposals
};

// proposals (N, K, 4) decoded, objectness (N * K, 1); image sizes (h, w).
std::vector<Proposals> filter_proposals(const torch::Tensor& proposals, const torch::Tensor& objectness,
                                        const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                        const std::vector<int64_t>& anchors_per_level, const TvOptions& o,
                                        bool training, std::vector<ProposalCandidates>* candidates = nullptr);

}  // namespace rcnn::modeling::tv
