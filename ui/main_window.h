#pragma once
#include <QMainWindow>
#include <QMap>
#include <memory>

#include "api/trace.h"
#include "canvas/canvas_widget.h"
#include "config/detector_config.h"
#include "job_runner.h"

class QLabel;
class QActionGroup;
class QDockWidget;
class QMenu;

namespace studio {

class JobRunner;
class StudioContext;
class StagePanel;
class ParamsPanel;
class DatasetPanel;
class TrainingPanel;
class EvalPanel;
class AnalysisPanel;
class LabelIssuesPanel;
class ComparePanel;
class SideBySide;
class CoveragePanel;
class ExplainController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  bool openDataset(const QString& path, const QString& split = "val");
  void openImageFile(const QString& path);
  void openCheckpoint(const QString& path);
  // A preset name or a JSON config file, as the Parameters panel loads it.
  void loadConfig(const QString& nameOrFile);
  // The model's class names, one per line (Model > Class names…).
  void loadClassNames(const QString& path);
  void setStage(rcnn::api::Stage s);
  rcnn::api::Stage stage() const;
  void exportPng(const QString& path);
  // Captures (api/capture.h; ui/main_window_capture.cpp). saveCapture writes the current image's whole trace
  // (on the model's thread; an opened capture is written again with the current view); openCapture shows a
  // capture with no model behind it, until an image or a model is opened. Errors go to the status bar.
  void saveCapture(const QString& path);
  bool openCapture(const QString& path);
  QString captureSource() const;  // the opened capture ("" when the trace is the model's)
  // View → Compare captures: opens B and draws what changed from A (api/capture_diff.h) on each stage; the
  // diff's text goes to the "Capture diff" dock. False (and the error in the status bar) when either is bad.
  bool compareCaptures(const QString& a, const QString& b);
  // Training → Timeline of a run directory, at its evaluation `at` (-1: the last) of the first probe image.
  void showTimeline(const QString& runDir, int at = -1);
  int capturesSaved() const { return m_capturesSaved; }
  void exportTrace(const QString& path);

  // For tests and scripting.
  CanvasWidget* canvas() const { return m_canvas; }
  // Model B beside the studio's model on the same image ("" = random weights
  // of the current settings); hideSideBySide() closes it.
  void showSideBySide(const QString& checkpointB);
  void hideSideBySide();
  SideBySide* sideBySide() const { return m_side; }
  StagePanel* stagePanel() const { return m_stagePanel; }
  ParamsPanel* paramsPanel() const { return m_params; }
  DatasetPanel* datasetPanel() const { return m_datasetPanel; }
  TrainingPanel* trainingPanel() const { return m_training; }
  EvalPanel* evalPanel() const { return m_eval; }
  AnalysisPanel* analysisPanel() const { return m_analysis; }
  LabelIssuesPanel* labelIssuesPanel() const { return m_labels; }
  ComparePanel* comparePanel() const { return m_compare; }
  CoveragePanel* coveragePanel() const { return m_coverage; }
  StudioContext* context() const { return m_ctx; }
  ExplainController* explainController() const { return m_explain; }
  std::shared_ptr<const rcnn::api::PipelineTrace> trace() const;
  int tracesReceived() const { return m_traces; }
  QString lastError() const { return m_lastError; }
  QString timingText() const;  // the status bar's trace summary

 protected:
  void keyPressEvent(QKeyEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildMenus();
  // The view a capture records: stage, selection, zoom and pan.
  QString viewJson() const;
  void applyView(const QString& json);
  // In a capture: says that `what` needs the model and returns true (the caller then does nothing).
  bool needsModel(const QString& what);
  void leaveCapture();
  void showImage(int index);
  void showError(const QString& msg);
  void addRecent(const QString& key, const QString& path);
  void rebuildRecent();
  void updateModelLabel();
  void updateTimingLabel();  // the last trace's timing_text
  void updateAnalysisSource();
  // Opens a dataset image by path at a stage with a GT selected (from the Analysis/Evaluation lists).
  void openAt(const QString& path, rcnn::api::Stage stage, int gt, const QString& split = QString());

  StudioContext* m_ctx;
  JobRunner* m_job = nullptr;
  ExplainController* m_explain = nullptr;
  CanvasWidget* m_canvas;
  SideBySide* m_side;
  TraceRequest m_lastImage;  // A's current image request (B opens on it)
  StagePanel* m_stagePanel;
  ParamsPanel* m_params;
  DatasetPanel* m_datasetPanel;
  TrainingPanel* m_training;
  EvalPanel* m_eval;
  AnalysisPanel* m_analysis;
  LabelIssuesPanel* m_labels;
  ComparePanel* m_compare;
  CoveragePanel* m_coverage;
  QLabel* m_modelLabel;
  QLabel* m_timing;
  QActionGroup* m_stageGroup;
  QMenu* m_recentDatasets;
  QMenu* m_recentCheckpoints;
  QString m_datasetPath, m_checkpoint, m_modelText, m_lastError;
  bool m_random = true;
  bool m_trainView = false;  // the model thread computes the training step (a stage that shows it is open)
  int m_traces = 0;
  std::shared_ptr<const rcnn::api::PipelineTrace> m_lastTrace;
  double m_lastTraceMs = 0;
  QMap<QString, double> m_peaks;  // measured compute peak (GFLOP/s) per precision
  quint64 m_seed = 0;
  std::shared_ptr<const rcnn::api::Capture> m_capture;  // the opened capture (null: the model's trace)
  int m_capturesSaved = 0;
  QDockWidget* m_diffDock = nullptr;
};

}  // namespace studio
