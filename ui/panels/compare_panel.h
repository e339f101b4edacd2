#pragma once
// Compare: the studio's model (A, with the Parameters panel's settings)
// against a second checkpoint (B) on a split (api::run_compare, on the
// JobRunner): per-class AP A vs B, the GTs one model detects and the other
// loses (with the stage that lost them and why), and the images that differ
// most, first. Double-click a GT or an image to open it.
#include <QWidget>
#include <memory>

#include "api/compare_job.h"

class QTableWidget;
class QPushButton;
class QLabel;
class QComboBox;
class QLineEdit;

namespace studio {

class ComparePanel : public QWidget {
  Q_OBJECT
 public:
  explicit ComparePanel(QWidget* parent = nullptr);
  // Model A: the studio's dataset, checkpoint and current settings (config JSON).
  void setSource(const QString& dataset, const QString& checkpoint, const QString& configJson);
  // Model B: a checkpoint file; empty: random weights of A's config.
  void setOther(const QString& checkpoint);
  void run();
  void showReport(std::shared_ptr<const rcnn::api::CompareReport> r);
  void showFailure(const QString& message);
  bool running() const { return m_running; }
  const rcnn::api::CompareReport* report() const { return m_report.get(); }

 signals:
  void runRequested(const rcnn::api::CompareRequest& req);
  // Show model B (this panel's B field) beside the studio's model.
  void showBesideRequested(const QString& checkpointB);
  void openAt(const QString& path, int stage, int gt, const QString& split);
  void message(const QString& text);

 private:
  QString m_dataset, m_checkpoint, m_config;
  QLineEdit* m_other;
  QComboBox* m_split;
  QPushButton* m_run;
  QLabel* m_summary;
  QTableWidget *m_classes, *m_gts, *m_images;
  std::shared_ptr<const rcnn::api::CompareReport> m_report;
  bool m_running = false;
};

}  // namespace studio
