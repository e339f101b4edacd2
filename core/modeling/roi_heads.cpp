#include "modeling/roi_heads.h"

#include "modeling/backbone.h"
#include "ops/nms.h"

namespace rcnn::modeling {
namespace nn = torch::nn;

ROIHeadImpl::ROIHeadImpl(int64_t in_channels, const ROIHeadsOptions& o, int64_t num_classes) {
  stem = nn::Sequential();
  int64_t prev = in_channels;
  for (int ch : o.stem_channels) {
    if (o.norm == "none") {
      stem->push_back(nn::Conv2d(nn::Conv2dOptions(prev, ch, 3).padding(1)));
      stem->push_back(nn::ReLU());
    } else {
      stem->extend(*conv_norm_act(prev, ch, 3, 1, 1, o.norm, true));
    }
    prev = ch;
  }
  register_module("stem", stem);
  int64_t flat = prev * o.roi_size * o.roi_size;
  fc = nn::Sequential();
  if (o.fc_dim > 0) {
    fc->push_back(nn::Linear(flat, o.fc_dim));
    fc->push_back(nn::ReLU());
    flat = o.fc_dim;
  }
  register_module("fc", fc);
  cls = register_module("cls", nn::Linear(flat, num_classes + 1));
  if (o.box_regression) {
    box = register_module("box", nn::Linear(flat, 4 * num_classes));
    nn::init::normal_(box->weight, 0.0, 0.001);
    nn::init::constant_(box->bias, 0.0);
  }
}

std::pair<torch::Tensor, torch::Tensor> ROIHeadImpl::forward(const torch::Tensor& pooled) {
  // Inference on the CPU: BatchNorm folded into the stem's convs, which run
  // channels-last (as the backbone's do); otherwise the modules' forward.
  const bool infer = !is_training() && !torch::GradMode::is_enabled() && pooled.is_cpu();
  auto x = stem->is_empty() ? pooled
           : infer          ? run_conv_norm_act(stem, pooled.contiguous(at::MemoryFormat::ChannelsLast), stem_fold)
                            : stem->forward(pooled);
  if (infer && fc->size() == 2 && x.dim() == 4 && x.suggest_memory_format() == at::MemoryFormat::ChannelsLast) {
    // The hidden layer (linear, ReLU) with its linear as a convolution over
    // the channels-last RoI features (linear_as_conv.h).
    x = torch::relu(fc_as_conv(nn::Linear(fc->ptr<nn::LinearImpl>(0)), x));
  } else {
    x = x.flatten(1);
    if (!fc->is_empty()) x = fc->forward(x);
  }
  return {cls->forward(x), box ? box->forward(x) : torch::Tensor()};
}

torch::Tensor assign_levels_by_size(const torch::Tensor& boxes, double canonical_size, int64_t canonical_level,
                                    int64_t num_levels) {
  auto area = ((boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1))).clamp_min(1e-6);
  auto k = torch::floor(static_cast<double>(canonical_level) + torch::log2(area.sqrt() / canonical_size + 1e-8));
  return (k.clamp(3, 2 + num_levels) - 3).to(torch::kLong);
}

torch::Tensor multilevel_roi_align(const std::vector<torch::Tensor>& feats, const torch::Tensor& rois,
                                   const torch::Tensor& levels, const std::vector<double>& strides,
                                   const ops::RoIAlignParams& base) {
  const int64_t R = rois.size(0);
  const int64_t first = R > 0 ? levels[0].item<int64_t>() : -1;
  if (first >= 0 && first < int64_t(feats.size()) && (levels == first).all().item<bool>()) {
    auto p = base;  // one level holds every RoI: no gather
    p.spatial_scale = 1.0 / strides[size_t(first)];
    return ops::roi_align(feats[size_t(first)], rois, p);
  }
  auto out = torch::empty({R, feats[0].size(1), base.pooled_h, base.pooled_w},
                          feats[0].options().memory_format(feats[0].suggest_memory_format()))
                 .zero_();  // in the features' layout (torch::zeros would ignore it)
  if (R == 0) return out;
  for (size_t l = 0; l < feats.size(); ++l) {
    auto idx = (levels == static_cast<int64_t>(l)).nonzero().squeeze(1);
    if (idx.numel() == 0) continue;
    auto p = base;
    p.spatial_scale = 1.0 / strides[l];
    out.index_copy_(0, idx,
                    ops::roi_align(feats[l], rois.index_select(0, idx), p));  // in place: no copy of `out` per level
  }
  return out;
}

BoxCoder roi_box_coder(double scale_clamp) {
  BoxCoder c;
  c.weights = {10.0, 10.0, 5.0, 5.0};
  c.scale_clamp = scale_clamp;
  return c;
}

torch::Tensor class_boxes(const torch::Tensor& proposals, const torch::Tensor& box_deltas, int64_t C,
                          double scale_clamp, double image_w, double image_h) {
  const int64_t P = proposals.size(0);
  if (!box_deltas.defined()) return proposals.unsqueeze(1).expand({P, C, 4});
  auto coder = roi_box_coder(scale_clamp);
  auto rep = proposals.unsqueeze(1).expand({P, C, 4}).reshape({-1, 4});
  return clip_boxes(coder.decode(box_deltas.reshape({-1, 4}), rep), image_w, image_h).view({P, C, 4});
}

Detections postprocess_detections(const torch::Tensor& proposals, const torch::Tensor& probs,
                                  const torch::Tensor& box_deltas, const ROIHeadsOptions& o, double image_w,
                                  double image_h) {
  const int64_t P = proposals.size(0), C = probs.size(1) - 1;
  auto lopts = torch::TensorOptions().dtype(torch::kLong).device(proposals.device());
  Detections d;
  if (P == 0 || C <= 0) {
    d.boxes = torch::zeros({0, 4}, proposals.options());
    d.scores = torch::zeros({0}, proposals.options());
    d.classes = torch::zeros({0}, lopts);
    d.proposal = torch::zeros({0}, lopts);
    return d;
  }
  auto boxes = class_boxes(proposals, box_deltas, C, o.box_scale_clamp, image_w, image_h);  // (P, C, 4)
  auto scores = probs.narrow(1, 1, C);              // (P, C)
  auto keep = (scores > o.score_thresh).nonzero();  // (D, 2): proposal, class
  auto pi = keep.select(1, 0), ci = keep.select(1, 1);
  auto b = boxes.index({pi, ci});
  auto s = scores.index({pi, ci});
  auto nk = ops::batched_nms(b, s, ci, o.nms_thresh);
  nk = nk.narrow(0, 0, std::min<int64_t>(o.detections_per_image, nk.numel()));
  d.boxes = b.index_select(0, nk);
  d.scores = s.index_select(0, nk);
  d.classes = ci.index_select(0, nk);
  d.proposal = pi.index_select(0, nk);
  return d;
}

}  // namespace rcnn::modeling
