#include "modeling/torchvision/tv_roi_heads.h"

#include <ATen/autocast_mode.h>

#include <cmath>

#include "modeling/torchvision/tv_box_ops.h"
#include "ops/roi_align.h"

namespace rcnn::modeling::tv {

BoxHeadImpl::BoxHeadImpl(Arch a, int64_t c, int64_t res) : arch(a) {
  if (arch != Arch::ResNet50FPNv2) {  // TwoMLPHead
    fc6 = register_module("fc6", torch::nn::Linear(c * res * res, 1024));
    fc7 = register_module("fc7", torch::nn::Linear(1024, 1024));
  } else {  // FastRCNNConvFCHead((256, 7, 7), [256] * 4, [1024], BatchNorm2d)
    for (int i = 0; i < 4; ++i) convs.push_back(register_module(std::to_string(i), ConvNorm(c, c, 3, 1, true, Act::ReLU)));
    fc = register_module("5", torch::nn::Linear(c * res * res, 1024));
  }
}

void BoxHeadImpl::use_onednn() {
  torch::NoGradGuard ng;
  onednn.clear();
  onednn_bf16.clear();
  for (auto* l : arch != Arch::ResNet50FPNv2 ? std::vector<torch::nn::Linear*>{&fc6, &fc7}
                                             : std::vector<torch::nn::Linear*>{&fc})
    onednn.emplace_back((*l)->weight.contiguous().to_mkldnn(), (*l)->bias.contiguous().to_mkldnn());
}

torch::Tensor BoxHeadImpl::forward(torch::Tensor x) {
  // Under bf16 inference (engine/precision.h) autocast does not reach
  // oneDNN's inner product: the layers take bf16 copies of the reordered
  // weights, made on first use.
  const bool bf16 = at::autocast::is_cpu_enabled() && at::autocast::get_autocast_cpu_dtype() == at::kBFloat16;
  if (bf16 && !onednn.empty() && onednn_bf16.empty()) {
    torch::NoGradGuard ng;
    for (const auto& [w, b] : onednn)
      onednn_bf16.emplace_back(w.to_dense().to(at::kBFloat16).to_mkldnn(), b.to_dense().to(at::kBFloat16).to_mkldnn());
  }
  auto linear = [&](torch::nn::Linear& l, size_t k, const torch::Tensor& in) {
    // (Autograd, as attribution runs it, goes through the plain layers.)
    if (onednn.empty() || in.size(0) == 0 || torch::GradMode::is_enabled()) return l->forward(in);
    if (bf16) {
      const auto& [w, b] = onednn_bf16[k];
      return torch::mkldnn_linear(in.to(at::kBFloat16).contiguous().to_mkldnn(), w, b).to_dense();
    }
    return torch::mkldnn_linear(in.contiguous().to_mkldnn(), onednn[k].first, onednn[k].second).to_dense();
  };
  // Optimized inference on channels-last RoI features: the first linear
  // layer as a convolution that reads them in place (linear_as_conv.h).
  const bool as_conv = !onednn.empty() && x.size(0) > 0 && !torch::GradMode::is_enabled();
  auto first = [&](torch::nn::Linear& l, const torch::Tensor& in) {
    if (as_conv && in.suggest_memory_format() == at::MemoryFormat::ChannelsLast) return first_as_conv(l, in);
    return linear(l, 0, in.flatten(1));
  };
  if (arch != Arch::ResNet50FPNv2) {
    x = torch::relu(first(fc6, x));
    return torch::relu(linear(fc7, 1, x));
  }
  for (auto& c : convs) x = c->forward(x);
  return torch::relu(first(fc, x));
}

BoxPredictorImpl::BoxPredictorImpl(int64_t in, int64_t n) {
  cls_score = register_module("cls_score", torch::nn::Linear(in, n));
  bbox_pred = register_module("bbox_pred", torch::nn::Linear(in, n * 4));
}

std::pair<torch::Tensor, torch::Tensor> BoxPredictorImpl::forward(const torch::Tensor& x_in) {
  auto x = x_in.flatten(1);
  return {cls_score->forward(x), bbox_pred->forward(x)};
}

PoolerLevels infer_pooler_levels(const std::vector<torch::Tensor>& feats,
                                 const std::vector<std::pair<int64_t, int64_t>>& image_sizes) {
  int64_t max_x = 0, max_y = 0;
  for (const auto& s : image_sizes) max_x = std::max(max_x, s.first), max_y = std::max(max_y, s.second);
  PoolerLevels p;
  for (const auto& f : feats) {
    // _infer_scale: 2 ** round(log2(feature size / image size)) of the first axis, in float32
    const double approx = double(f.size(2)) / double(max_x);
    const float lg = torch::tensor(approx, torch::kDouble).to(torch::kFloat).log2().round().item<float>();
    p.scales.push_back(std::pow(2.0, double(lg)));
  }
  const float lmin = -torch::log2(torch::tensor(p.scales.front(), torch::kDouble).to(torch::kFloat)).item<float>();
  const float lmax = -torch::log2(torch::tensor(p.scales.back(), torch::kDouble).to(torch::kFloat)).item<float>();
  p.k_min = int(lmin);
  p.k_max = int(lmax);
  return p;
}

torch::Tensor map_levels(const std::vector<torch::Tensor>& boxes, const PoolerLevels& p) {
  std::vector<torch::Tensor> areas;
  for (const auto& b : boxes)
    areas.push_back((b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1)));
  auto s = torch::sqrt(torch::cat(areas));
  auto lv = torch::floor(4 + torch::log2(s / 224) + torch::tensor(1e-6, torch::kDouble).to(s.scalar_type()));
  lv = torch::clamp(lv, p.k_min, p.k_max);
  return lv.to(torch::kLong) - p.k_min;
}

torch::Tensor multiscale_roi_align(const std::vector<torch::Tensor>& feats, const std::vector<torch::Tensor>& boxes,
                                   const PoolerLevels& p, const TvOptions& o) {
  auto concat = torch::cat(boxes, 0);
  std::vector<torch::Tensor> ids;
  for (size_t i = 0; i < boxes.size(); ++i) ids.push_back(torch::full_like(boxes[i].slice(1, 0, 1), double(i)));
  auto rois = torch::cat({torch::cat(ids, 0), concat}, 1);
  ops::RoIAlignParams rp{o.roi_output_size, o.roi_output_size, p.scales[0], o.roi_sampling_ratio, false};
  if (feats.size() == 1) return ops::roi_align(feats[0], rois, rp);
  auto levels = map_levels(boxes, p);
  auto result = torch::empty({rois.size(0), feats[0].size(1), o.roi_output_size, o.roi_output_size},
                             feats[0].options().memory_format(feats[0].suggest_memory_format()))
                    .zero_();  // in the features' layout (torch::zeros would ignore it)
  for (size_t l = 0; l < feats.size(); ++l) {
    auto idx = torch::where(levels == int64_t(l))[0];
    rp.spatial_scale = p.scales[l];
    result.index_put_({idx}, ops::roi_align(feats[l], rois.index({idx}), rp).to(result.scalar_type()));
  }
  return result;
}

std::vector<TvDetections> postprocess_detections(const torch::Tensor& class_logits, const torch::Tensor& box_regression,
                                                 const std::vector<torch::Tensor>& proposals,
                                                 const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                                 const TvOptions& o) {
  const int64_t C = class_logits.size(-1);
  std::vector<int64_t> per_image;
  for (const auto& p : proposals) per_image.push_back(p.size(0));
  auto concat = torch::cat(proposals, 0);
  const std::array<double, 4> w{o.bbox_reg_weights[0], o.bbox_reg_weights[1], o.bbox_reg_weights[2],
                                o.bbox_reg_weights[3]};
  const int64_t R = concat.size(0);
  auto pred_boxes = decode_boxes(box_regression.reshape({R, box_regression.size(-1)}), concat, w, default_bbox_clip());
  if (R > 0) pred_boxes = pred_boxes.reshape({R, -1, 4});
  auto pred_scores = torch::softmax(class_logits, -1);
  auto boxes_list = pred_boxes.split_with_sizes(per_image, 0);
  auto scores_list = pred_scores.split_with_sizes(per_image, 0);
  std::vector<TvDetections> out;
  for (size_t i = 0; i < proposals.size(); ++i) {
    auto boxes = clip_boxes_to_image(boxes_list[i], image_sizes[i].first, image_sizes[i].second);
    auto scores = scores_list[i];
    auto labels = torch::arange(C).view({1, -1}).expand_as(scores);
    boxes = boxes.slice(1, 1).reshape({-1, 4});
    scores = scores.slice(1, 1).reshape({-1});
    labels = labels.slice(1, 1).reshape({-1});
    auto inds = torch::where(scores > o.box_score_thresh)[0];
    boxes = boxes.index({inds}), scores = scores.index({inds}), labels = labels.index({inds});
    auto keep = remove_small_boxes(boxes, 1e-2);
    boxes = boxes.index({keep}), scores = scores.index({keep}), labels = labels.index({keep});
    inds = inds.index({keep});
    keep = batched_nms(boxes, scores, labels, o.box_nms_thresh);
    keep = keep.slice(0, 0, o.box_detections_per_img);
    // Row r of the (R, C - 1) score table flattened: index r * (C - 1) + class - 1.
    auto roi = torch::div(inds.index({keep}), std::max<int64_t>(1, C - 1), "floor");
    out.push_back({boxes.index({keep}), scores.index({keep}), labels.index({keep}), roi});
  }
  return out;
}

}  // namespace rcnn::modeling::tv
