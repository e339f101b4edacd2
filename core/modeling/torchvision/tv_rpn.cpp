#include "modeling/torchvision/tv_rpn.h"

#include "modeling/torchvision/tv_box_ops.h"

namespace rcnn::modeling::tv {

RPNHeadImpl::RPNHeadImpl(int64_t c, int64_t a, int depth) {
  for (int i = 0; i < depth; ++i) conv->push_back(std::to_string(i), ConvNorm(c, c, 3, 1, false, Act::ReLU));
  register_module("conv", conv);
  cls_logits = register_module("cls_logits", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, a, 1)));
  bbox_pred = register_module("bbox_pred", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, 4 * a, 1)));
}

std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> RPNHeadImpl::forward(
    const std::vector<torch::Tensor>& x) {
  std::vector<torch::Tensor> logits, reg;
  for (const auto& f : x) {
    auto t = conv->forward(f);
    logits.push_back(cls_logits->forward(t));
    reg.push_back(bbox_pred->forward(t));
  }
  return {logits, reg};
}

namespace {
torch::Tensor permute_and_flatten(const torch::Tensor& layer, int64_t N, int64_t C, int64_t H, int64_t W) {
  return layer.view({N, -1, C, H, W}).permute({0, 3, 4, 1, 2}).reshape({N, -1, C});
}
}  // namespace

std::pair<torch::Tensor, torch::Tensor> concat_box_prediction_layers(const std::vector<torch::Tensor>& cls,
                                                                     const std::vector<torch::Tensor>& reg) {
  std::vector<torch::Tensor> c, r;
  for (size_t l = 0; l < cls.size(); ++l) {
    const int64_t N = cls[l].size(0), AxC = cls[l].size(1), H = cls[l].size(2), W = cls[l].size(3);
    const int64_t A = reg[l].size(1) / 4, C = AxC / A;
    c.push_back(permute_and_flatten(cls[l], N, C, H, W));
    r.push_back(permute_and_flatten(reg[l], N, 4, H, W));
  }
  return {torch::cat(c, 1).flatten(0, -2), torch::cat(r, 1).reshape({-1, 4})};
}

std::vector<Proposals> filter_proposals(const torch::Tensor& proposals_in, const torch::Tensor& objectness_in,
                                        const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                                        const std::vector<int64_t>& per_level, const TvOptions& o, bool training,
                                        std::vector<ProposalCandidates>* candidates) {
  const int64_t N = proposals_in.size(0);
  auto objectness = objectness_in.detach().reshape({N, -1});
  std::vector<torch::Tensor> lv;
  for (size_t i = 0; i < per_level.size(); ++i)
    lv.push_back(torch::full({per_level[i]}, int64_t(i), torch::TensorOptions().dtype(torch::kLong)));
  auto levels = torch::cat(lv, 0).reshape({1, -1}).expand_as(objectness);
  // _get_top_n_idx: top-k per level
  const int64_t pre = training ? o.rpn_pre_nms_top_n_train : o.rpn_pre_nms_top_n_test;
  std::vector<torch::Tensor> r;
  int64_t offset = 0;
  for (const auto& ob : objectness.split_with_sizes(per_level, 1)) {
    const int64_t k = std::min(pre, ob.size(1));
    r.push_back(std::get<1>(ob.topk(k, 1)) + offset);
    offset += ob.size(1);
  }
  auto top_n_idx = torch::cat(r, 1);
  auto batch_idx = torch::arange(N).unsqueeze(1);
  objectness = objectness.index({batch_idx, top_n_idx});
  levels = levels.index({batch_idx, top_n_idx});
  auto proposals = proposals_in.index({batch_idx, top_n_idx});
  auto prob = torch::sigmoid(objectness);
  const int64_t post = training ? o.rpn_post_nms_top_n_train : o.rpn_post_nms_top_n_test;
  std::vector<Proposals> out;
  for (int64_t i = 0; i < N; ++i) {
    auto boxes = clip_boxes_to_image(proposals[i], image_sizes[size_t(i)].first, image_sizes[size_t(i)].second);
    auto scores = prob[i];
    auto lvl = levels[i];
    ProposalCandidates c;
    if (candidates) c = {top_n_idx[i], boxes, scores, lvl, torch::ones({boxes.size(0)}, torch::kBool),
                         torch::zeros({boxes.size(0)}, torch::kBool), {}, post};
    auto idx = torch::arange(boxes.size(0));  // candidate index of each survivor
    auto keep = remove_small_boxes(boxes, 1e-3);
    boxes = boxes.index({keep}), scores = scores.index({keep}), lvl = lvl.index({keep}), idx = idx.index({keep});
    if (candidates) c.small.index_put_({idx}, false);
    keep = torch::where(scores >= o.rpn_score_thresh)[0];
    if (candidates) c.low.index_put_({idx}, true), c.low.index_put_({idx.index({keep})}, false);
    boxes = boxes.index({keep}), scores = scores.index({keep}), lvl = lvl.index({keep}), idx = idx.index({keep});
    keep = batched_nms(boxes, scores, lvl, o.rpn_nms_thresh);
    if (candidates) {
      c.nms_keep = idx.index({keep});
      candidates->push_back(c);
    }
    keep = keep.slice(0, 0, post);
    out.push_back({boxes.index({keep}), scores.index({keep}), lvl.index({keep})});
  }
  return out;
}

}  // namespace rcnn::modeling::tv
