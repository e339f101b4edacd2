#pragma once
// Anchors (dataset): how well the current anchor and matcher settings cover
// every GT of a split (api::run_coverage, run on the JobRunner): best possible
// recall, positives per GT, plots of GT sizes and aspects against the anchors
// of each level, the GTs no anchor covers (double-click: open at the Matching
// stage with it selected) and anchor suggestions to apply. Recomputed by
// itself when an anchor or matcher setting changes.
#include <QWidget>
#include <memory>

#include "api/coverage_job.h"

class QTableWidget;
class QPushButton;
class QLabel;
class QComboBox;
class QChartView;
class QSpinBox;

namespace studio {

class CoveragePanel : public QWidget {
  Q_OBJECT
 public:
  explicit CoveragePanel(QWidget* parent = nullptr);
  // The split's dataset and the studio's current config (JSON); recomputes
  // when the anchors or the matcher changed since the last report.
  void setSource(const QString& dataset, const QString& configJson);
  void run();
  void suggest();
  void showReport(std::shared_ptr<const rcnn::api::CoverageReport> r);
  void showSuggestions(std::shared_ptr<const rcnn::api::SuggestReport> r);
  void showFailure(const QString& message);
  // PNG of each chart and the SVG plots into dir; false if a file could not be written.
  bool exportPlots(const QString& dir);
  const rcnn::api::CoverageReport* report() const { return m_report.get(); }
  const rcnn::api::SuggestReport* suggestions() const { return m_suggest.get(); }
  bool busy() const { return m_busy; }
  QTableWidget* uncoveredTable() const { return m_none; }
  // The search's sample size and cap on anchors per location (the panel's two spin boxes).
  void setSearch(int images, int maxPerLocation);
  // Applies suggestion k (emits applyAnchors).
  void applySuggestion(int k);

 signals:
  void coverageRequested(const rcnn::api::CoverageRequest& req);
  void suggestRequested(const rcnn::api::SuggestRequest& req);
  void openAt(const QString& path, int stage, int gt, const QString& split);
  // key -> JSON value, to set in the Parameters panel.
  void applyAnchors(const QStringList& keys, const QStringList& values);
  void message(const QString& text);

 private:
  rcnn::api::CoverageRequest request() const;
  void drawCharts();

  QString m_dataset, m_config, m_reportKey;
  QComboBox* m_split;
  QSpinBox *m_searchImages, *m_maxAnchors;
  QPushButton *m_run, *m_suggestButton, *m_apply, *m_export;
  QLabel* m_summary;
  QChartView *m_sizes, *m_aspects, *m_positives, *m_bpr;
  QTableWidget *m_none, *m_table;
  std::shared_ptr<const rcnn::api::CoverageReport> m_report;
  std::shared_ptr<const rcnn::api::SuggestReport> m_suggest;
  bool m_busy = false;
};

}  // namespace studio
