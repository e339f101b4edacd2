// The torchvision family's attribution hooks (pipeline/tv_explain.h).
#include "pipeline/tv_explain.h"

#include <algorithm>
#include <stdexcept>

#include "modeling/torchvision/tv_roi_heads.h"
#include "modeling/torchvision/tv_rpn.h"
#include "pipeline/gradients.h"

namespace rcnn::pipeline {

namespace mt = modeling::tv;

Gradients tv_gradients(mt::TvFasterRCNNImpl& m, const mt::TvInference& r, const GradientTarget& q) {
  // Under autograd the layers take their plain paths (no in-place ReLU, no oneDNN inner product).
  const auto d = differentiable_forward(
      q, r.batch.tensors,
      [&](const torch::Tensor& in) {
        const auto x = m.optimized ? in.contiguous(torch::MemoryFormat::ChannelsLast) : in;
        return m.backbone->resnet ? m.backbone->resnet->forward(x) : m.backbone->mobilenet->forward(x);
      },
      [&](const std::vector<torch::Tensor>& c) { return m.backbone->fpn->forward(c); },
      [](std::vector<torch::Tensor>& f) {  // LastLevelMaxPool: 'pool' is made from the last level
        f.back() = torch::max_pool2d(f[f.size() - 2], 1, 2, 0);
      });
  torch::AutoGradMode grad(true);
  Gradients g;
  const auto& feats = d.feats;
  torch::Tensor v;
  if (q.kind == GradientTarget::Kind::Objectness) {
    auto [cls, reg] = m.rpn_head->forward(feats);
    const auto obj = mt::concat_box_prediction_layers(cls, reg).first.flatten();  // (K,) in anchor order
    TORCH_CHECK(q.anchor >= 0 && q.anchor < obj.size(0), "gradients: anchor ", q.anchor, " is not one of the ",
                obj.size(0), " anchors");
    const auto logit = obj[q.anchor];
    g.probability = torch::sigmoid(logit).item<double>();
    v = q.logit ? logit : torch::sigmoid(logit);
  } else {
    // MultiScaleRoIAlign pools the box at the level its size gives, as the head does.
    std::vector<torch::Tensor> pooled(feats.begin(), feats.begin() + std::min<size_t>(4, feats.size() - 1));
    const auto box =
        torch::tensor({q.box.x1, q.box.y1, q.box.x2, q.box.y2}, d.input.options().requires_grad(false)).view({1, 4});
    const auto levels = mt::infer_pooler_levels(pooled, r.batch.sizes);
    const auto x = m.box_head->forward(mt::multiscale_roi_align(pooled, {box}, levels, m.opts));
    const auto [logits, reg] = m.box_predictor->forward(x);
    TORCH_CHECK(q.column >= 0 && q.column < logits.size(1), "gradients: column ", q.column, " is not one of the ",
                logits.size(1), " class scores");
    const auto probs = torch::softmax(logits, -1);
    g.probability = probs[0][q.column].item<double>();
    if (q.kind == GradientTarget::Kind::RoiClass)
      v = (q.logit ? logits : probs)[0][q.column];
    else
      v = reg[0][4 * q.column + std::clamp(q.delta, 0, 3)];  // (R, 4 (C + 1)): label l at 4l
  }
  take_gradients(v, q, d, 0.f, g);  // aligned = False
  return g;
}

std::vector<std::vector<MaskedDetection>> tv_detect_masked(mt::TvFasterRCNNImpl& m, const mt::TvInference& r,
                                                           const torch::Tensor& masks, bool mean_fill) {
  torch::NoGradGuard ng;
  const auto& b = r.batch;
  const auto opt = b.tensors.options();
  const auto mean = torch::tensor(m.opts.image_mean, torch::kFloat).view({1, 3, 1, 1}).to(opt);
  const auto sd = torch::tensor(m.opts.image_std, torch::kFloat).view({1, 3, 1, 1}).to(opt);
  const auto [rh, rw] = b.sizes[0];
  const auto raw = (b.tensors * sd + mean).narrow(2, 0, rh).narrow(3, 0, rw);  // the resized image in [0, 1]
  const auto mk = masks.to(opt).narrow(2, 0, rh).narrow(3, 0, rw);
  const auto fill = mean_fill ? raw.mean({2, 3}, /*keepdim=*/true) : torch::zeros_like(mean);
  const int64_t N = masks.size(0);
  mt::TvInference t;
  t.batch.tensors = torch::zeros({N, 3, b.tensors.size(2), b.tensors.size(3)}, opt);  // zero padding, as the batch
  t.batch.tensors.narrow(2, 0, rh).narrow(3, 0, rw).copy_((raw * mk + fill * (1 - mk) - mean) / sd);
  t.batch.sizes.assign(size_t(N), b.sizes[0]);
  t.batch.original.assign(size_t(N), b.original[0]);
  m.run_backbone(t);
  m.run_anchors(t);
  m.run_proposals(t);
  m.run_box_head(t);
  m.run_postprocess(t);
  const auto probs = torch::softmax(t.class_logits, -1).to(torch::kCPU, torch::kFloat).contiguous();
  std::vector<std::vector<MaskedDetection>> out(static_cast<size_t>(N));
  int64_t from = 0;
  for (int64_t i = 0; i < N; ++i) {
    const auto& d = t.detections_input[size_t(i)];
    const auto bx = d.boxes.to(torch::kCPU, torch::kFloat).contiguous();
    const auto sc = d.scores.to(torch::kCPU, torch::kFloat).contiguous();
    const auto lb = d.labels.cpu(), pi = d.proposal.cpu();
    for (int64_t j = 0; j < bx.size(0); ++j) {
      MaskedDetection md;
      const float* p = bx.data_ptr<float>() + 4 * j;
      md.box = {p[0], p[1], p[2], p[3]};
      md.label = int(lb[j].item<int64_t>()) - 1;  // the model's label l is class l - 1 (background first)
      md.score = sc.data_ptr<float>()[j];
      const float* row = probs.data_ptr<float>() + (from + pi[j].item<int64_t>()) * probs.size(1);
      md.probs.assign(row, row + probs.size(1));
      out[size_t(i)].push_back(std::move(md));
    }
    from += t.proposals[size_t(i)].boxes.size(0);
  }
  return out;
}

}  // namespace rcnn::pipeline
