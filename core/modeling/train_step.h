#pragma once
// One training step's losses together with what they are made of: the
// matcher's labels, the sampled rows, each sample's targets and its term of
// the loss. FasterRCNNImpl::train_step fills it; forward_train returns its
// `losses`, and the studio's RoI-sampling and Losses stages show the rest, so
// the numbers the studio shows are the trainer's by construction.
//
// Shape shorthand: N images, Q candidate RoIs over the batch (each image's
// proposals, then its GT boxes when roi.add_gt_to_proposals), F sampled
// foreground and B sampled background RoIs, C classes.
#include <torch/torch.h>

#include <map>
#include <string>

#include "modeling/rpn.h"

namespace rcnn::modeling {

struct RoiTrainStep {
  torch::Tensor boxes;         // (Q, 4) candidate RoIs, image-major
  torch::Tensor image;         // (Q,) int64 image of each
  torch::Tensor from_gt;       // (Q,) bool: a GT box added to the proposals
  torch::Tensor levels;        // (Q,) int64 FPN level it is pooled on
  torch::Tensor labels;        // (Q,) int8 MatchLabel at roi.iou_lo / roi.iou_hi
  torch::Tensor gt_index;      // (Q,) int64 best GT within its image (-1: none)
  torch::Tensor max_iou;       // (Q,) IoU with that GT
  torch::Tensor class_target;  // (Q,) int64: matched GT class + 1 for fg, 0 (background) otherwise
  torch::Tensor fg, bg;        // sampled rows of Q
  torch::Tensor probs;         // (F + B, C + 1) softmax of the head's logits, fg first
  torch::Tensor cls_terms;     // (F + B,) each sample's cross-entropy
  torch::Tensor box_targets;   // (F, 4) encoded with the RoI box coder (10, 10, 5, 5)
  torch::Tensor box_pred;      // (F, 4) the target class's predicted deltas
  torch::Tensor box_terms;     // (F,) each fg sample's smooth L1 (beta 1/9), summed over the 4 deltas
  int64_t count = 0;           // F + B: the divisor of both RoI losses
};

struct TrainStep {
  // {"rpn_obj", "rpn_box", "roi_cls", "roi_box"}: scalars with autograd
  // history; rpn_box and roi_box include their box_loss_weight.
  std::map<std::string, torch::Tensor> losses;
  RPNLosses rpn;  // the RPN's samples and terms (box unweighted)
  RoiTrainStep roi;
};

}  // namespace rcnn::modeling
