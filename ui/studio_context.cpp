#include "studio_context.h"

#include "stages/stage_view.h"

namespace studio {

StudioContext::StudioContext(QObject* parent) : QObject(parent), m_stages(makeStages(*this)) {}

StudioContext::~StudioContext() = default;

void StudioContext::setTrace(std::shared_ptr<const rcnn::api::PipelineTrace> t, double ms) {
  m_trace = std::move(t);
  m_traceMs = ms;
  ++m_traceGeneration;
  // A hover made on the previous trace may not address anything in this one.
  if (m_hover.kind != HitKind::None && (!m_trace || !hitValid(m_hover, *m_trace))) m_hover = Hit{};
  if (m_trace && m_selectedGt >= int(m_trace->gt.size())) m_selectedGt = -1;
  emit traceChanged();
}

void StudioContext::setStage(rcnn::api::Stage s) {
  if (int(s) < 0 || size_t(s) >= m_stages.size()) return;
  m_stage = s;
  m_hover = Hit{};
  emit stageChanged();
}

void StudioContext::setSelectedGt(int g) {
  m_selectedGt = g;
  emit selectionChanged();
}

void StudioContext::setSelectedRoi(int r) {
  m_selectedRoi = std::max(0, r);
  emit selectionChanged();
}

void StudioContext::setHover(const Hit& h) {
  m_hover = h;
  emit hoverChanged();
}

void StudioContext::setView(const ViewOptions& v) {
  m_view = v;
  emit viewChanged();
}

void StudioContext::setExplainSettings(const ExplainSettings& s) {
  if (s == m_explainSettings) return;
  m_explainSettings = s;
  emit explainSettingsChanged();
}

void StudioContext::setExplainShown(const ExplainShown& s) {
  m_explainShown = s;
  emit explainShownChanged();
}

void StudioContext::setDataset(const rcnn::api::DatasetInfo& ds) {
  m_dataset = ds;
  emit datasetChanged();
}

}  // namespace studio
