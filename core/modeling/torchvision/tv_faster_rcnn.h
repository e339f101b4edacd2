#pragma once
// A Faster R-CNN with torchvision's semantics and module names
// (backbone.body/fpn, rpn.head, roi_heads.box_head/box_predictor), so a
// state dict written by torchvision loads key for key. Inference only so far.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "modeling/torchvision/tv_options.h"
#include "modeling/torchvision/tv_fpn.h"
#include "modeling/torchvision/tv_roi_heads.h"
#include "modeling/torchvision/tv_rpn.h"
#include "modeling/torchvision/tv_transform.h"

namespace rcnn::serialize {
struct StateDict;
}

namespace rcnn::modeling::tv {

// Everything one inference computes, stage by stage (what the parity test
// compares and the studio will show).
struct TvInference {
  ImageBatch batch;
  std::vector<torch::Tensor> features;     // per level, (N, 256, H_l, W_l)
  torch::Tensor anchors;                   // (K, 4) of one image (all images share them)
  std::vector<int64_t> anchors_per_level;
  torch::Tensor objectness, deltas;        // (N * K, 1), (N * K, 4)
  std::vector<Proposals> proposals;        // per image
  PoolerLevels pooler;
  torch::Tensor roi_features;              // (R, 256, 7, 7), proposals of every image in order
  torch::Tensor class_logits, box_regression;
  std::vector<TvDetections> detections;    // per image, original image coordinates
  std::vector<TvDetections> detections_input;  // the same in model-input coordinates
  std::vector<ProposalCandidates> candidates;  // per image, when asked for (run_proposals)
};

struct TvFasterRCNNImpl : torch::nn::Module {
  explicit TvFasterRCNNImpl(const TvOptions& o);
  // images: (3, H, W) float in [0, 1], RGB, any sizes.
  TvInference infer(const std::vector<torch::Tensor>& images);
  // infer() stage by stage, each filling its fields of r from the earlier
  // ones, so a caller (the studio) re-runs only what an option change touches.
  void run_transform(TvInference& r, const std::vector<torch::Tensor>& images) const;
  void run_backbone(TvInference& r);   // features, RPN head outputs
  void run_anchors(TvInference& r) const;
  void run_proposals(TvInference& r, bool keep_candidates = false) const;
  void run_box_head(TvInference& r);   // run_roi_pool + run_head
  void run_roi_pool(TvInference& r);   // MultiScaleRoIAlign: pooler, roi_features
  void run_head(TvInference& r);       // box head + predictor on roi_features
  void run_postprocess(TvInference& r) const;
  // Options that change no weight shape (thresholds, sizes, top-k), applied
  // to a built model. Anchor sizes must keep the anchors per location.
  void set_options(const TvOptions& o);
  // Loads a torchvision state dict; every parameter and buffer must be
  // present with its shape (num_batches_tracked optional: its presence marks
  // a BatchNorm2d, its absence a FrozenBatchNorm2d). Throws
  // std::runtime_error naming `what` and the key; nothing is changed then.
  void load(const serialize::StateDict& sd, const std::string& what);
  // The weights under torchvision's keys, in torchvision's order (each
  // module's parameters, then its buffers, BatchNorm2d's num_batches_tracked
  // included), for serialize::write_state_dict: Python loads the file with
  // load_state_dict unchanged.
  serialize::StateDict state_dict();
  // Inference speed: every BatchNorm folded into its conv, convolution
  // weights and the input in channels-last, the box head's fully connected
  // layers on oneDNN (BoxHeadImpl::use_onednn). Results then differ from
  // torchvision's in the last bits (as with another thread count); the
  // parity test runs the exact, unfused model. After this state_dict() throws.
  void optimize_for_inference();
  bool optimized = false;

  TvOptions opts;
  BackboneWithFPN backbone{nullptr};
  RPNHead rpn_head{nullptr};
  BoxHead box_head{nullptr};
  BoxPredictor box_predictor{nullptr};
  std::vector<torch::Tensor> cell_anchors;  // per level (A, 4)
};
TORCH_MODULE(TvFasterRCNN);

}  // namespace rcnn::modeling::tv
