#pragma once
// What both families' Detector::gradients share (pipeline/seed_explain.cpp,
// pipeline/tv_explain.cpp): the input, the backbone body and the FPN run with
// autograd only from the depth GradientTarget::from asks for, then the
// target's gradients with respect to exactly those tensors
// (torch::autograd::grad: nothing accumulates in the model's parameters).
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "pipeline/detector.h"

namespace rcnn::pipeline {

struct Differentiable {
  torch::Tensor input;                     // (1, 3, h, w), normalised
  std::vector<torch::Tensor> body, feats;  // the body's outputs and the FPN levels, finest first
};

using BodyFn = std::function<std::vector<torch::Tensor>(const torch::Tensor&)>;
using FpnFn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>;
// From::Fpn: the levels become leaves; `relink` (optional) then recomputes a level made from another
// (torchvision's 'pool' from the last), so its derivative reaches the level it is made from.
Differentiable differentiable_forward(const GradientTarget& q, const torch::Tensor& input, const BodyFn& body,
                                      const FpnFn& fpn,
                                      const std::function<void(std::vector<torch::Tensor>&)>& relink = {});

// The gradients of the scalar v: g.value, the levels' activations and gradients (steps: input width / level
// width), the body's (unless From::Fpn) and the input's (From::Input). g.probability is the caller's.
void take_gradients(const torch::Tensor& v, const GradientTarget& q, const Differentiable& d, float offset,
                    Gradients& g);

}  // namespace rcnn::pipeline
