#include "modeling/rpn.h"

#include "modeling/sampling.h"
#include "ops/nms.h"

namespace rcnn::modeling {
namespace nn = torch::nn;

namespace {
nn::Conv2d init_conv(int64_t in, int64_t out) {
  nn::Conv2d c(nn::Conv2dOptions(in, out, 3).padding(1));
  nn::init::normal_(c->weight, 0.0, 0.01);
  nn::init::constant_(c->bias, 0.0);
  return c;
}
}  // namespace

RPNHeadImpl::RPNHeadImpl(int64_t in_channels, const std::vector<int>& stem_channels, int64_t A) : num_anchors(A) {
  stem = nn::Sequential();
  int64_t prev = in_channels;
  for (int ch : stem_channels) {
    stem->push_back(init_conv(prev, ch));
    stem->push_back(nn::ReLU());
    prev = ch;
  }
  register_module("stem", stem);
  pred_obj = register_module("pred_obj", init_conv(prev, A));
  pred_box = register_module("pred_box", init_conv(prev, 4 * A));
}

std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> RPNHeadImpl::forward(
    const std::vector<torch::Tensor>& feats) {
  std::vector<torch::Tensor> obj, box;
  for (const auto& f : feats) {
    auto s = stem->is_empty() ? f : stem->forward(f);
    const int64_t N = f.size(0);
    obj.push_back(pred_obj->forward(s).permute({0, 2, 3, 1}).reshape({N, -1}));
    box.push_back(pred_box->forward(s).permute({0, 2, 3, 1}).reshape({N, -1, 4}));
  }
  return {obj, box};
}

LevelProposals propose_level(const torch::Tensor& objectness, const torch::Tensor& deltas, const torch::Tensor& anchors,
                             const ProposalParams& p, double image_w, double image_h, const BoxCoder& coder) {
  LevelProposals r;
  const int64_t k = std::min<int64_t>(p.pre_nms_topk, objectness.size(0));
  auto tk = objectness.topk(k, 0, /*largest=*/true, /*sorted=*/true);
  r.scores = std::get<0>(tk);
  r.topk_idx = std::get<1>(tk);
  auto boxes = coder.decode(deltas.index_select(0, r.topk_idx), anchors.index_select(0, r.topk_idx));
  r.boxes = clip_boxes(boxes, image_w, image_h);
  auto w = r.boxes.select(1, 2) - r.boxes.select(1, 0);
  auto h = r.boxes.select(1, 3) - r.boxes.select(1, 1);
  // Zero-area boxes after clipping are always dropped: they cannot be RoIs.
  r.too_small = (w <= p.min_box_size) | (h <= p.min_box_size) | (w <= 0) | (h <= 0);
  auto ok = (~r.too_small).nonzero().squeeze(1);
  torch::Tensor sup_sub;
  auto keep_sub =
      ops::nms_with_suppressor(r.boxes.index_select(0, ok), r.scores.index_select(0, ok), p.nms_thresh, &sup_sub);
  r.nms_keep = ok.index_select(0, keep_sub);
  r.suppressed_by = torch::full({k}, -1, torch::TensorOptions().dtype(torch::kLong).device(objectness.device()));
  auto mapped = torch::where(sup_sub >= 0, ok.index_select(0, sup_sub.clamp_min(0)), sup_sub);
  r.suppressed_by.index_copy_(0, ok, mapped);
  r.keep = r.nms_keep.narrow(0, 0, std::min<int64_t>(p.post_nms_topk, r.nms_keep.size(0)));
  return r;
}

RPNLosses rpn_losses(const torch::Tensor& objectness, const torch::Tensor& deltas, const torch::Tensor& anchors,
                     const torch::Tensor& gt, const Matcher& matcher, int64_t batch_size_per_image, double fg_fraction,
                     const BoxCoder& coder, std::optional<torch::Generator> gen, const SampleNormalizer& normalizer) {
  const int64_t N = objectness.size(0);
  std::vector<torch::Tensor> labels, targets, gt_index;
  for (int64_t i = 0; i < N; ++i) {
    auto m = matcher(anchors, gt[i]);
    labels.push_back(m.labels);
    targets.push_back(matched_boxes(m));
    gt_index.push_back(m.gt_index);
  }
  auto lab = torch::cat(labels, 0);  // (N*K,)
  auto s = subsample_labels(lab, batch_size_per_image * N, fg_fraction, gen);
  auto idx = torch::cat({s.fg, s.bg});
  RPNLosses r;
  r.num_fg = s.fg.numel();
  r.num_bg = s.bg.numel();
  r.labels = lab;
  r.fg = s.fg;
  r.bg = s.bg;
  r.count = std::max<int64_t>(idx.numel(), 1);
  r.divisor = sample_divisor(normalizer, idx.numel());
  const double count = r.divisor;
  auto target =
      torch::cat({torch::ones({r.num_fg}, objectness.options()), torch::zeros({r.num_bg}, objectness.options())});
  auto logits = objectness.reshape({-1}).index_select(0, idx);
  auto bce = torch::binary_cross_entropy_with_logits(logits, target, {}, {}, at::Reduction::None);
  r.objectness = bce.sum() / count;  // what Reduction::Sum computes
  r.obj_terms = bce.detach();
  // Box loss on the sampled foreground only (the first num_fg of idx).
  auto fg_idx = s.fg;
  auto all_anchors = anchors.repeat({N, 1});
  auto gt_deltas = coder.encode(all_anchors.index_select(0, fg_idx), torch::cat(targets, 0).index_select(0, fg_idx));
  auto pred = deltas.reshape({-1, 4}).index_select(0, fg_idx);
  auto l1 = (pred - gt_deltas).abs();
  r.box = l1.sum() / count;
  r.box_targets = gt_deltas.detach();
  r.box_pred = pred.detach();
  r.box_terms = l1.detach().sum(1);
  r.fg_gt = torch::cat(gt_index, 0).index_select(0, fg_idx);
  return r;
}

}  // namespace rcnn::modeling
