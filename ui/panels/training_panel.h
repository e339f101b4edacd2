#pragma once
// Launch, watch, stop and resume training runs. The run executes in its own
// thread (api::TrainJob); progress arrives through queued calls, so the GUI
// never blocks.
#include <QWidget>
#include <atomic>
#include <memory>
#include <thread>

#include "api/train_job.h"

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

namespace studio {

class TrainingPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingPanel(QWidget* parent = nullptr);
  ~TrainingPanel() override;
  void setDataset(const QString& path);
  bool running() const { return m_job != nullptr; }
  void start(bool resume);
  void stop();
  void setIterations(int iters);
  QString runDir() const;
  int logLines() const;
  QString lastCheckpoint() const { return m_lastCheckpoint; }

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
  QPushButton *m_start, *m_stop, *m_resume, *m_use;
  QProgressBar* m_progress;
  QLabel* m_status;
  QPlainTextEdit* m_log;
  QChart *m_lossChart, *m_lrChart, *m_mapChart;
  QLineSeries *m_total, *m_rpnObj, *m_rpnBox, *m_roiCls, *m_roiBox, *m_lr, *m_map;
  QValueAxis *m_lossX, *m_lossY, *m_lrX, *m_lrY, *m_mapX, *m_mapY;
  double m_maxLoss = 0.1;
  std::unique_ptr<rcnn::api::TrainJob> m_job;
  std::thread m_thread;
  QString m_lastCheckpoint;
  qint64 m_lastUi = 0;
};

}  // namespace studio
