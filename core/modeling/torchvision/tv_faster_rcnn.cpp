#include "modeling/torchvision/tv_faster_rcnn.h"

#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "engine/op_cost.h"
#include "modeling/precision.h"
#include "modeling/torchvision/tv_anchors.h"
#include "modeling/torchvision/tv_box_ops.h"
#include "serialize/state_dict.h"

namespace rcnn::modeling::tv {

TvFasterRCNNImpl::TvFasterRCNNImpl(const TvOptions& o) : opts(o) {
  const bool v2 = o.arch == Arch::ResNet50FPNv2;
  backbone = register_module("backbone", BackboneWithFPN(o.arch));
  for (size_t l = 0; l < o.anchor_sizes.size(); ++l) cell_anchors.push_back(base_anchors(o.anchor_sizes[l], o.ratios(l)));
  const int64_t A = cell_anchors[0].size(0);
  for (const auto& c : cell_anchors)
    TORCH_CHECK(c.size(0) == A, "torchvision RPNHead needs the same number of anchors per location on every level");
  auto rpn = std::make_shared<torch::nn::Module>();
  rpn_head = rpn->register_module("head", RPNHead(256, A, v2 ? 2 : 1));
  register_module("rpn", rpn);
  auto roi = std::make_shared<torch::nn::Module>();
  box_head = roi->register_module("box_head", BoxHead(o.arch, 256, o.roi_output_size));
  box_predictor = roi->register_module("box_predictor", BoxPredictor(1024, o.num_classes));
  register_module("roi_heads", roi);
  // Random weights: BatchNorm2d in v2 (its builder always uses it), else
  // FrozenBatchNorm2d, as torchvision builds those around trained weights.
  for (const auto& m : modules(/*include_self=*/false))
    if (auto* n = m->as<Norm2d>()) n->set_frozen(!v2, 1e-5);
  eval();
}

TvInference TvFasterRCNNImpl::infer(const std::vector<torch::Tensor>& images) {
  torch::NoGradGuard ng;
  TvInference r;
  run_transform(r, images);
  run_backbone(r);
  run_anchors(r);
  run_proposals(r);
  run_box_head(r);
  run_postprocess(r);
  return r;
}

void TvFasterRCNNImpl::set_options(const TvOptions& o) {
  TORCH_CHECK(o.arch == opts.arch && o.num_classes == opts.num_classes && o.roi_output_size == opts.roi_output_size,
              "set_options: architecture, classes and RoI size are fixed once the model is built");
  std::vector<torch::Tensor> cells;
  for (size_t l = 0; l < o.anchor_sizes.size(); ++l) cells.push_back(base_anchors(o.anchor_sizes[l], o.ratios(l)));
  for (const auto& c : cells)
    TORCH_CHECK(c.size(0) == cell_anchors[0].size(0), "set_options: the RPN head predicts ", cell_anchors[0].size(0),
                " anchors per location, the new anchor sizes x ratios give ", c.size(0));
  cell_anchors = cells;
  opts = o;
}

void TvFasterRCNNImpl::run_transform(TvInference& r, const std::vector<torch::Tensor>& images) const {
  engine::StageMark mark("transform");
  r.batch = transform_images(images, opts);
}

void TvFasterRCNNImpl::run_backbone(TvInference& r) {
  torch::NoGradGuard ng;
  r.features = backbone->forward(optimized ? r.batch.tensors.contiguous(torch::MemoryFormat::ChannelsLast)
                                           : r.batch.tensors);
  TORCH_CHECK(r.features.size() == cell_anchors.size(), "torchvision model: ", r.features.size(),
              " feature maps but anchor sizes for ", cell_anchors.size());
  engine::StageMark mark("rpn_head");
  auto [cls, reg] = rpn_head->forward(r.features);
  fp32(r.features);  // bf16 inference (engine/precision.h): the stage's outputs back to fp32
  fp32(cls);
  fp32(reg);
  r.anchors_per_level.clear();
  for (const auto& c : cls) r.anchors_per_level.push_back(c.size(1) * c.size(2) * c.size(3));
  std::tie(r.objectness, r.deltas) = concat_box_prediction_layers(cls, reg);
}

void TvFasterRCNNImpl::run_anchors(TvInference& r) const {
  engine::StageMark mark("anchors_decode");
  std::vector<torch::Tensor> per_level;
  for (size_t l = 0; l < r.features.size(); ++l) {
    LevelGrid g{r.features[l].size(2), r.features[l].size(3), r.batch.tensors.size(2) / r.features[l].size(2),
                r.batch.tensors.size(3) / r.features[l].size(3)};
    per_level.push_back(grid_anchors(cell_anchors[l], g));
  }
  r.anchors = torch::cat(per_level);
}

void TvFasterRCNNImpl::run_proposals(TvInference& r, bool keep_candidates) const {
  torch::NoGradGuard ng;
  engine::StageMark mark("anchors_decode");  // decoding, top-k and clipping; the NMS kernel is "nms"
  const int64_t N = r.batch.tensors.size(0);
  std::vector<torch::Tensor> all(size_t(N), r.anchors);
  auto concat = torch::cat(all, 0);
  const int64_t box_sum = concat.size(0);
  auto proposals = decode_boxes(r.deltas.detach().reshape({box_sum, -1}), concat, {1, 1, 1, 1}, default_bbox_clip());
  proposals = proposals.reshape({box_sum, -1, 4}).view({N, -1, 4});
  r.candidates.clear();
  r.proposals = filter_proposals(proposals, r.objectness, r.batch.sizes, r.anchors_per_level, opts, false,
                                 keep_candidates ? &r.candidates : nullptr);
}

void TvFasterRCNNImpl::run_box_head(TvInference& r) {
  run_roi_pool(r);
  run_head(r);
}

void TvFasterRCNNImpl::run_roi_pool(TvInference& r) {
  torch::NoGradGuard ng;
  engine::StageMark mark("roi_align");
  // RoI heads on the FPN levels named '0'-'3' (MultiScaleRoIAlign's
  // featmap_names): every level but 'pool', at most four.
  std::vector<torch::Tensor> pooled(r.features.begin(), r.features.begin() + std::min<size_t>(4, r.features.size() - 1));
  r.pooler = infer_pooler_levels(pooled, r.batch.sizes);
  std::vector<torch::Tensor> boxes;
  for (const auto& p : r.proposals) boxes.push_back(p.boxes);
  r.roi_features = multiscale_roi_align(pooled, boxes, r.pooler, opts);
}

void TvFasterRCNNImpl::run_head(TvInference& r) {
  torch::NoGradGuard ng;
  engine::StageMark mark("box_head");
  auto x = box_head->forward(r.roi_features);
  std::tie(r.class_logits, r.box_regression) = box_predictor->forward(x);
  r.class_logits = fp32(r.class_logits);
  r.box_regression = fp32(r.box_regression);
}

void TvFasterRCNNImpl::run_postprocess(TvInference& r) const {
  torch::NoGradGuard ng;
  engine::StageMark mark("postprocess");
  std::vector<torch::Tensor> boxes;
  for (const auto& p : r.proposals) boxes.push_back(p.boxes);
  r.detections_input = postprocess_detections(r.class_logits, r.box_regression, boxes, r.batch.sizes, opts);
  r.detections = r.detections_input;
  for (size_t i = 0; i < r.detections.size(); ++i)
    r.detections[i].boxes = resize_boxes(r.detections[i].boxes, r.batch.sizes[i], r.batch.original[i]);
}

void TvFasterRCNNImpl::load(const serialize::StateDict& sd, const std::string& what) {
  std::map<std::string, torch::Tensor> want;
  for (const auto& p : named_parameters()) want.emplace(p.key(), p.value());
  for (const auto& b : named_buffers()) want.emplace(b.key(), b.value());
  std::set<std::string> seen;
  // Check everything first, then copy: a failed load changes nothing.
  for (const auto& [k, v] : sd.entries) {
    const auto it = want.find(k);
    if (it == want.end()) {
      const std::string tail = ".num_batches_tracked";
      if (k.size() > tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0 &&
          want.count(k.substr(0, k.size() - tail.size()) + ".running_mean"))
        continue;  // a BatchNorm2d's counter
      throw std::runtime_error(what + ": unexpected key " + k + " (not part of " + opts.preset + ")");
    }
    if (it->second.sizes() != v.sizes()) {
      std::ostringstream os;
      os << what << ": " << k << " has shape " << v.sizes() << ", " << opts.preset << " with " << opts.num_classes
         << " classes expects " << it->second.sizes();
      throw std::runtime_error(os.str());
    }
    seen.insert(k);
  }
  for (const auto& [k, v] : want)
    if (!seen.count(k)) throw std::runtime_error(what + ": missing key " + k);
  torch::NoGradGuard ng;
  for (const auto& [k, v] : sd.entries)
    if (want.count(k)) want[k].copy_(v);
  // BatchNorm2d (a counter in the file) or FrozenBatchNorm2d (none).
  for (const auto& m : named_modules()) {
    if (auto* n = m.value()->as<Norm2d>()) {
      const auto* counter = sd.find(m.key() + ".num_batches_tracked");
      n->num_batches_tracked = counter ? counter->to(torch::kLong).to(n->running_mean.device()).clone() : torch::Tensor();
      n->set_frozen(!counter, opts.frozen_bn_eps);
    }
  }
}

void TvFasterRCNNImpl::optimize_for_inference() {
  if (optimized) return;
  torch::NoGradGuard ng;
  for (const auto& m : modules(/*include_self=*/true)) {
    if (auto* c = m->as<ConvNorm>(); c && c->norm) fold_into_conv(*c->conv, *c->norm);
    if (auto* b = m->as<Bottleneck>()) {
      fold_into_conv(*b->conv1, *b->bn1);
      fold_into_conv(*b->conv2, *b->bn2);
      fold_into_conv(*b->conv3, *b->bn3);
      if (b->downsample)
        fold_into_conv(*b->downsample[0]->as<torch::nn::Conv2d>(), *b->downsample[1]->as<Norm2d>());
    }
    if (auto* r = m->as<ResNet50Body>()) fold_into_conv(*r->conv1, *r->bn1);
  }
  for (const auto& m : modules(true))
    if (auto* c = m->as<torch::nn::Conv2d>()) c->weight.set_data(c->weight.contiguous(torch::MemoryFormat::ChannelsLast));
  if (at::hasMKLDNN() && rpn_head->cls_logits->weight.device().is_cpu()) box_head->use_onednn();
  optimized = true;
}

serialize::StateDict TvFasterRCNNImpl::state_dict() {
  TORCH_CHECK(!optimized, "state_dict(): the model was optimized for inference (BatchNorm folded)");
  serialize::StateDict sd;
  for (const auto& m : named_modules("", /*include_self=*/true)) {
    const std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(false)) sd.entries.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : m.value()->named_buffers(false)) sd.entries.emplace_back(prefix + b.key(), b.value());
    if (auto* n = m.value()->as<Norm2d>(); n && !n->frozen)
      sd.entries.emplace_back(prefix + "num_batches_tracked",
                              n->num_batches_tracked.defined() ? n->num_batches_tracked : torch::zeros({}, torch::kLong));
  }
  return sd;
}

}  // namespace rcnn::modeling::tv
