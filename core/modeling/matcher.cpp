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
  if (gt.size(0) == 0) {
    r.matched = torch::full({K, 5}, -1.0, anchors.options());
    r.max_iou = torch::zeros({K}, anchors.options());
    r.gt_index = torch::full({K}, -1, anchors.options().dtype(torch::kLong));
    r.iou = torch::zeros({K, 0}, anchors.options());
    return r;
  }
  auto iou = ops::box_iou(anchors, gt.narrow(1, 0, 4));  // (K, M)
  r.iou = iou;
  auto mx = iou.max(1);
  r.max_iou = std::get<0>(mx);
  r.gt_index = std::get<1>(mx);
  auto matched = gt.index_select(0, r.gt_index);
  auto bg = r.max_iou <= lo;
  auto neutral = (r.max_iou > lo) & (r.max_iou < hi);
  if (allow_low_quality) {
    // For each GT, every anchor reaching that GT's best IoU (> 0) is positive
    // and assigned to it.
    auto best_per_gt = std::get<0>(iou.max(0));  // (M,)
    auto is_best = (iou == best_per_gt.unsqueeze(0)) & (best_per_gt.unsqueeze(0) > 0);
    auto rescued = is_best.any(1);
    // An anchor that is best for several GT goes to the one it overlaps most
    // among them (ties: lower index).
    auto masked = torch::where(is_best, iou, torch::full_like(iou, -1.0));
    auto rescue_gt = std::get<1>(masked.max(1));
    auto take = rescued & (bg | neutral);
    r.gt_index = torch::where(take, rescue_gt, r.gt_index);
    matched = gt.index_select(0, r.gt_index);
    bg = bg & ~take;
    neutral = neutral & ~take;
  }
  matched.index_put_({bg}, -1.0);
  matched.index_put_({neutral}, kSentinel);
  r.matched = matched;
  return r;
}

}  // namespace rcnn::modeling
