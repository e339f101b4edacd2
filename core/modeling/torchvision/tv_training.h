#pragma once
// One training step of torchvision's Faster R-CNN (torchvision 0.14
// `GeneralizedRCNN.forward` in train mode): the RPN's and the RoI heads'
// losses, op for op, with the samplers' draws exposed so a test can replay
// torchvision's own (parity) and the studio can show them.
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "modeling/torchvision/tv_faster_rcnn.h"
#include "modeling/sampling.h"
#include "modeling/train_step.h"

namespace rcnn::modeling::tv {

// One image's GT in original image coordinates; labels 1 .. num_classes - 1.
struct TvTarget {
  torch::Tensor boxes;   // (M, 4) float
  torch::Tensor labels;  // (M,) int64
};

// What BalancedPositiveNegativeSampler drew, per image: anchor indices
// (into the image's K anchors) and RoI indices (into its proposals followed
// by its GT boxes).
struct TvSamples {
  std::vector<torch::Tensor> rpn_pos, rpn_neg, roi_pos, roi_neg;
};

struct TvLosses {
  torch::Tensor objectness, rpn_box_reg, classifier, box_reg;  // torchvision's loss_* values
  torch::Tensor total() const { return objectness + rpn_box_reg + classifier + box_reg; }
};

// torchvision's BalancedPositiveNegativeSampler on one image's labels
// (>= 1 positive, 0 negative, -1 ignored): randperm draws from `gen`.
std::pair<torch::Tensor, torch::Tensor> balanced_sample(const torch::Tensor& labels, int64_t batch_size,
                                                        double positive_fraction,
                                                        std::optional<torch::Generator> gen);

// BoxCoder.encode_single: targets of reference boxes against proposals.
torch::Tensor encode_boxes(const torch::Tensor& reference, const torch::Tensor& proposals,
                           const std::array<double, 4>& weights);

// The four losses of one step on images (3, H, W) in [0, 1]. `replay`: use
// these draws instead of sampling (parity with torchvision's); `drawn`
// receives the draws made. Gradients flow to the model's trainable parameters.
// `step`, `normalizer`: as in training_losses_on.
TvLosses training_losses(TvFasterRCNNImpl& model, const std::vector<torch::Tensor>& images,
                         const std::vector<TvTarget>& targets, const TvSamples* replay = nullptr,
                         TvSamples* drawn = nullptr, std::optional<torch::Generator> gen = std::nullopt,
                         TrainStep* step = nullptr, const SampleNormalizer& normalizer = {});

// The same step on a first stage already run on these images (r:
// run_transform, the backbone and RPN head, run_anchors), targets in the
// model's input coordinates. `step` (optional) receives every sample and
// per-sample loss term as modeling::TrainStep's rows (the studio's RoI
// sampling and Losses stages): the RPN rows index the batch's N * K anchors,
// the RoI rows each image's proposals followed by its GT boxes.
// `normalizer` (data-parallel ranks, modeling::SampleNormalizer): each
// loss is its sum over the samples divided by normalizer(samples) instead
// of torchvision's mean over this batch's samples (empty: the mean, op for op).
TvLosses training_losses_on(TvFasterRCNNImpl& model, const TvInference& r, const std::vector<TvTarget>& targets,
                            const TvSamples* replay = nullptr, TvSamples* drawn = nullptr,
                            std::optional<torch::Generator> gen = std::nullopt, TrainStep* step = nullptr,
                            const SampleNormalizer& normalizer = {});

// torchvision's trainable_backbone_layers: the backbone's parameters outside
// its top `layers` stages stop taking gradients (ResNet: layer4, layer3,
// layer2, layer1, conv1 in that order; MobileNetV3: its stages from the last).
void freeze_backbone(TvFasterRCNNImpl& model, int layers);

}  // namespace rcnn::modeling::tv
