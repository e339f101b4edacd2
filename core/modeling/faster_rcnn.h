#pragma once
// The two-stage detector: backbone + FPN, RPN, RoI heads.
//
// Shape shorthand: N images of 3 x S x S (normalized), M padded GT rows
// (x1, y1, x2, y2, class) with class -1 for padding, L = 3 levels (p3..p5).
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/detector_config.h"
#include "modeling/anchor_generator.h"
#include "modeling/backbone.h"
#include "modeling/roi_heads.h"
#include "modeling/rpn.h"
#include "modeling/train_step.h"

namespace rcnn::modeling {

// First-stage output for a batch, kept so later stages can be re-run alone.
struct RPNState {
  std::vector<torch::Tensor> feats;       // [l] (N, C, H_l, W_l)
  std::vector<torch::Tensor> objectness;  // [l] (N, K_l)
  std::vector<torch::Tensor> deltas;      // [l] (N, K_l, 4)
  std::vector<torch::Tensor> anchors;     // [l] (K_l, 4)
};

// Proposals of one image over all levels.
struct ImageProposals {
  std::vector<LevelProposals> levels;
  torch::Tensor boxes;   // (P, 4) kept proposals, level-major
  torch::Tensor scores;  // (P,) objectness logits
  torch::Tensor level;   // (P,) int64
};

struct SecondStage {
  torch::Tensor rois;        // (P, 5)
  torch::Tensor roi_levels;  // (P,)
  torch::Tensor pooled;      // (P, C, S, S)
  torch::Tensor logits;      // (P, C+1), before the softmax
  torch::Tensor probs;       // (P, C+1)
  torch::Tensor box_deltas;  // (P, 4 num_classes) or undefined
};

struct FasterRCNNImpl : torch::nn::Module {
  explicit FasterRCNNImpl(const DetectorConfig& cfg);

  // Training: {"rpn_obj", "rpn_box", "roi_cls", "roi_box"} losses (scalars).
  // `normalizer`: see SampleNormalizer (data-parallel ranks); empty: this batch alone.
  std::map<std::string, torch::Tensor> forward_train(const torch::Tensor& images, const torch::Tensor& gt,
                                                     std::optional<torch::Generator> gen = std::nullopt,
                                                     const SampleNormalizer& normalizer = {});
  // The same step on a first stage already run (s = run_rpn(images)), with
  // every sample and term kept. gt (N, M, 5) in input coordinates; the RPN's
  // draws come first from `gen`, then the RoI sampler's.
  TrainStep train_step(const RPNState& s, const torch::Tensor& gt, std::optional<torch::Generator> gen = std::nullopt,
                       const SampleNormalizer& normalizer = {});
  // Inference: detections per image in input coordinates.
  std::vector<Detections> detect(const torch::Tensor& images);

  // Building blocks (also used by the trace).
  // body (optional): receives the backbone's outputs (BackboneWithFPN::forward).
  RPNState run_rpn(const torch::Tensor& images, std::vector<torch::Tensor>* body = nullptr);
  ImageProposals propose(const RPNState& s, int64_t image, bool training) const;
  SecondStage run_second_stage(const RPNState& s, int64_t image, const ImageProposals& props);
  // RoIAlign and the RoI head on `rois` (R, 5: batch index, box) at `levels`.
  SecondStage second_stage_on(const RPNState& s, const torch::Tensor& rois, const torch::Tensor& levels);
  ProposalParams proposal_params(bool training) const;
  Matcher rpn_matcher() const;

  // Config changes that keep every weight shape (thresholds, top-k, NMS,
  // RoIAlign sampling, score threshold) are applied in place.
  bool compatible_with(const DetectorConfig& other) const;
  void update_config(const DetectorConfig& cfg);
  // Level index of boxes (R, 4) under the size rule with this config's canonical size/level.
  torch::Tensor level_by_size(const torch::Tensor& boxes) const;

  DetectorConfig cfg;
  AnchorGenerator anchor_gen;
  BoxCoder rpn_coder;
  BackboneWithFPN backbone{nullptr};
  RPNHead rpn_head{nullptr};
  ROIHead roi_head{nullptr};
};
TORCH_MODULE(FasterRCNN);

}  // namespace rcnn::modeling
