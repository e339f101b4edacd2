// Names of the funnel outcomes and error types; the verdicts themselves come
// from the accounting engine (core/analysis/accounting.h).
#include "analysis/accounting.h"
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
    case Funnel::TooSmall:
      return "dropped by the min-size filter";
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
  static const std::vector<Funnel> order{Funnel::NoPositiveAnchor,    Funnel::CutByPreNmsTopk,  Funnel::TooSmall,
                                         Funnel::SuppressedByNms,     Funnel::CutByPostNmsTopk, Funnel::Misclassified,
                                         Funnel::BelowScoreThreshold, Funnel::Localization,     Funnel::RemovedByFinalNms,
                                         Funnel::AssignedToOtherGt,   Funnel::Detected,         Funnel::Ignored};
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
