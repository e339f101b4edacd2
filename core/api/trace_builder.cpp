// The GT funnel: for each GT box, the first stage that lost it. A stage
// "covers" a GT when one of its boxes overlaps it with IoU >= 0.5 (the
// evaluation's own criterion).
#include "api/session.h"

namespace rcnn::api {

const char* funnel_name(Funnel f) {
  switch (f) {
    case Funnel::NoPositiveAnchor:
      return "no positive anchor";
    case Funnel::CutByPreNmsTopk:
      return "cut by pre-NMS top-k";
    case Funnel::SuppressedByNms:
      return "suppressed by NMS";
    case Funnel::CutByPostNmsTopk:
      return "cut by post-NMS top-k";
    case Funnel::Misclassified:
      return "misclassified";
    case Funnel::BelowScoreThreshold:
      return "below the score threshold";
    case Funnel::RemovedByFinalNms:
      return "removed by final NMS / detection cap";
    case Funnel::Detected:
      return "detected";
  }
  return "?";
}

void compute_gt_funnel(PipelineTrace& t) {
  constexpr float kCover = 0.5f;
  const int C1 = t.num_classes() + 1;
  for (size_t g = 0; g < t.gt.size(); ++g) {
    auto& info = t.gt[g];
    info.matched_detection = -1;
    for (size_t d = 0; d < t.detections.size(); ++d)
      if (t.detections[d].label == info.label && box_iou(t.detections[d].box, info.box) >= kCover &&
          (info.matched_detection < 0 || t.detections[d].score > t.detections[size_t(info.matched_detection)].score))
        info.matched_detection = int(d);
    if (info.positive_anchors == 0) {
      info.funnel = Funnel::NoPositiveAnchor;
      continue;
    }
    bool any = false, after_nms = false, kept = false;
    for (const auto& p : t.proposals) {
      if (box_iou(p.box, info.box) < kCover) continue;
      any = true;
      if (p.state == ProposalState::Kept || p.state == ProposalState::CutByPostTopk) after_nms = true;
      if (p.state == ProposalState::Kept) kept = true;
    }
    if (!any) {
      info.funnel = Funnel::CutByPreNmsTopk;
      continue;
    }
    if (!after_nms) {
      info.funnel = Funnel::SuppressedByNms;
      continue;
    }
    if (!kept) {
      info.funnel = Funnel::CutByPostNmsTopk;
      continue;
    }
    if (info.matched_detection >= 0) {
      info.funnel = Funnel::Detected;
      continue;
    }
    bool argmax_right = false, above = false;
    for (size_t r = 0; r < t.kept.size(); ++r) {
      const auto& p = t.proposals[size_t(t.kept[r])];
      if (box_iou(p.box, info.box) < kCover || t.class_probs.size() < (r + 1) * size_t(C1)) continue;
      const float* pr = &t.class_probs[r * size_t(C1)];
      int am = 0;
      for (int c = 1; c < C1; ++c)
        if (pr[c] > pr[am]) am = c;
      if (am == info.label + 1) argmax_right = true;
      if (pr[info.label + 1] > t.score_thresh) above = true;
    }
    info.funnel =
        above ? Funnel::RemovedByFinalNms : (argmax_right ? Funnel::BelowScoreThreshold : Funnel::Misclassified);
  }
}

}  // namespace rcnn::api
