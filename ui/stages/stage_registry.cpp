// The studio's stage views, in the pipeline order of api/stages.h.
#include <QWidget>

#include "api/stages.h"
#include "stages/stage_view.h"

namespace studio {

// One view per stage of api/stages.h's list, made by make<Id>Stage.
#define RCNN_DECLARE(id, name, train) std::unique_ptr<StageView> make##id##Stage(StudioContext&);
RCNN_STAGE_LIST(RCNN_DECLARE)
#undef RCNN_DECLARE

std::vector<std::unique_ptr<StageView>> makeStages(StudioContext& ctx) {
  std::vector<std::unique_ptr<StageView>> v;
#define RCNN_ADD(id, name, train) v.push_back(make##id##Stage(ctx));
  RCNN_STAGE_LIST(RCNN_ADD)
#undef RCNN_ADD
  return v;
}

QWidget* StageView::buildPage(QWidget* parent) {
  return new QWidget(parent);
}

}  // namespace studio
