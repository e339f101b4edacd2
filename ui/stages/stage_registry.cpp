// The stages of the studio in pipeline order: one line each.
#include <QWidget>

#include "stages/stage_view.h"

namespace studio {

#define RCNN_STAGES(X)  \
  X(makeImageStage)     \
  X(makeAnchorsStage)   \
  X(makeMatchingStage)  \
  X(makeSamplingStage)  \
  X(makeProposalsStage) \
  X(makeRoiAlignStage)    \
  X(makeRoiSamplingStage) \
  X(makeLossesStage)      \
  X(makePredictionsStage)

#define RCNN_DECLARE(fn) std::unique_ptr<StageView> fn(StudioContext&);
RCNN_STAGES(RCNN_DECLARE)
#undef RCNN_DECLARE

std::vector<std::unique_ptr<StageView>> makeStages(StudioContext& ctx) {
  std::vector<std::unique_ptr<StageView>> v;
#define RCNN_ADD(fn) v.push_back(fn(ctx));
  RCNN_STAGES(RCNN_ADD)
#undef RCNN_ADD
  return v;
}

QWidget* StageView::buildPage(QWidget* parent) {
  return new QWidget(parent);
}

}  // namespace studio
