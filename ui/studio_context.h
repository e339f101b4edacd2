#pragma once
// The one studio context every panel and the canvas observe (RenderDoc's
// ICaptureContext): the current trace, stage, selection, hover, view options
// and dataset. Widgets change it through its setters; it emits one signal per
// kind of change. It owns no model: model work goes through the JobRunner.
#include <QObject>
#include <QString>
#include <memory>
#include <optional>
#include <vector>

#include "api/dataset.h"
#include "api/trace.h"
#include "explain/explain_cache.h"
#include "explain/explain_state.h"
#include "stages/hit.h"

namespace studio {

class StageView;

// View options shared by several stages (each stage keeps its own toggles).
struct ViewOptions {
  bool hideOverlays = false;
  std::vector<bool> levels;  // per FPN level; empty = all on
  std::vector<bool> shapes;  // per anchor shape (scale x ratio); empty = all on
  bool levelOn(int l) const { return l >= 0 && (levels.empty() || (l < int(levels.size()) && levels[size_t(l)])); }
  bool shapeOn(int s) const { return shapes.empty() || (s < int(shapes.size()) && shapes[size_t(s)]); }
};

// A label doctor issue drawn over every stage (original-image pixels): the
// object as labelled, the suggested fix, and a caption.
struct LabelMark {
  QString path;  // the image it belongs to (empty: none)
  std::optional<rcnn::api::Box> box, fix;
  QString caption;
};

// View → Compare captures: what changed from capture A to capture B (api/capture_diff.h), drawn over the
// opened capture B on the stage each change belongs to.
struct DiffMark {
  rcnn::api::Box box;                                      // input coordinates (A's and B's: the same image)
  rcnn::api::Stage stage = rcnn::api::Stage::Predictions;  // drawn there (GT changes: on every stage)
  bool added = true;  // green (entered, added, became positive) or red (left, removed, stopped)
  bool gt = false;    // a GT whose verdict changed: yellow, on every stage
  QString caption;
};
struct CaptureCompare {
  QString a, b;  // the captures; marks are drawn while b is the opened capture
  std::vector<DiffMark> marks;
  QString text;  // rcnn diff's text
};

class StudioContext : public QObject {
  Q_OBJECT
 public:
  explicit StudioContext(QObject* parent = nullptr);
  ~StudioContext() override;

  // Stages, in pipeline order (ui/stages/stage_registry.cpp).
  const std::vector<std::unique_ptr<StageView>>& stages() const { return m_stages; }
  StageView& stageView(rcnn::api::Stage s) const { return *m_stages[size_t(s)]; }
  StageView& currentView() const { return stageView(m_stage); }

  const std::shared_ptr<const rcnn::api::PipelineTrace>& trace() const { return m_trace; }
  double traceMs() const { return m_traceMs; }
  rcnn::api::Stage stage() const { return m_stage; }
  int selectedGt() const { return m_selectedGt; }
  int selectedRoi() const { return m_selectedRoi; }
  const Hit& hover() const { return m_hover; }
  const ViewOptions& view() const { return m_view; }
  const rcnn::api::DatasetInfo& dataset() const { return m_dataset; }
  const LabelMark& labelMark() const { return m_labelMark; }

  void setTrace(std::shared_ptr<const rcnn::api::PipelineTrace> t, double ms);
  void setStage(rcnn::api::Stage s);
  void setSelectedGt(int g);  // -1: none
  void setSelectedRoi(int r);
  void setHover(const Hit& h);
  void setView(const ViewOptions& v);
  void setDataset(const rcnn::api::DatasetInfo& ds);
  void setLabelMark(const LabelMark& m) {
    m_labelMark = m;
    emit viewChanged();
  }
  // Explain a box (ui/explain/): the pickers, what is shown and the results cache. The ExplainController
  // (ui/explain/explain_controller.h) requests what the current stage points at and fills the shown map.
  const ExplainSettings& explainSettings() const { return m_explainSettings; }
  void setExplainSettings(const ExplainSettings& s);
  const ExplainShown& explainShown() const { return m_explainShown; }
  void setExplainShown(const ExplainShown& s);
  ExplainCache& explainCache() { return m_explainCache; }
  // A stage's explain target (StageView::explainTarget) changed.
  void touchExplainTarget() { emit explainTargetChanged(); }
  // Counts the traces set (an explain result names the one it was computed on).
  quint64 traceGeneration() const { return m_traceGeneration; }

  // The capture file the trace comes from ("" for the model's live trace). A capture has no model behind it:
  // what needs one (Explain, parameter edits) says so instead of running.
  const QString& captureSource() const { return m_captureSource; }
  void setCaptureSource(const QString& path) { m_captureSource = path; }

  const CaptureCompare& captureCompare() const { return m_compare; }
  void setCaptureCompare(const CaptureCompare& c) {
    m_compare = c;
    emit viewChanged();
  }

  // A stage's own drawing option changed: repaint.
  void touch() { emit viewChanged(); }

  // Requests a stage may make of the model (wired to the JobRunner and the
  // Parameters panel by the main window).
  void requestSampleSeed(quint64 seed) { emit sampleSeedRequested(seed); }
  void requestFeatureChannel(int channel) { emit featureChannelRequested(channel); }
  void requestConfigValue(const QString& key, const QString& json) { emit configValueRequested(key, json); }

 signals:
  void traceChanged();
  void stageChanged();
  void selectionChanged();
  void hoverChanged();
  void viewChanged();
  void datasetChanged();
  void sampleSeedRequested(quint64 seed);
  void featureChannelRequested(int channel);
  void configValueRequested(const QString& key, const QString& json);
  void explainSettingsChanged();
  void explainTargetChanged();
  void explainShownChanged();

 private:
  std::vector<std::unique_ptr<StageView>> m_stages;
  std::shared_ptr<const rcnn::api::PipelineTrace> m_trace;
  double m_traceMs = 0;
  rcnn::api::Stage m_stage = rcnn::api::Stage::Image;
  int m_selectedGt = -1, m_selectedRoi = 0;
  Hit m_hover;
  ViewOptions m_view;
  rcnn::api::DatasetInfo m_dataset;
  LabelMark m_labelMark;
  QString m_captureSource;
  CaptureCompare m_compare;
  quint64 m_traceGeneration = 0;
  ExplainSettings m_explainSettings;
  ExplainShown m_explainShown;
  ExplainCache m_explainCache;
};

}  // namespace studio
