// The plain helpers of api/types.h and api/trace.h: stage, funnel and error
// names, box IoU on api boxes. The verdicts themselves come from the
// accounting engine (core/analysis/accounting.h).
#include <algorithm>
#include <cmath>

#include "analysis/accounting.h"
#include "api/session.h"

namespace rcnn::api {

const char* stage_name(Stage s) {
#define RCNN_STAGE_NAME(id, name, train) name,
  static const char* n[] = {RCNN_STAGE_LIST(RCNN_STAGE_NAME)};
#undef RCNN_STAGE_NAME
  return n[int(s)];
}

bool stage_shows_training_step(Stage s) {
#define RCNN_STAGE_TRAIN(id, name, train) train,
  static const bool t[] = {RCNN_STAGE_LIST(RCNN_STAGE_TRAIN)};
#undef RCNN_STAGE_TRAIN
  return t[int(s)];
}

float box_iou(const Box& a, const Box& b) {
  const float iw = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float ih = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float in = iw * ih, u = a.width() * a.height() + b.width() * b.height() - in;
  return u > 0 ? in / u : 0.f;
}


Box apply_deltas(const Box& a, const float* d, const float* w, double clamp, float W, float H) {
  const float pw = a.x2 - a.x1, ph = a.y2 - a.y1, px = a.x1 + 0.5f * pw, py = a.y1 + 0.5f * ph;
  const float cx = px + pw * (d[0] / w[0]), cy = py + ph * (d[1] / w[1]);
  const float bw = pw * std::exp(std::min(d[2] / w[2], float(clamp)));
  const float bh = ph * std::exp(std::min(d[3] / w[3], float(clamp)));
  auto cl = [](float v, float hi) { return std::clamp(v, 0.f, hi); };
  return {cl(cx - 0.5f * bw, W), cl(cy - 0.5f * bh, H), cl(cx + 0.5f * bw, W), cl(cy + 0.5f * bh, H)};
}

const char* funnel_name(Funnel f) {
  switch (f) {
    case Funnel::NoPositiveAnchor:
      return "no positive anchor";
    case Funnel::CutByPreNmsTopk:
      return "cut by pre-NMS top-k";
    case Funnel::NoCoveringCandidate:
      return "no RPN candidate covers it";
    case Funnel::Undetected:
      return "not detected (stage unavailable)";
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
    case Funnel::TooSmall:
      return "dropped by the min-size filter";
    case Funnel::BelowRpnScore:
      return "below the RPN score threshold";
    case Funnel::Localization:
      return "localization";
    case Funnel::AssignedToOtherGt:
      return "detection assigned to another GT";
    case Funnel::Ignored:
      return "ignored (difficult)";
    case Funnel::Detected:
      return "detected";
  }
  return "?";
}

void compute_gt_funnel(PipelineTrace& t) {
  analysis::account(t);
}

const std::vector<Funnel>& funnel_order() {
  static const std::vector<Funnel> order{Funnel::NoPositiveAnchor,    Funnel::NoCoveringCandidate, Funnel::CutByPreNmsTopk,
                                         Funnel::TooSmall, Funnel::BelowRpnScore,
                                         Funnel::SuppressedByNms,     Funnel::CutByPostNmsTopk, Funnel::Misclassified,
                                         Funnel::BelowScoreThreshold, Funnel::Localization,     Funnel::RemovedByFinalNms,
                                         Funnel::AssignedToOtherGt,   Funnel::Undetected,       Funnel::Detected,
                                         Funnel::Ignored};
  return order;
}

const char* error_name(ErrorType e) {
  switch (e) {
    case ErrorType::None:
      return "none";
    case ErrorType::Duplicate:
      return "duplicate";
    case ErrorType::Classification:
      return "classification";
    case ErrorType::Localization:
      return "localization";
    case ErrorType::Both:
      return "both";
    case ErrorType::Background:
      return "background";
  }
  return "?";
}

}  // namespace rcnn::api
