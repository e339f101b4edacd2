#pragma once
// Launch, watch, stop and resume training runs. The JobRunner owns and runs
// them; progress arrives through queued calls, so the GUI never blocks. A run
// uses the chosen preset plus every edit made in the Parameters panel.
#include <QWidget>
#include <memory>

#include "api/train_job.h"
#include "config/detector_config.h"

class QLineEdit;
class QComboBox;
class QPushButton;
class QProgressBar;
class QPlainTextEdit;
class QLabel;
class QSpinBox;
class QChart;
class QLineSeries;
class QValueAxis;
class QTabWidget;

namespace studio {

class JobRunner;
class ProbeTimeline;

class TrainingPanel : public QWidget {
  Q_OBJECT
 public:
  TrainingPanel(JobRunner& runner, QWidget* parent = nullptr);
  ~TrainingPanel() override;
  void setDataset(const QString& path);
  bool running() const { return m_running; }
  // The config shown in the Parameters panel; its differences from the preset become --set overrides.
  void setCurrentConfig(const rcnn::DetectorConfig& c) { m_current = c; m_hasCurrent = true; }
  // The model the studio has open (a torchvision preset fine-tunes it).
  void setInitCheckpoint(const QString& path) { m_initCheckpoint = path; }
  // The overrides a run would use now ("key=value"), for the log and tests.
  std::vector<std::string> overrides() const;
  void start(bool resume);
  void stop();
  void setIterations(int iters);
  QString runDir() const;
  int logLines() const;
  QString lastCheckpoint() const { return m_lastCheckpoint; }
  ProbeTimeline* timeline() const { return m_timeline; }
  void showTimelineTab();  // raises the panel and its Timeline tab
  void setProbeImages(int n);

 signals:
  void checkpointWritten(const QString& path, bool best);
  void useCheckpoint(const QString& path);
  void finished(const QString& state, const QString& message);
  void message(const QString& text);

 private:
  void onProgress(const rcnn::api::TrainProgress& p);
  void onLog(const rcnn::api::TrainProgress& p);
  void appendLog(const QString& s);
  void finish(const rcnn::api::TrainOutcome& o);

  QLineEdit* m_dataset;
  QComboBox* m_preset;
  QLineEdit* m_name;
  QSpinBox* m_iters;
  QSpinBox* m_procs;     // data-parallel processes on this machine
  QSpinBox* m_probes;    // probe images captured at every evaluation
  ProbeTimeline* m_timeline;
  QTabWidget* m_tabs = nullptr;
  QComboBox* m_device;  // cpu, cuda:N
  QPushButton *m_start, *m_stop, *m_resume, *m_use;
  QProgressBar* m_progress;
  QLabel* m_status;
  QPlainTextEdit* m_log;
  QChart *m_lossChart, *m_lrChart, *m_mapChart;
  QLineSeries *m_total, *m_rpnObj, *m_rpnBox, *m_roiCls, *m_roiBox, *m_lr, *m_map;
  QValueAxis *m_lossX, *m_lossY, *m_lrX, *m_lrY, *m_mapX, *m_mapY;
  double m_maxLoss = 0.1;
  JobRunner& m_runner;
  bool m_running = false;
  rcnn::DetectorConfig m_current;
  bool m_hasCurrent = false;
  QString m_lastCheckpoint;
  QString m_initCheckpoint;
  qint64 m_lastUi = 0;
};

}  // namespace studio
