#pragma once
// Box <-> delta encoding (reference: rcnn_get_deltas_from_anchors /
// rcnn_apply_deltas_to_anchors).
//
// Shape shorthand: K boxes; rows (x1, y1, x2, y2); deltas (dx, dy, dw, dh).
#include <torch/torch.h>

#include <array>
#include <cmath>

namespace rcnn::modeling {

// Marks "no target" rows: background deltas and the boxes decoded from them.
constexpr double kSentinel = -1e8;

struct BoxCoder {
  // Reference: unweighted deltas. torchvision's RoI heads use (10, 10, 5, 5).
  std::array<double, 4> weights{1.0, 1.0, 1.0, 1.0};
  // Seed clamps dw, dh at log(224 / 8) before exp() so a wild prediction
  // cannot overflow.
  double scale_clamp = std::log(224.0 / 8.0);

  // anchors (K, 4), gt (K, 4 or 5) -> (K, 4). Rows whose GT is background
  // (x1 + y1 + x2 + y2 == -4, the matcher's -1 row) get kSentinel.
  torch::Tensor encode(const torch::Tensor& anchors, const torch::Tensor& gt) const;
  // deltas (K, 4), anchors (K, 4) -> boxes (K, 4); rows with dx == kSentinel
  // decode to kSentinel.
  torch::Tensor decode(const torch::Tensor& deltas, const torch::Tensor& anchors) const;
};

// Clip boxes (K, 4) to [0, width] x [0, height].
torch::Tensor clip_boxes(const torch::Tensor& boxes, double width, double height);

}  // namespace rcnn::modeling
