#include "modeling/faster_rcnn.h"

#include "config/config_fields.h"
#include "engine/op_cost.h"
#include "modeling/matcher.h"
#include "modeling/precision.h"
#include "modeling/sampling.h"

namespace rcnn::modeling {
using torch::indexing::Slice;

FasterRCNNImpl::FasterRCNNImpl(const DetectorConfig& c) : cfg(c), anchor_gen(c.anchors) {
  cfg.validate();
  rpn_coder.scale_clamp = cfg.rpn.box_scale_clamp;
  backbone = register_module("backbone", BackboneWithFPN(cfg.backbone));
  rpn_head = register_module(
      "rpn_head", RPNHead(cfg.backbone.fpn_channels, cfg.rpn.stem_channels, anchor_gen.num_anchors_per_location()));
  roi_head = register_module("roi_head", ROIHead(cfg.backbone.fpn_channels, cfg.roi, cfg.num_classes));
}

ProposalParams FasterRCNNImpl::proposal_params(bool training) const {
  ProposalParams p;
  p.pre_nms_topk = training ? cfg.rpn.pre_nms_topk_train : cfg.rpn.pre_nms_topk_test;
  p.post_nms_topk = training ? cfg.rpn.post_nms_topk_train : cfg.rpn.post_nms_topk_test;
  p.nms_thresh = cfg.rpn.nms_thresh;
  p.min_box_size = cfg.rpn.min_box_size;
  return p;
}

Matcher FasterRCNNImpl::rpn_matcher() const {
  return Matcher{cfg.rpn.iou_lo, cfg.rpn.iou_hi, cfg.rpn.allow_low_quality_matches};
}

RPNState FasterRCNNImpl::run_rpn(const torch::Tensor& images, std::vector<torch::Tensor>* body) {
  RPNState s;
  s.feats = backbone->forward(images, body);
  {
    engine::StageMark mark("rpn_head");
    std::tie(s.objectness, s.deltas) = rpn_head->forward(s.feats);
    fp32(s.feats);  // bf16 inference (engine/precision.h): the stage's outputs back to fp32
    fp32(s.objectness);
    fp32(s.deltas);
  }
  engine::StageMark mark("anchors_decode");
  for (size_t l = 0; l < s.feats.size(); ++l)
    s.anchors.push_back(
        anchor_gen.level_anchors(s.feats[l].size(2), s.feats[l].size(3), backbone->strides[l], s.feats[l].options()));
  return s;
}

ImageProposals FasterRCNNImpl::propose(const RPNState& s, int64_t i, bool training) const {
  torch::NoGradGuard ng;
  engine::StageMark mark("anchors_decode");  // decoding, top-k and clipping; the NMS kernel is "nms"
  ImageProposals r;
  const double size = cfg.input.size;
  std::vector<torch::Tensor> b, sc, lv;
  for (size_t l = 0; l < s.feats.size(); ++l) {
    auto lp = propose_level(s.objectness[l][i].detach(), s.deltas[l][i].detach(), s.anchors[l],
                            proposal_params(training), size, size, rpn_coder);
    b.push_back(lp.boxes.index_select(0, lp.keep));
    sc.push_back(lp.scores.index_select(0, lp.keep));
    lv.push_back(torch::full({lp.keep.numel()}, static_cast<int64_t>(l),
                             torch::TensorOptions().dtype(torch::kLong).device(lp.keep.device())));
    r.levels.push_back(std::move(lp));
  }
  r.boxes = torch::cat(b);
  r.scores = torch::cat(sc);
  r.level = torch::cat(lv);
  return r;
}

SecondStage FasterRCNNImpl::run_second_stage(const RPNState& s, int64_t i, const ImageProposals& props) {
  const int64_t P = props.boxes.size(0);
  return second_stage_on(
      s, torch::cat({torch::full({P, 1}, static_cast<double>(i), props.boxes.options()), props.boxes}, 1),
      cfg.roi.level_assignment == "size" ? level_by_size(props.boxes) : props.level);
}

SecondStage FasterRCNNImpl::second_stage_on(const RPNState& s, const torch::Tensor& rois, const torch::Tensor& levels) {
  SecondStage o;
  o.rois = rois;
  o.roi_levels = levels;
  ops::RoIAlignParams rp{cfg.roi.roi_size, cfg.roi.roi_size, 1.0, cfg.roi.sampling_ratio, cfg.roi.aligned};
  {
    engine::StageMark mark("roi_align");
    o.pooled = multilevel_roi_align(s.feats, o.rois, o.roi_levels, backbone->strides, rp);
  }
  engine::StageMark mark("box_head");
  auto out = roi_head->forward(o.pooled);
  o.logits = fp32(out.first);
  o.probs = torch::softmax(o.logits, 1);
  o.box_deltas = fp32(out.second);
  return o;
}

std::vector<Detections> FasterRCNNImpl::detect(const torch::Tensor& images) {
  auto s = run_rpn(images);
  const int64_t N = images.size(0);
  std::vector<ImageProposals> props;
  std::vector<torch::Tensor> rois, levels;
  for (int64_t i = 0; i < N; ++i) {
    props.push_back(propose(s, i, false));
    const auto& b = props.back().boxes;
    rois.push_back(torch::cat({torch::full({b.size(0), 1}, static_cast<double>(i), b.options()), b}, 1));
    levels.push_back(cfg.roi.level_assignment == "size" ? level_by_size(b) : props.back().level);
  }
  // One RoIAlign and one head call for the whole batch's RoIs (each RoI's
  // result does not depend on its neighbours), then each image's share.
  auto ss = second_stage_on(s, torch::cat(rois), torch::cat(levels));
  std::vector<Detections> out;
  engine::StageMark mark("postprocess");
  for (int64_t i = 0, from = 0; i < N; ++i) {
    const int64_t P = props[size_t(i)].boxes.size(0);
    out.push_back(postprocess_detections(props[size_t(i)].boxes, ss.probs.narrow(0, from, P),
                                         ss.box_deltas.defined() ? ss.box_deltas.narrow(0, from, P) : ss.box_deltas,
                                         cfg.roi, cfg.input.size, cfg.input.size));
    from += P;
  }
  return out;
}

std::map<std::string, torch::Tensor> FasterRCNNImpl::forward_train(const torch::Tensor& images, const torch::Tensor& gt,
                                                                   std::optional<torch::Generator> gen,
                                                                   const SampleNormalizer& normalizer) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "forward_train: images must be (N, 3, S, S), got ",
              images.sizes());
  TORCH_CHECK(gt.dim() == 3 && gt.size(0) == images.size(0) && gt.size(2) == 5,
              "forward_train: gt must be (N, M, 5), got ", gt.sizes());
  return train_step(run_rpn(images), gt.to(images.scalar_type()), gen, normalizer).losses;
}

TrainStep FasterRCNNImpl::train_step(const RPNState& s, const torch::Tensor& gt, std::optional<torch::Generator> gen,
                                     const SampleNormalizer& normalizer) {
  const int64_t N = s.feats.at(0).size(0);
  TORCH_CHECK(gt.dim() == 3 && gt.size(0) == N && gt.size(2) == 5, "train_step: gt must be (N, M, 5), got ",
              gt.sizes());
  auto gtf = gt.to(s.feats[0].scalar_type());
  TrainStep t;
  t.rpn = rpn_losses(torch::cat(s.objectness, 1), torch::cat(s.deltas, 1), torch::cat(s.anchors, 0), gtf,
                     rpn_matcher(), cfg.rpn.batch_size_per_image, cfg.rpn.fg_fraction, rpn_coder, gen, normalizer);
  t.losses["rpn_obj"] = t.rpn.objectness;
  t.losses["rpn_box"] = t.rpn.box * cfg.rpn.box_loss_weight;

  // Second stage on detached proposals (approximate joint training, as in
  // torchvision and Detectron2).
  Matcher m{cfg.roi.iou_lo, cfg.roi.iou_hi, false};
  std::vector<torch::Tensor> rois, levels, labels, classes, targets, from_gt, gt_index, max_iou;
  for (int64_t i = 0; i < N; ++i) {
    auto props = propose(s, i, true);
    auto boxes = props.boxes;
    auto lv = props.level;
    auto is_gt = torch::zeros({boxes.size(0)}, boxes.options().dtype(torch::kBool));
    if (cfg.roi.add_gt_to_proposals) {
      auto g = gtf[i].index({gtf[i].select(1, 4) != -1});
      boxes = torch::cat({boxes, g.narrow(1, 0, 4)});
      lv = torch::cat({lv, level_by_size(g.narrow(1, 0, 4))});
      is_gt = torch::cat({is_gt, torch::ones({g.size(0)}, is_gt.options())});
    }
    if (cfg.roi.level_assignment == "size") lv = level_by_size(boxes);
    auto mr = m(boxes, gtf[i]);
    labels.push_back(mr.labels);
    targets.push_back(matched_boxes(mr));
    gt_index.push_back(mr.gt_index);
    max_iou.push_back(mr.max_iou);
    from_gt.push_back(is_gt);
    // Class target per RoI: matched GT class + 1 for foreground, 0 (background) otherwise.
    auto gt_cls = mr.valid_gt.size(0) > 0 ? mr.valid_gt.select(1, 4).index_select(0, mr.gt_index.clamp_min(0))
                                          : torch::zeros({boxes.size(0)}, boxes.options());
    classes.push_back(torch::where(mr.labels == kForeground, gt_cls + 1, torch::zeros_like(gt_cls)).to(torch::kLong));
    rois.push_back(torch::cat({torch::full({boxes.size(0), 1}, static_cast<double>(i), boxes.options()), boxes}, 1));
    levels.push_back(lv);
  }
  auto all_rois = torch::cat(rois), all_levels = torch::cat(levels), all_labels = torch::cat(labels);
  auto all_classes = torch::cat(classes);
  auto smp = subsample_labels(all_labels, cfg.roi.batch_size_per_image * N, cfg.roi.fg_fraction, gen);
  auto idx = torch::cat({smp.fg, smp.bg});
  auto sr = all_rois.index_select(0, idx);
  ops::RoIAlignParams rp{cfg.roi.roi_size, cfg.roi.roi_size, 1.0, cfg.roi.sampling_ratio, cfg.roi.aligned};
  auto pooled = multilevel_roi_align(s.feats, sr, all_levels.index_select(0, idx), backbone->strides, rp);
  auto out = roi_head->forward(pooled);
  auto target = all_classes.index_select(0, idx);

  auto& R = t.roi;
  R.boxes = all_rois.narrow(1, 1, 4);
  R.image = all_rois.select(1, 0).to(torch::kLong);
  R.from_gt = torch::cat(from_gt);
  R.levels = all_levels;
  R.labels = all_labels;
  R.gt_index = torch::cat(gt_index);
  R.max_iou = torch::cat(max_iou);
  R.class_target = all_classes;
  R.fg = smp.fg;
  R.bg = smp.bg;
  R.count = idx.numel();
  R.probs = torch::softmax(out.first.detach(), 1);
  // Called on every rank, samples or not (the normalizer may be a collective).
  const double divisor = sample_divisor(normalizer, idx.numel());
  if (idx.numel() > 0) {
    auto ce = torch::cross_entropy_loss(out.first, target, {}, at::Reduction::None);
    R.cls_terms = ce.detach();
    t.losses["roi_cls"] = ce.sum() / divisor;  // the mean over the samples (of every rank)
  } else {
    R.cls_terms = torch::zeros({0}, out.first.options());
    t.losses["roi_cls"] = (out.first.sum() * 0.0).abs();
  }
  R.box_targets = torch::zeros({0, 4}, out.first.options());
  R.box_pred = R.box_targets;
  R.box_terms = torch::zeros({0}, out.first.options());
  if (out.second.defined() && smp.fg.numel() > 0) {
    const int64_t F = smp.fg.numel();
    auto fg_cls = target.narrow(0, 0, F) - 1;
    auto pred = out.second.narrow(0, 0, F).view({F, -1, 4});
    pred = pred.index({torch::arange(F, fg_cls.options()), fg_cls});
    auto tgt = roi_box_coder(cfg.roi.box_scale_clamp)
                   .encode(sr.narrow(0, 0, F).narrow(1, 1, 4), torch::cat(targets).index_select(0, smp.fg));
    auto sl1 = torch::smooth_l1_loss(pred, tgt, at::Reduction::None, 1.0 / 9.0);
    t.losses["roi_box"] = sl1.sum() / divisor * cfg.roi.box_loss_weight;
    R.box_targets = tgt.detach();
    R.box_pred = pred.detach();
    R.box_terms = sl1.detach().sum(1);
  } else {
    t.losses["roi_box"] = (out.first.sum() * 0.0).abs();
  }
  return t;
}

bool FasterRCNNImpl::compatible_with(const DetectorConfig& o) const {
  return same_weight_shapes(cfg, o);  // the field table's `shape` flags
}

torch::Tensor FasterRCNNImpl::level_by_size(const torch::Tensor& boxes) const {
  return assign_levels_by_size(boxes, cfg.roi.canonical_size, cfg.roi.canonical_level,
                               static_cast<int64_t>(backbone->strides.size()));
}

void FasterRCNNImpl::update_config(const DetectorConfig& c) {
  TORCH_CHECK(compatible_with(c), "update_config: the new config changes weight shapes; build a new model");
  c.validate();
  cfg = c;
  anchor_gen = AnchorGenerator(c.anchors);
  rpn_coder.scale_clamp = c.rpn.box_scale_clamp;
}

}  // namespace rcnn::modeling
