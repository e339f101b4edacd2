#pragma once
// One stage of the pipeline as the studio shows it. Each stage is one file
// in ui/stages/ implementing this interface: its side-panel page, its counts
// line, its formula for the hovered item, its canvas drawing and its prose.
// StagePanel and the canvas only dispatch to the current stage. A new stage
// is a new file plus one line in stage_registry.cpp.
#include <QString>
#include <memory>
#include <vector>

#include "api/trace.h"
#include "explain/explain_state.h"
#include "stages/hit.h"

class QWidget;
struct ImDrawList;

namespace studio {

class StudioContext;
struct DrawContext;

class StageView {
 public:
  explicit StageView(StudioContext& ctx) : m_ctx(ctx) {}
  virtual ~StageView() = default;
  StageView(const StageView&) = delete;
  StageView& operator=(const StageView&) = delete;

  virtual QString title() const = 0;        // "Matching"
  // Plain words, shown above the formula; t (may be null) tells the seed's
  // semantics from torchvision's.
  virtual QString explanation(const rcnn::api::PipelineTrace* t) const = 0;
  // The stage's controls, built once (parent owns it). Default: empty.
  virtual QWidget* buildPage(QWidget* parent);
  // The counts line for this trace; also refreshes the page's widgets.
  virtual QString counts(const rcnn::api::PipelineTrace& t) = 0;
  // The formula with the hovered item's numbers (or the general form).
  virtual QString formula(const rcnn::api::PipelineTrace& t, const Hit& hover) const = 0;
  // Whether the GT boxes are drawn under this stage's overlays.
  virtual bool showsGt() const { return true; }
  // Canvas overlays in model-input coordinates.
  virtual void draw(DrawContext& dc, const rcnn::api::PipelineTrace& t) = 0;
  // The canvas was clicked on `h`; return true when handled.
  virtual bool clicked(const Hit&) { return false; }
  // What "Explain" explains on this stage of this trace: its selected box (invalid: the stage explains
  // nothing, or nothing is selected). A stage that changes it calls StudioContext::touchExplainTarget.
  virtual ExplainTarget explainTarget(const rcnn::api::PipelineTrace&) const { return {}; }

 protected:
  StudioContext& m_ctx;
};

// All stages in pipeline order (stage_registry.cpp).
std::vector<std::unique_ptr<StageView>> makeStages(StudioContext& ctx);

}  // namespace studio
