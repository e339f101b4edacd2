#pragma once
// Evaluation: mAP per class, PR curves, confusion matrix; clicking a class
// lists its false positives and misses, double-click opens the image. The
// evaluation itself runs on the JobRunner.
#include <QWidget>
#include <memory>

#include "api/eval_job.h"

class QTableWidget;
class QListWidget;
class QPushButton;
class QLabel;
class QComboBox;
class QChart;
class QLineSeries;

namespace studio {

class EvalPanel : public QWidget {
  Q_OBJECT
 public:
  explicit EvalPanel(QWidget* parent = nullptr);
  ~EvalPanel() override;
  // What "Evaluate" measures: the studio's dataset, its model and its current settings (config JSON).
  void setSource(const QString& dataset, const QString& checkpoint, const QString& configJson = QString());
  // Asks for an evaluation (runRequested); the JobRunner answers through
  // showReport or showFailure.
  void run();
  void showReport(std::shared_ptr<const rcnn::api::EvalReport> r);
  void showFailure(const QString& message);
  bool running() const { return m_running; }
  const rcnn::api::EvalReport& report() const { return m_report; }

 signals:
  void runRequested(const rcnn::api::EvalRequest& req);
  void openImage(const QString& path);
  void message(const QString& text);
  void done();

 private:
  void show(const rcnn::api::EvalReport& r);
  void showClass(int c);

  QString m_dataset, m_checkpoint, m_config;
  QComboBox* m_split;
  QPushButton* m_run;
  QLabel* m_summary;
  QTableWidget* m_coco;  // the COCO summary, COCO's rules
  QTableWidget* m_table;
  QTableWidget* m_confusion;
  QListWidget* m_items;
  QChart* m_pr;
  QLineSeries* m_prSeries;
  rcnn::api::EvalReport m_report;
  bool m_running = false;
};

}  // namespace studio
