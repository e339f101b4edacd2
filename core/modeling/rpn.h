#pragma once
// Region proposal network: head, losses, proposals.
//
// Shape shorthand: N images, L FPN levels, A anchors per location,
// K_l = H_l * W_l * A anchors of level l, K = sum_l K_l, M GT rows.
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "modeling/box_coder.h"
#include "modeling/matcher.h"
#include "modeling/sampling.h"

namespace rcnn::modeling {

// Stem of 3x3 conv + ReLU layers shared by both predictors and computed once
// per level (the reference computes it twice), then 3x3 convs to A objectness
// logits and 4A deltas. Weights N(0, 0.01), biases 0 (seed).
struct RPNHeadImpl : torch::nn::Module {
  RPNHeadImpl(int64_t in_channels, const std::vector<int>& stem_channels, int64_t num_anchors);
  // feats[l]: (N, C, H_l, W_l) -> objectness[l] (N, K_l), deltas[l] (N, K_l, 4)
  std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> forward(const std::vector<torch::Tensor>& feats);
  torch::nn::Sequential stem{nullptr};
  torch::nn::Conv2d pred_obj{nullptr}, pred_box{nullptr};
  int64_t num_anchors;
};
TORCH_MODULE(RPNHead);

// Proposals of one image on one level, with everything the trace shows.
struct LevelProposals {
  torch::Tensor topk_idx;       // (P,) anchor indices within the level, objectness-descending
  torch::Tensor boxes;          // (P, 4) decoded and clipped
  torch::Tensor scores;         // (P,) objectness logits
  torch::Tensor too_small;      // (P,) bool, removed before NMS by min_box_size
  torch::Tensor suppressed_by;  // (P,) int64 index into P of the suppressing box, -1 if not
  torch::Tensor nms_keep;       // indices into P kept by NMS, score-descending
  torch::Tensor keep;           // nms_keep cut to post_nms_topk
};

struct ProposalParams {
  int64_t pre_nms_topk = 400;
  int64_t post_nms_topk = 100;
  double nms_thresh = 0.7;
  double min_box_size = 0.0;
};

// objectness (K_l,), deltas (K_l, 4), anchors (K_l, 4) of one image and level.
LevelProposals propose_level(const torch::Tensor& objectness, const torch::Tensor& deltas, const torch::Tensor& anchors,
                             const ProposalParams& p, double image_w, double image_h, const BoxCoder& coder);

struct RPNLosses {
  torch::Tensor objectness;  // BCE-with-logits, summed / #samples
  torch::Tensor box;         // L1 on positive rows, summed / #samples
  int64_t num_fg = 0, num_bg = 0;
  // What the two numbers are made of (detached; the studio's Losses stage).
  // Rows index the batch's N*K anchors, image-major.
  torch::Tensor labels;        // (N*K,) int8 MatchLabel
  torch::Tensor fg, bg;        // sampled rows: the first num_fg samples are fg, then bg
  torch::Tensor obj_terms;     // (num_fg + num_bg,) each sample's BCE-with-logits, fg first
  torch::Tensor box_targets;   // (num_fg, 4) encoded (dx, dy, dw, dh) of each fg sample's GT
  torch::Tensor box_pred;      // (num_fg, 4) the predicted deltas
  torch::Tensor box_terms;     // (num_fg,) each fg sample's L1, summed over the 4 deltas
  torch::Tensor fg_gt;         // (num_fg,) the matched GT (index into its image's unpadded GT)
  int64_t count = 1;           // max(#samples, 1) on this process
  double divisor = 1;          // what the sums are divided by: count, or the ranks' (SampleNormalizer)
};

// objectness (N, K), deltas (N, K, 4), anchors (K, 4), gt (N, M, 5).
// Samples batch_size_per_image * N anchors over the whole batch (seed).
RPNLosses rpn_losses(const torch::Tensor& objectness, const torch::Tensor& deltas, const torch::Tensor& anchors,
                     const torch::Tensor& gt, const Matcher& matcher, int64_t batch_size_per_image, double fg_fraction,
                     const BoxCoder& coder, std::optional<torch::Generator> gen = std::nullopt,
                     const SampleNormalizer& normalizer = {});

}  // namespace rcnn::modeling
