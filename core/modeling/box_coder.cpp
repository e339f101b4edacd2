#include "modeling/box_coder.h"

namespace rcnn::modeling {

torch::Tensor BoxCoder::encode(const torch::Tensor& anchors, const torch::Tensor& gt) const {
  TORCH_CHECK(anchors.dim() == 2 && anchors.size(1) == 4, "BoxCoder::encode: anchors must be (K, 4), got ",
              anchors.sizes());
  TORCH_CHECK(gt.dim() == 2 && gt.size(0) == anchors.size(0) && gt.size(1) >= 4,
              "BoxCoder::encode: gt must be (K, 4+) with K = ", anchors.size(0), ", got ", gt.sizes());
  auto g = gt.narrow(1, 0, 4);
  auto px = (anchors.select(1, 0) + anchors.select(1, 2)) / 2;
  auto py = (anchors.select(1, 1) + anchors.select(1, 3)) / 2;
  auto pw = anchors.select(1, 2) - anchors.select(1, 0);
  auto ph = anchors.select(1, 3) - anchors.select(1, 1);
  auto bx = (g.select(1, 0) + g.select(1, 2)) / 2;
  auto by = (g.select(1, 1) + g.select(1, 3)) / 2;
  auto bw = g.select(1, 2) - g.select(1, 0);
  auto bh = g.select(1, 3) - g.select(1, 1);
  auto d = torch::stack({weights[0] * (bx - px) / pw, weights[1] * (by - py) / ph, weights[2] * torch::log(bw / pw),
                         weights[3] * torch::log(bh / ph)},
                        1);
  auto bg = (g.sum(1) == -4).unsqueeze(1);
  return torch::where(bg, torch::full_like(d, kSentinel), d);
}

torch::Tensor BoxCoder::decode(const torch::Tensor& deltas, const torch::Tensor& anchors) const {
  TORCH_CHECK(deltas.dim() == 2 && deltas.size(1) == 4, "BoxCoder::decode: deltas must be (K, 4), got ",
              deltas.sizes());
  TORCH_CHECK(anchors.sizes() == deltas.sizes(), "BoxCoder::decode: anchors must match deltas ", deltas.sizes(),
              ", got ", anchors.sizes());
  auto dx = deltas.select(1, 0) / weights[0];
  auto dy = deltas.select(1, 1) / weights[1];
  auto dw = (deltas.select(1, 2) / weights[2]).clamp_max(scale_clamp);
  auto dh = (deltas.select(1, 3) / weights[3]).clamp_max(scale_clamp);
  auto px = (anchors.select(1, 0) + anchors.select(1, 2)) / 2;
  auto py = (anchors.select(1, 1) + anchors.select(1, 3)) / 2;
  auto pw = anchors.select(1, 2) - anchors.select(1, 0);
  auto ph = anchors.select(1, 3) - anchors.select(1, 1);
  auto bx = px + pw * dx;
  auto by = py + ph * dy;
  auto bw = pw * dw.exp();
  auto bh = ph * dh.exp();
  auto out = torch::stack({bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2}, 1);
  auto bg = (deltas.select(1, 0) == kSentinel).unsqueeze(1);
  return torch::where(bg, torch::full_like(out, kSentinel), out);
}

torch::Tensor clip_boxes(const torch::Tensor& boxes, double width, double height) {
  auto x = boxes.index({torch::indexing::Slice(), torch::tensor({0, 2})}).clamp(0, width);
  auto y = boxes.index({torch::indexing::Slice(), torch::tensor({1, 3})}).clamp(0, height);
  return torch::stack({x.select(1, 0), y.select(1, 0), x.select(1, 1), y.select(1, 1)}, 1);
}

}  // namespace rcnn::modeling
