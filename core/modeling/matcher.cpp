#include "modeling/matcher.h"

#include "modeling/box_coder.h"
#include "ops/box_iou.h"

namespace rcnn::modeling {

MatchResult Matcher::operator()(const torch::Tensor& anchors, const torch::Tensor& gt_in) const {
  TORCH_CHECK(anchors.dim() == 2 && anchors.size(1) == 4, "Matcher: anchors must be (K, 4), got ", anchors.sizes());
  TORCH_CHECK(gt_in.dim() == 2 && gt_in.size(1) == 5, "Matcher: gt must be (M, 5), got ", gt_in.sizes());
  MatchResult r;
  const int64_t K = anchors.size(0);
  auto gt = gt_in.index({gt_in.select(1, 4) != -1}).to(anchors.scalar_type());
  r.valid_gt = gt;
  auto i8 = anchors.options().dtype(torch::kInt8);
  if (gt.size(0) == 0) {
    r.labels = torch::full({K}, static_cast<int64_t>(kBackground), i8);
    r.max_iou = torch::zeros({K}, anchors.options());
    r.gt_index = torch::full({K}, -1, anchors.options().dtype(torch::kLong));
    r.rescued = torch::zeros({K}, anchors.options().dtype(torch::kBool));
    r.iou = torch::zeros({K, 0}, anchors.options());
    return r;
  }
  auto iou = ops::box_iou(anchors, gt.narrow(1, 0, 4));  // (K, M)
  r.iou = iou;
  auto mx = iou.max(1);
  r.max_iou = std::get<0>(mx);
  r.gt_index = std::get<1>(mx);
  auto bg = torchvision_rules ? r.max_iou < lo : r.max_iou <= lo;
  auto fg = r.max_iou >= hi;
  r.rescued = torch::zeros({K}, anchors.options().dtype(torch::kBool));
  if (allow_low_quality) {
    // For each GT, every anchor reaching that GT's best IoU (> 0) is positive
    // and assigned to it.
    auto best_per_gt = std::get<0>(iou.max(0));  // (M,)
    auto is_best = (iou == best_per_gt.unsqueeze(0)) & (best_per_gt.unsqueeze(0) > 0);
    // An anchor that is best for several GT goes to the one it overlaps most
    // among them (ties: lower index).
    auto masked = torch::where(is_best, iou, torch::full_like(iou, -1.0));
    auto rescue_gt = std::get<1>(masked.max(1));
    r.rescued = is_best.any(1) & ~fg;
    if (!torchvision_rules) r.gt_index = torch::where(r.rescued, rescue_gt, r.gt_index);
    fg = fg | r.rescued;
    bg = bg & ~r.rescued;
  }
  r.labels = torch::full({K}, static_cast<int64_t>(kNeutral), i8);
  r.labels.masked_fill_(bg, static_cast<int64_t>(kBackground));
  r.labels.masked_fill_(fg, static_cast<int64_t>(kForeground));
  return r;
}

torch::Tensor seed_rows(const MatchResult& m) {
  const int64_t K = m.labels.size(0);
  auto opts = m.max_iou.options();
  if (m.valid_gt.size(0) == 0) return torch::full({K, 5}, -1.0, opts);
  auto rows = m.valid_gt.index_select(0, m.gt_index.clamp_min(0)).clone();
  rows.index_put_({m.labels == kBackground}, -1.0);
  rows.index_put_({m.labels == kNeutral}, kSentinel);
  return rows;
}

torch::Tensor matched_boxes(const MatchResult& m) {
  const int64_t K = m.labels.size(0);
  if (m.valid_gt.size(0) == 0) return torch::zeros({K, 4}, m.max_iou.options());
  return m.valid_gt.narrow(1, 0, 4).index_select(0, m.gt_index.clamp_min(0));
}

}  // namespace rcnn::modeling
