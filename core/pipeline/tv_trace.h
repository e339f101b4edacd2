#pragma once
// Internal to core/api (torch allowed): a torchvision model's proposals and detections
// copied into a trace (what filter_proposals did to each candidate, with the
// suppressor of each suppressed one; the detections in both coordinate
// systems, each with its RoI and every RoI's class-specific boxes).
// session_tv.cpp calls these; as match_trace.h does for the matcher.
#include "api/trace.h"
#include "config/torchvision_options.h"
#include "modeling/torchvision/tv_faster_rcnn.h"

namespace rcnn::api {

// A tensor's values as floats (on the CPU), and row i of an (N, 4) box accessor.
inline std::vector<float> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
inline Box box_of(const torch::TensorAccessor<float, 2>& a, int64_t i) {
  return {a[i][0], a[i][1], a[i][2], a[i][3]};
}

// Candidates stay level-major in objectness order; Kept / CutByPostTopk
// from the NMS survivors, TooSmall / BelowScore from the filters, and a
// suppressed candidate's suppressor is the first survivor of its level, in
// score order, whose IoU with it exceeds nms_thresh.
void fill_tv_proposals(PipelineTrace& t, const modeling::tv::ProposalCandidates& c, double nms_thresh);
// After run_postprocess: detections, thresholds and roi_class_boxes (the
// funnel is the caller's: compute_gt_funnel).
void fill_tv_predictions(PipelineTrace& t, const modeling::tv::TvInference& r, const TorchvisionOptions& o);

}  // namespace rcnn::api
