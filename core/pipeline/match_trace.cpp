#include "pipeline/match_trace.h"

#include "analysis/match_facts.h"

namespace rcnn::api {

void fill_match_stage(PipelineTrace& t, const modeling::MatchResult& m) {
  const int64_t K = m.labels.size(0);
  auto iou_best = m.max_iou.detach().to(torch::kCPU, torch::kFloat).contiguous();
  t.anchor_iou.assign(iou_best.data_ptr<float>(), iou_best.data_ptr<float>() + K);
  // anchor_gt keeps each anchor's best GT even for negatives, so hover can show the IoU it missed by.
  auto gi = m.gt_index.cpu().contiguous();
  t.anchor_gt.assign(gi.data_ptr<int64_t>(), gi.data_ptr<int64_t>() + K);
  auto lab = m.labels.cpu().contiguous();
  const int8_t* c = lab.data_ptr<int8_t>();
  t.anchor_label.resize(size_t(K));
  for (int64_t k = 0; k < K; ++k)
    t.anchor_label[size_t(k)] = c[k] == modeling::kForeground   ? AnchorLabel::Positive
                                : c[k] == modeling::kBackground ? AnchorLabel::Negative
                                                                : AnchorLabel::Neutral;
  auto resc = m.rescued.cpu().to(torch::kUInt8).contiguous();
  t.anchor_rescued.assign(resc.data_ptr<uint8_t>(), resc.data_ptr<uint8_t>() + K);
  // The matcher's own IoU matrix: it has no padding columns, so its columns are t.gt.
  auto iou = m.iou.detach().to(torch::kCPU, torch::kFloat).contiguous();
  t.iou_matrix.assign(iou.data_ptr<float>(), iou.data_ptr<float>() + iou.numel());
  analysis::fill_gt_match_facts(t);
}

}  // namespace rcnn::api
