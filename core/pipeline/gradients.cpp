// The shared half of Detector::gradients (pipeline/gradients.h).
#include "pipeline/gradients.h"

namespace rcnn::pipeline {

using From = GradientTarget::From;

Differentiable differentiable_forward(const GradientTarget& q, const torch::Tensor& input, const BodyFn& body,
                                      const FpnFn& fpn,
                                      const std::function<void(std::vector<torch::Tensor>&)>& relink) {
  Differentiable d;
  // From::Backbone keeps the body in the graph too: its outputs feed each other (c5 is made from c4), and
  // Grad-CAM weights the whole derivative. The input then requires grad only so that the graph exists
  // whatever the parameters' flags; its gradient is not taken.
  const bool graph = q.from != From::Fpn;
  d.input = input.detach().clone().requires_grad_(graph);
  {
    torch::AutoGradMode on(graph);
    d.body = body(d.input);
    d.feats = fpn(d.body);
  }
  if (!graph) {
    for (auto& f : d.feats) f = f.detach().requires_grad_(true);
    torch::AutoGradMode on(true);
    if (relink) relink(d.feats);
  }
  return d;
}

void take_gradients(const torch::Tensor& v, const GradientTarget& q, const Differentiable& d, float offset,
                    Gradients& g) {
  std::vector<torch::Tensor> wrt = d.feats;
  if (q.from != From::Fpn) wrt.insert(wrt.end(), d.body.begin(), d.body.end());
  if (q.from == From::Input) wrt.push_back(d.input);
  const auto grads = torch::autograd::grad({v}, wrt, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                           /*allow_unused=*/true);
  auto grad_at = [&](size_t i) { return grads[i].defined() ? grads[i].detach() : torch::zeros_like(wrt[i]); };
  g.value = v.item<double>();
  const float W = float(d.input.size(3));
  g.input = d.input.detach();
  size_t k = 0;
  for (const auto& f : d.feats) {
    g.feats.push_back(f.detach());
    g.grads.push_back(grad_at(k++));
    g.steps.push_back(W / float(f.size(3)));
  }
  for (const auto& b : d.body) {
    g.body.push_back(b.detach());
    if (q.from != From::Fpn) g.body_grads.push_back(grad_at(k++));
    g.body_steps.push_back(W / float(b.size(3)));
  }
  if (q.from == From::Input) g.input_grad = grad_at(k);
  g.offset = offset;
}

}  // namespace rcnn::pipeline
