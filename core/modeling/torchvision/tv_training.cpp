#include "modeling/torchvision/tv_training.h"

#include <map>

#include "modeling/matcher.h"
#include "modeling/torchvision/tv_anchors.h"
#include "modeling/torchvision/tv_box_ops.h"
#include "ops/box_iou.h"

namespace rcnn::modeling::tv {
namespace F = torch::nn::functional;

std::pair<torch::Tensor, torch::Tensor> balanced_sample(const torch::Tensor& labels, int64_t batch_size,
                                                        double positive_fraction,
                                                        std::optional<torch::Generator> gen) {
  auto positive = torch::where(labels >= 1)[0];
  auto negative = torch::where(labels == 0)[0];
  int64_t num_pos = int64_t(double(batch_size) * positive_fraction);
  num_pos = std::min(positive.numel(), num_pos);
  int64_t num_neg = std::min(negative.numel(), batch_size - num_pos);
  auto perm = [&](int64_t n) {
    auto o = torch::TensorOptions().dtype(torch::kLong).device(labels.device());
    return gen ? torch::randperm(n, *gen, o) : torch::randperm(n, o);
  };
  auto pos = positive.index({perm(positive.numel()).slice(0, 0, num_pos)});
  auto neg = negative.index({perm(negative.numel()).slice(0, 0, num_neg)});
  return {pos, neg};
}

torch::Tensor encode_boxes(const torch::Tensor& reference, const torch::Tensor& proposals,
                           const std::array<double, 4>& w) {
  // torchvision's encode_boxes, op for op (weights as 0-dim tensors of the dtype).
  auto o = reference.options();
  auto wx = torch::tensor(w[0], o), wy = torch::tensor(w[1], o), ww = torch::tensor(w[2], o),
       wh = torch::tensor(w[3], o);
  auto col = [](const torch::Tensor& t, int i) { return t.select(1, i).unsqueeze(1); };
  auto ex_w = col(proposals, 2) - col(proposals, 0), ex_h = col(proposals, 3) - col(proposals, 1);
  auto ex_x = col(proposals, 0) + 0.5 * ex_w, ex_y = col(proposals, 1) + 0.5 * ex_h;
  auto gt_w = col(reference, 2) - col(reference, 0), gt_h = col(reference, 3) - col(reference, 1);
  auto gt_x = col(reference, 0) + 0.5 * gt_w, gt_y = col(reference, 1) + 0.5 * gt_h;
  return torch::cat({wx * (gt_x - ex_x) / ex_w, wy * (gt_y - ex_y) / ex_h, ww * torch::log(gt_w / ex_w),
                     wh * torch::log(gt_h / ex_h)},
                    1);
}

namespace {

// Matcher result as torchvision's labels: 1 / 0 / -1 (positive, negative, ignored) and the matched GT index.
struct Assigned {
  torch::Tensor labels;   // (K,) float (RPN) or int64 class (RoI heads)
  torch::Tensor matched;  // (K,) int64, clamped to >= 0
};

torch::Tensor gt_rows(const TvTarget& t) {
  return torch::cat({t.boxes, t.labels.unsqueeze(1).to(t.boxes.scalar_type())}, 1);
}

std::vector<int64_t> sorted(const torch::Tensor& idx) {
  auto s = std::get<0>(idx.sort());
  return std::vector<int64_t>(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + s.numel());
}

// What the RPN loss is made of, per sample (fg first), for the studio's Losses stage.
void record_rpn(RPNLosses& R, const TvInference& r, const TvLosses& L, const torch::Tensor& labels_all,
                const torch::Tensor& targets_all, const torch::Tensor& matched, const torch::Tensor& sampled_pos,
                const torch::Tensor& sampled_neg) {
  const auto sampled = torch::cat({sampled_pos, sampled_neg});
  torch::NoGradGuard ng;
  R.labels = labels_all.to(torch::kChar);
  R.fg = sampled_pos;
  R.bg = sampled_neg;
  R.num_fg = sampled_pos.numel();
  R.num_bg = sampled_neg.numel();
  R.count = sampled.numel();
  R.divisor = double(R.count);
  R.obj_terms = F::binary_cross_entropy_with_logits(
      r.objectness.flatten().index({sampled}), labels_all.index({sampled}),
      F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  R.box_targets = targets_all.index({sampled_pos});
  R.box_pred = r.deltas.index({sampled_pos});
  R.box_terms = torch::smooth_l1_loss(R.box_pred, R.box_targets, at::Reduction::None, 1.0 / 9).sum(1);
  R.fg_gt = matched.index({sampled_pos});
  R.objectness = L.objectness.detach();
  R.box = L.rpn_box_reg.detach();
}

// Every candidate RoI of every image (its proposals, then its GT boxes), image-major.
struct RoiCandidates {
  std::vector<torch::Tensor> boxes, image, from_gt, match, gt, iou, cls, fg, bg;
};

// What the RoI head's losses are made of, per sample (fg first), for the studio's RoI sampling and Losses stages.
void record_roi(RoiTrainStep& Q, const RoiCandidates& c, const PoolerLevels& pooler, const TvSamples& made,
                const torch::Tensor& class_logits, const torch::Tensor& br, const torch::Tensor& labels,
                const torch::Tensor& regression_targets) {
  const int64_t N = int64_t(c.boxes.size());
  const int64_t R = class_logits.size(0);
  torch::NoGradGuard ng;
  Q.boxes = torch::cat(c.boxes);
  Q.image = torch::cat(c.image);
  Q.from_gt = torch::cat(c.from_gt);
  Q.levels = pooler.scales.size() > 1 ? map_levels(c.boxes, pooler) : torch::zeros({Q.boxes.size(0)}, torch::kLong);
  Q.labels = torch::cat(c.match).to(torch::kChar);
  Q.gt_index = torch::cat(c.gt);
  Q.max_iou = torch::cat(c.iou);
  Q.class_target = torch::cat(c.cls);
  Q.fg = torch::cat(c.fg);
  Q.bg = torch::cat(c.bg);
  Q.count = R;
  // The loss rows are the kept rows in ascending order of Q: each sample's row there, fg first.
  std::vector<int64_t> kept_q;
  for (int64_t i = 0, base = 0; i < N; ++i) {
    const auto k = std::get<0>(torch::cat({made.roi_pos[size_t(i)], made.roi_neg[size_t(i)]}).sort());
    for (int64_t v : std::vector<int64_t>(k.data_ptr<int64_t>(), k.data_ptr<int64_t>() + k.numel()))
      kept_q.push_back(base + v);
    base += c.boxes[size_t(i)].size(0);
  }
  std::map<int64_t, int64_t> row_of;
  for (size_t k = 0; k < kept_q.size(); ++k) row_of[kept_q[k]] = int64_t(k);
  std::vector<int64_t> order;
  for (const auto* part : {&Q.fg, &Q.bg})
    for (int64_t v : std::vector<int64_t>(part->data_ptr<int64_t>(), part->data_ptr<int64_t>() + part->numel()))
      order.push_back(row_of.at(v));
  auto ord = torch::tensor(order, torch::kLong);
  auto fg_rows = ord.slice(0, 0, Q.fg.numel());
  Q.probs = torch::softmax(class_logits, -1).index_select(0, ord);
  Q.cls_terms = F::cross_entropy(class_logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone))
                    .index_select(0, ord);
  Q.box_targets = regression_targets.index_select(0, fg_rows);
  Q.box_pred = br.index({fg_rows, labels.index_select(0, fg_rows)});
  Q.box_terms = torch::smooth_l1_loss(Q.box_pred, Q.box_targets, at::Reduction::None, 1.0 / 9).sum(1);
}

// The samplers' draws of one step: the replayed ones, or
// BalancedPositiveNegativeSampler's from `gen`; each is recorded in `made`.
struct Draws {
  const TvSamples* replay;
  std::optional<torch::Generator> gen;
  TvSamples made;
  std::pair<torch::Tensor, torch::Tensor> draw(bool rpn, int64_t i, const torch::Tensor& labels, int64_t batch,
                                               double fraction) {
    const auto* rp = replay ? (rpn ? &replay->rpn_pos : &replay->roi_pos) : nullptr;
    const auto* rn = replay ? (rpn ? &replay->rpn_neg : &replay->roi_neg) : nullptr;
    auto pn = rp ? std::make_pair((*rp)[size_t(i)], (*rn)[size_t(i)]) : balanced_sample(labels, batch, fraction, gen);
    (rpn ? made.rpn_pos : made.roi_pos).push_back(pn.first);
    (rpn ? made.rpn_neg : made.roi_neg).push_back(pn.second);
    return pn;
  }
};

// filter_proposals at the training top-k, without gradient.
std::vector<Proposals> training_proposals(const TvOptions& o, const TvInference& r, int64_t N, int64_t K) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> all(size_t(N), r.anchors);
  auto concat = torch::cat(all, 0);
  auto dec = decode_boxes(r.deltas.detach().reshape({N * K, -1}), concat, {1, 1, 1, 1}, default_bbox_clip());
  return filter_proposals(dec.reshape({N * K, -1, 4}).view({N, -1, 4}), r.objectness.detach(), r.batch.sizes,
                          r.anchors_per_level, o, /*training=*/true);
}

// The RPN's two losses: torchvision's Matcher and sampler over every image's anchors.
void rpn_losses(const TvOptions& o, const TvInference& r, const std::vector<TvTarget>& targets, Draws& d,
                TvLosses& L, TrainStep* step, const SampleNormalizer& normalizer) {
  const int64_t N = int64_t(targets.size());
  const int64_t K = r.anchors.size(0);
  // RPN targets: torchvision's Matcher(fg, bg, allow_low_quality_matches=True).
  std::vector<torch::Tensor> rpn_labels, rpn_targets, rpn_matched;
  std::vector<int64_t> pos_all, neg_all;
  for (int64_t i = 0; i < N; ++i) {
    const auto& t = targets[size_t(i)];
    torch::Tensor labels, matched_boxes, matched = torch::full({K}, -1, torch::kLong);
    if (t.boxes.size(0) == 0) {
      labels = torch::zeros({K}, torch::kFloat);
      matched_boxes = torch::zeros({K, 4}, torch::kFloat);
    } else {
      Matcher mt{o.rpn_bg_iou_thresh, o.rpn_fg_iou_thresh, true, true};
      auto mr = mt(r.anchors, gt_rows(t));
      labels = mr.labels.to(torch::kFloat);  // 1 fg, 0 bg, -1 between
      matched = mr.gt_index;
      matched_boxes = t.boxes.index_select(0, mr.gt_index.clamp_min(0));
    }
    rpn_labels.push_back(labels);
    rpn_matched.push_back(matched);
    rpn_targets.push_back(encode_boxes(matched_boxes, r.anchors, {1, 1, 1, 1}));
    const auto [pos, neg] = d.draw(true, i, labels, o.rpn_batch_size_per_image, o.rpn_positive_fraction);
    for (int64_t k : sorted(pos)) pos_all.push_back(i * K + k);
    for (int64_t k : sorted(neg)) neg_all.push_back(i * K + k);
  }
  auto sampled_pos = torch::tensor(pos_all, torch::kLong), sampled_neg = torch::tensor(neg_all, torch::kLong);
  auto sampled = torch::cat({sampled_pos, sampled_neg});
  auto labels_all = torch::cat(rpn_labels), targets_all = torch::cat(rpn_targets);
  // F.smooth_l1_loss(beta=1/9, reduction="sum") through ATen directly.
  const double divisor = normalizer ? normalizer(sampled.numel()) : double(sampled.numel());
  L.rpn_box_reg = torch::smooth_l1_loss(r.deltas.index({sampled_pos}), targets_all.index({sampled_pos}),
                                        at::Reduction::Sum, 1.0 / 9) /
                  divisor;
  L.objectness = normalizer ? F::binary_cross_entropy_with_logits(
                                  r.objectness.flatten().index({sampled}), labels_all.index({sampled}),
                                  F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum)) /
                                  divisor
                            : F::binary_cross_entropy_with_logits(r.objectness.flatten().index({sampled}),
                                                                  labels_all.index({sampled}));
  if (step) record_rpn(step->rpn, r, L, labels_all, targets_all, torch::cat(rpn_matched), sampled_pos, sampled_neg);
}

// The RoI head's two losses (fastrcnn_loss) on the sampled proposals and GT boxes.
void roi_losses(TvFasterRCNNImpl& m, const TvInference& r, const std::vector<TvTarget>& targets,
                const std::vector<Proposals>& proposals, Draws& d, TvLosses& L, TrainStep* step,
                const SampleNormalizer& normalizer) {
  const auto& o = m.opts;
  const int64_t N = int64_t(targets.size());
  // RoI heads: GT boxes join the proposals; Matcher(fg, bg, no low-quality).
  std::vector<torch::Tensor> roi_boxes, roi_labels, roi_targets;
  std::vector<torch::Tensor> q_boxes, q_image, q_from_gt, q_match, q_gt, q_iou, q_class, q_fg, q_bg;
  int64_t q_base = 0;
  const std::array<double, 4> w{o.bbox_reg_weights[0], o.bbox_reg_weights[1], o.bbox_reg_weights[2],
                                o.bbox_reg_weights[3]};
  for (int64_t i = 0; i < N; ++i) {
    const auto& t = targets[size_t(i)];
    auto props = torch::cat({proposals[size_t(i)].boxes, t.boxes});
    const int64_t Q = props.size(0);
    torch::Tensor labels, matched;
    torch::Tensor gt_boxes = t.boxes;
    modeling::MatchResult mr;
    if (t.boxes.size(0) == 0) {
      labels = torch::zeros({Q}, torch::kLong);
      matched = torch::zeros({Q}, torch::kLong);
      gt_boxes = torch::zeros({1, 4}, torch::kFloat);
    } else {
      Matcher mt{o.box_bg_iou_thresh, o.box_fg_iou_thresh, false, true};
      mr = mt(props, gt_rows(t));
      matched = mr.gt_index.clamp_min(0);
      labels = t.labels.index_select(0, matched);
      labels.masked_fill_(mr.labels == kBackground, 0);
      labels.masked_fill_(mr.labels == kNeutral, -1);
    }
    const auto [pos, neg] = d.draw(false, i, labels, o.box_batch_size_per_image, o.box_positive_fraction);
    // torchvision keeps where(pos | neg): ascending index order.
    auto keep = std::get<0>(torch::cat({pos, neg}).sort());
    auto p = props.index({keep});
    roi_boxes.push_back(p);
    roi_labels.push_back(labels.index({keep}));
    roi_targets.push_back(encode_boxes(gt_boxes.index_select(0, matched.index({keep})), p, w));
    if (step) {
      q_boxes.push_back(props);
      q_image.push_back(torch::full({Q}, i, torch::kLong));
      q_from_gt.push_back(torch::arange(Q) >= proposals[size_t(i)].boxes.size(0));
      q_match.push_back(mr.labels.defined() ? mr.labels : torch::zeros({Q}, torch::kChar));
      q_gt.push_back(mr.gt_index.defined() ? mr.gt_index : torch::full({Q}, -1, torch::kLong));
      q_iou.push_back(mr.max_iou.defined() ? mr.max_iou : torch::zeros({Q}));
      q_class.push_back(labels.clamp_min(0));
      q_fg.push_back(std::get<0>(pos.sort()) + q_base);
      q_bg.push_back(std::get<0>(neg.sort()) + q_base);
      q_base += Q;
    }
  }
  // MultiScaleRoIAlign over '0'-'3', box head, predictor.
  std::vector<torch::Tensor> pooled(r.features.begin(), r.features.begin() + std::min<size_t>(4, r.features.size() - 1));
  auto pooler = infer_pooler_levels(pooled, r.batch.sizes);
  auto x = m.box_head->forward(multiscale_roi_align(pooled, roi_boxes, pooler, o));
  auto [class_logits, box_regression] = m.box_predictor->forward(x);
  // fastrcnn_loss
  auto labels = torch::cat(roi_labels), regression_targets = torch::cat(roi_targets);
  const int64_t R = class_logits.size(0);
  const double divisor = normalizer ? normalizer(labels.numel()) : double(labels.numel());
  L.classifier = normalizer ? F::cross_entropy(class_logits, labels,
                                               F::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                                  divisor
                            : F::cross_entropy(class_logits, labels);
  auto pos_subset = torch::where(labels > 0)[0];
  auto labels_pos = labels.index({pos_subset});
  auto br = box_regression.reshape({R, box_regression.size(-1) / 4, 4});
  L.box_reg = torch::smooth_l1_loss(br.index({pos_subset, labels_pos}), regression_targets.index({pos_subset}),
                                    at::Reduction::Sum, 1.0 / 9) /
              divisor;
  if (step) {
    record_roi(step->roi, {q_boxes, q_image, q_from_gt, q_match, q_gt, q_iou, q_class, q_fg, q_bg}, pooler, d.made,
               class_logits, br, labels, regression_targets);
  }
}

}  // namespace

TvLosses training_losses(TvFasterRCNNImpl& m, const std::vector<torch::Tensor>& images,
                         const std::vector<TvTarget>& targets_in, const TvSamples* replay, TvSamples* drawn,
                         std::optional<torch::Generator> gen, TrainStep* step, const SampleNormalizer& normalizer) {
  TORCH_CHECK(images.size() == targets_in.size(), "training_losses: one target per image");
  TvInference r;
  m.run_transform(r, images);
  // Targets follow the resize, per axis.
  std::vector<TvTarget> targets;
  for (size_t i = 0; i < images.size(); ++i)
    targets.push_back({resize_boxes(targets_in[i].boxes.to(torch::kFloat), r.batch.original[i], r.batch.sizes[i]),
                       targets_in[i].labels.to(torch::kLong)});
  // Backbone and RPN head, with gradients.
  r.features = m.backbone->forward(r.batch.tensors);
  auto [cls, reg] = m.rpn_head->forward(r.features);
  for (const auto& c : cls) r.anchors_per_level.push_back(c.size(1) * c.size(2) * c.size(3));
  std::tie(r.objectness, r.deltas) = concat_box_prediction_layers(cls, reg);
  m.run_anchors(r);
  return training_losses_on(m, r, targets, replay, drawn, gen, step, normalizer);
}

TvLosses training_losses_on(TvFasterRCNNImpl& m, const TvInference& r, const std::vector<TvTarget>& targets,
                            const TvSamples* replay, TvSamples* drawn, std::optional<torch::Generator> gen,
                            TrainStep* step, const SampleNormalizer& normalizer) {
  const auto proposals = training_proposals(m.opts, r, int64_t(targets.size()), r.anchors.size(0));
  Draws d{replay, gen, {}};
  TvLosses L;
  rpn_losses(m.opts, r, targets, d, L, step, normalizer);  // the RPN sampler draws first, then the RoI sampler
  roi_losses(m, r, targets, proposals, d, L, step, normalizer);
  if (step)
    step->losses = {{"rpn_obj", L.objectness}, {"rpn_box", L.rpn_box_reg}, {"roi_cls", L.classifier},
                    {"roi_box", L.box_reg}};
  if (drawn) *drawn = d.made;
  return L;
}

void freeze_backbone(TvFasterRCNNImpl& m, int layers) {
  auto& bb = *m.backbone;
  if (bb.resnet) {
    std::vector<std::string> train{"layer4", "layer3", "layer2", "layer1", "conv1"};
    train.resize(size_t(std::clamp(layers, 0, 5)));
    if (layers == 5) train.push_back("bn1");
    for (auto& p : bb.resnet->named_parameters()) {
      bool on = false;
      for (const auto& t : train) on = on || p.key().rfind(t, 0) == 0;
      p.value().set_requires_grad(on);
    }
  } else {
    // MobileNetV3-Large: stages start at features 0, 2, 4, 7, 13 (the blocks
    // that downsample) and 16; the first stage_indices[6 - layers] modules freeze.
    const std::vector<size_t> stage{0, 2, 4, 7, 13, 16};
    const size_t n = bb.mobilenet->features.size();
    const size_t freeze_before = layers <= 0 ? n : stage[size_t(6 - std::clamp(layers, 1, 6))];
    for (size_t i = 0; i < n; ++i)
      for (auto& p : bb.mobilenet->features[i].ptr()->parameters()) p.set_requires_grad(i >= freeze_before);
  }
  // FrozenBatchNorm2d's weight and bias never train (torchvision keeps them buffers).
  for (const auto& mod : m.modules(/*include_self=*/false))
    if (auto* n = mod->as<Norm2d>(); n && n->frozen) {
      n->weight.set_requires_grad(false);
      n->bias.set_requires_grad(false);
    }
}

}  // namespace rcnn::modeling::tv
