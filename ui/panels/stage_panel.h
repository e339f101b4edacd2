#pragma once
// The side panel of the current stage: a plain-words explanation, the
// stage's formula with the hovered box's numbers plugged in, and the
// stage's own controls (toggles, tables, sliders, crops).
#include <QWidget>
#include <memory>

#include "api/trace.h"
#include "canvas/canvas_widget.h"

class QLabel;
class QStackedWidget;
class QCheckBox;
class QTableWidget;
class QSpinBox;
class QSlider;
class QComboBox;
class QListWidget;
class QTextBrowser;

namespace studio {

class StagePanel : public QWidget {
  Q_OBJECT
 public:
  explicit StagePanel(QWidget* parent = nullptr);
  void setStage(rcnn::api::Stage s);
  void setTrace(std::shared_ptr<const rcnn::api::PipelineTrace> t, double ms);
  void setHover(const Hit& h);
  void setRoiPoints(const std::vector<float>& pts, int gh, int gw);
  const CanvasOptions& options() const { return m_opt; }
  void setOptions(const CanvasOptions& o);
  void setConfigValues(double scoreThresh, double nmsThresh);

  // Read by tests.
  QString countsText() const;
  QString formulaText() const;
  int positiveCount() const { return m_positive; }

 signals:
  void optionsChanged(const studio::CanvasOptions& o);
  void sampleSeedChanged(quint64 seed);
  void scoreThreshChanged(double v);
  void nmsThreshChanged(double v);
  void roiSelected(int r);

 private:
  QWidget* buildAnchors();
  QWidget* buildMatching();
  QWidget* buildSampling();
  QWidget* buildProposals();
  QWidget* buildRoi();
  QWidget* buildPredictions();
  void refresh();
  void refreshFormula();
  void emitOptions();
  QImage roiHeatmap(int r, int channel) const;
  QImage roiCrop(int r) const;

  rcnn::api::Stage m_stage = rcnn::api::Stage::Image;
  std::shared_ptr<const rcnn::api::PipelineTrace> m_trace;
  CanvasOptions m_opt;
  Hit m_hover;
  double m_ms = 0;
  int m_positive = 0;
  bool m_updating = false;
  int m_gh = 0, m_gw = 0;

  QLabel* m_title;
  QLabel* m_explain;
  QLabel* m_formula;
  QLabel* m_counts;
  QStackedWidget* m_pages;
  // Anchors
  QCheckBox* m_level[3];
  QWidget* m_shapeBox;
  std::vector<QCheckBox*> m_shapes;
  QCheckBox* m_allAnchors;
  QCheckBox* m_centres;
  // Matching
  QTableWidget* m_gtTable;
  QCheckBox* m_neutral;
  QCheckBox* m_negative;
  QCheckBox* m_heatmap;
  // Sampling
  QSpinBox* m_seed;
  // Proposals
  QSlider* m_scoreMin;
  QCheckBox* m_preNms;
  QCheckBox* m_suppressed;
  QCheckBox* m_objHeat;
  QComboBox* m_heatLevel;
  QSpinBox* m_heatShape;
  QLabel* m_funnelLabel;
  // RoIAlign
  QSpinBox* m_roi;
  QSpinBox* m_channel;
  QLabel* m_crop;
  QLabel* m_pooled;
  QListWidget* m_gallery;
  // Predictions
  QSlider* m_predScore;
  QSlider* m_predNms;
  QLabel* m_predScoreLabel;
  QLabel* m_predNmsLabel;
  QTableWidget* m_missTable;
};

}  // namespace studio
