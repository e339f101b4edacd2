#pragma once
// Analysis: the accounting engine over a whole split (api::run_analysis, run
// on the JobRunner): where the GTs are lost (funnel by stage and size), what
// the false positives are (TIDE types, with the mAP each costs), and sortable
// lists of lost GTs and false positives; double-click one to open its image
// at the stage that lost it, with that GT selected.
#include <QWidget>
#include <memory>

#include "api/analyze_job.h"

class QTableWidget;
class QPushButton;
class QLabel;
class QComboBox;

namespace studio {

class AnalysisPanel : public QWidget {
  Q_OBJECT
 public:
  explicit AnalysisPanel(QWidget* parent = nullptr);
  // What the next run analyses: the studio's dataset, checkpoint and current settings (config JSON).
  void setSource(const QString& dataset, const QString& checkpoint, const QString& configJson);
  void run();
  void showReport(std::shared_ptr<const rcnn::api::AnalysisReport> r);
  void showFailure(const QString& message);
  bool running() const { return m_running; }
  const rcnn::api::AnalysisReport* report() const { return m_report.get(); }
  // Rows of the lost-GT and false-positive lists (for tests).
  QTableWidget* lostTable() const { return m_lost; }

 signals:
  void runRequested(const rcnn::api::AnalyzeRequest& req);
  // Open image `path` at `stage` (api::Stage) with GT `gt` selected (-1: none).
  void openAt(const QString& path, int stage, int gt, const QString& split);
  void message(const QString& text);

 private:
  QString m_dataset, m_checkpoint, m_config;
  QComboBox* m_split;
  QPushButton* m_run;
  QLabel* m_summary;
  QTableWidget *m_funnel, *m_errors, *m_lost, *m_fps;
  std::shared_ptr<const rcnn::api::AnalysisReport> m_report;
  bool m_running = false;
};

}  // namespace studio
