// The seed family's attribution hooks (pipeline/seed_explain.h).
#include "pipeline/seed_explain.h"

#include <algorithm>
#include <stdexcept>

#include "modeling/roi_heads.h"
#include "pipeline/gradients.h"

namespace rcnn::pipeline {

Gradients seed_gradients(modeling::FasterRCNNImpl& model, const DetectorConfig& cfg, const torch::Tensor& input,
                         const GradientTarget& q) {
  const auto d = differentiable_forward(
      q, input, [&](const torch::Tensor& x) { return model.backbone->body->forward(x); },
      [&](const std::vector<torch::Tensor>& c) { return model.backbone->fpn->forward(c); });
  torch::AutoGradMode grad(true);
  Gradients g;
  torch::Tensor v;
  if (q.kind == GradientTarget::Kind::Objectness) {
    std::vector<torch::Tensor> per_level;
    for (const auto& o : model.rpn_head->forward(d.feats).first) per_level.push_back(o[0]);
    const auto all = torch::cat(per_level);
    TORCH_CHECK(q.anchor >= 0 && q.anchor < all.size(0), "gradients: anchor ", q.anchor, " is not one of the ",
                all.size(0), " anchors");
    const auto logit = all[q.anchor];
    g.probability = torch::sigmoid(logit).item<double>();
    v = q.logit ? logit : torch::sigmoid(logit);
  } else {
    modeling::RPNState s;
    s.feats = d.feats;
    const int L = int(d.feats.size());
    auto rois =
        torch::tensor({0.f, q.box.x1, q.box.y1, q.box.x2, q.box.y2}, input.options().requires_grad(false)).view({1, 5});
    auto lv = torch::full({1}, std::clamp(q.level, 0, L - 1), torch::dtype(torch::kLong).device(input.device()));
    auto ss = model.second_stage_on(s, rois, lv);
    TORCH_CHECK(q.column >= 0 && q.column < ss.probs.size(1), "gradients: column ", q.column, " is not one of the ",
                ss.probs.size(1), " class scores");
    g.probability = ss.probs[0][q.column].item<double>();
    if (q.kind == GradientTarget::Kind::RoiClass) {
      v = (q.logit ? ss.logits : ss.probs)[0][q.column];
    } else {
      if (!ss.box_deltas.defined() || q.column < 1)
        throw std::invalid_argument(
            "explain: this model's RoI head has no box regression (roi.box_regression is off, as in the seed)");
      v = ss.box_deltas[0][4 * (q.column - 1) + std::clamp(q.delta, 0, 3)];  // (P, 4C): class c at 4c
    }
  }
  take_gradients(v, q, d, cfg.roi.aligned ? 0.5f : 0.f, g);
  return g;
}

std::vector<std::vector<MaskedDetection>> seed_detect_masked(modeling::FasterRCNNImpl& model, const DetectorConfig& cfg,
                                                             const torch::Tensor& input, const torch::Tensor& masks,
                                                             bool mean_fill) {
  torch::NoGradGuard ng;
  const auto opt = input.options();
  const auto mean = torch::tensor(cfg.input.mean).view({1, 3, 1, 1}).to(opt);
  const auto sd = torch::tensor(cfg.input.std).view({1, 3, 1, 1}).to(opt);
  const auto raw = input * sd + mean;  // back to [0, 1]
  const auto m = masks.to(opt);
  // Where a mask is 0: the image's mean colour (fill = "mean"), or black (the paper's product).
  const auto fill = mean_fill ? raw.mean({2, 3}, /*keepdim=*/true) : torch::zeros_like(mean);
  const auto x = (raw * m + fill * (1 - m) - mean) / sd;
  const int S = cfg.input.size;
  auto s = model.run_rpn(x);
  const int64_t N = x.size(0);
  std::vector<modeling::ImageProposals> props;
  std::vector<torch::Tensor> rois, levels;
  for (int64_t i = 0; i < N; ++i) {
    props.push_back(model.propose(s, i, false));
    const auto& b = props.back().boxes;
    rois.push_back(torch::cat({torch::full({b.size(0), 1}, double(i), b.options()), b}, 1));
    levels.push_back(cfg.roi.level_assignment == "size" ? model.level_by_size(b) : props.back().level);
  }
  const auto ss = model.second_stage_on(s, torch::cat(rois), torch::cat(levels));
  std::vector<std::vector<MaskedDetection>> out(static_cast<size_t>(N));
  for (int64_t i = 0, from = 0; i < N; ++i) {
    const int64_t P = props[size_t(i)].boxes.size(0);
    const auto probs = ss.probs.narrow(0, from, P);
    const auto d = modeling::postprocess_detections(
        props[size_t(i)].boxes, probs, ss.box_deltas.defined() ? ss.box_deltas.narrow(0, from, P) : ss.box_deltas,
        cfg.roi, S, S);
    from += P;
    const auto bx = d.boxes.to(torch::kCPU, torch::kFloat).contiguous();
    const auto pr = probs.to(torch::kCPU, torch::kFloat).contiguous();
    const auto sc = d.scores.cpu(), cl = d.classes.cpu(), pi = d.proposal.cpu();
    for (int64_t j = 0; j < bx.size(0); ++j) {
      MaskedDetection m;
      const float* b = bx.data_ptr<float>() + 4 * j;
      m.box = {b[0], b[1], b[2], b[3]};
      m.label = int(cl[j].item<int64_t>());
      m.score = sc[j].item<float>();
      const float* row = pr.data_ptr<float>() + pi[j].item<int64_t>() * pr.size(1);
      m.probs.assign(row, row + pr.size(1));
      out[size_t(i)].push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace rcnn::pipeline
