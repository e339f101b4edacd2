#pragma once
// Second stage: RoIAlign on the FPN levels, classifier (and optional
// class-specific box regression), losses and inference post-processing.
//
// Shape shorthand: R RoIs, C classes (+1 background at index 0), L levels,
// S = roi_size.
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "config/detector_config.h"
#include "modeling/backbone.h"
#include "modeling/box_coder.h"
#include "modeling/linear_as_conv.h"
#include "ops/roi_align.h"

namespace rcnn::modeling {

// Reference: conv stem (3x3 + ReLU) on the S x S RoI features, flatten, linear
// classifier over C + 1. With fc_dim > 0 a hidden FC layer comes first.
struct ROIHeadImpl : torch::nn::Module {
  ROIHeadImpl(int64_t in_channels, const ROIHeadsOptions& o, int64_t num_classes);
  // pooled (R, C_fpn, S, S) -> {class logits (R, C+1), box deltas (R, 4C) or undefined}
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& pooled);
  torch::nn::Sequential stem{nullptr}, fc{nullptr};
  std::vector<FoldedConv> stem_fold;  // the stem's conv + BatchNorm folds for inference (backbone.h)
  LinearAsConv fc_as_conv;            // the hidden linear layer at inference
  torch::nn::Linear cls{nullptr}, box{nullptr};
};
TORCH_MODULE(ROIHead);

// FPN level index (0 = p3 .. num_levels - 1) of boxes (R, 4) by size, FPN
// paper eq. 1: k = floor(k0 + log2(sqrt(w h) / canonical_size)), clamped to
// p3 .. p(2 + num_levels). Defaults: 224 px at k0 = 4, three levels.
torch::Tensor assign_levels_by_size(const torch::Tensor& boxes, double canonical_size = 224.0,
                                    int64_t canonical_level = 4, int64_t num_levels = 3);

// rois (R, 5) [batch, x1, y1, x2, y2], levels (R,) int64 -> (R, C, S, S),
// each RoI pooled on its level with spatial_scale = 1 / stride.
torch::Tensor multilevel_roi_align(const std::vector<torch::Tensor>& feats, const torch::Tensor& rois,
                                   const torch::Tensor& levels, const std::vector<double>& strides,
                                   const ops::RoIAlignParams& base);

// Second-stage box coder (torchvision's weights 10, 10, 5, 5) with the given
// dw/dh clamp.
BoxCoder roi_box_coder(double scale_clamp = 3.332204510175204);

// Every proposal's box for every class (P, C, 4): class-specific regression
// of box_deltas (P, 4C) with roi_box_coder(scale_clamp), clipped to the image;
// the proposal box repeated when box_deltas is undefined.
torch::Tensor class_boxes(const torch::Tensor& proposals, const torch::Tensor& box_deltas, int64_t num_classes,
                          double scale_clamp, double image_w, double image_h);

struct Detections {
  torch::Tensor boxes;     // (D, 4) input coordinates
  torch::Tensor scores;    // (D,)
  torch::Tensor classes;   // (D,) int64, 0-based dataset classes
  torch::Tensor proposal;  // (D,) int64 index of the proposal it came from
};

// proposals (P, 4), probs (P, C+1) softmax, box_deltas (P, 4C) or undefined.
// Per-class scores > score_thresh, per-class NMS, top detections_per_image.
Detections postprocess_detections(const torch::Tensor& proposals, const torch::Tensor& probs,
                                  const torch::Tensor& box_deltas, const ROIHeadsOptions& o, double image_w,
                                  double image_h);

}  // namespace rcnn::modeling
