// The seed family's attribution hooks (pipeline/seed_explain.h).
#include "pipeline/seed_explain.h"

#include <algorithm>

#include "modeling/roi_heads.h"

namespace rcnn::pipeline {

RoiGradients seed_roi_gradients(modeling::FasterRCNNImpl& model, const DetectorConfig& cfg, const torch::Tensor& input,
                                const api::Box& box, int level, int target, bool logit) {
  torch::AutoGradMode grad(true);
  RoiGradients g;
  g.input = input.detach().clone().requires_grad_(true);
  auto s = model.run_rpn(g.input);
  for (auto& f : s.feats) f.retain_grad();
  const int L = int(s.feats.size());
  auto rois = torch::tensor({0.f, box.x1, box.y1, box.x2, box.y2}, g.input.options().requires_grad(false)).view({1, 5});
  auto lv = torch::full({1}, std::clamp(level, 0, L - 1), torch::dtype(torch::kLong).device(input.device()));
  auto ss = model.second_stage_on(s, rois, lv);
  TORCH_CHECK(target >= 0 && target < ss.probs.size(1), "roi_gradients: target ", target, " is not a column of the ",
              ss.probs.size(1), " class probabilities");
  auto v = (logit ? ss.logits : ss.probs).select(0, 0).select(0, target);
  v.backward();
  g.value = v.item<double>();
  g.probability = ss.probs[0][target].item<double>();
  g.input_grad = g.input.grad().detach();
  g.input = g.input.detach();
  for (int l = 0; l < L; ++l) {
    g.feats.push_back(s.feats[size_t(l)].detach());
    const auto gr = s.feats[size_t(l)].grad();
    g.grads.push_back(gr.defined() ? gr.detach() : torch::zeros_like(g.feats.back()));
    g.steps.push_back(float(model.backbone->strides[size_t(l)]));
  }
  g.offset = cfg.roi.aligned ? 0.5f : 0.f;
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
