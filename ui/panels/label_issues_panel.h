#pragma once
// Label issues: the label doctor (api/label_issues_job.h) over a split, run
// off the GUI thread (with the current model, or K fold models trained out
// of sample), or a `rcnn label-issues --json` file loaded. The ranked list
// with thumbnails, filtered by kind and class; selecting one opens its image
// with the issue and its suggested fix drawn; A / R / Ctrl+Z accept, reject
// and undo; "Export corrected" writes a new VOC folder or COCO file with the
// accepted fixes and a decisions JSON (api/label_fixes.h). The dataset's own
// files are never written.
#include <QWidget>
#include <memory>
#include <thread>
#include <vector>

#include "api/label_fixes.h"
#include "api/label_issues_job.h"
#include "studio_context.h"

class QTableWidget;
class QPushButton;
class QLabel;
class QComboBox;
class QSpinBox;

namespace studio {

class LabelIssuesPanel : public QWidget {
  Q_OBJECT
 public:
  explicit LabelIssuesPanel(QWidget* parent = nullptr);
  ~LabelIssuesPanel() override;
  // The dataset and the model the next run uses (the studio's).
  void setSource(const QString& dataset, const QString& checkpoint);
  void setSplit(const QString& split);
  void setFolds(int folds);  // 0: the current model
  void run();
  void cancel();
  // Loads a `rcnn label-issues --json` file for the current dataset and split; false (and message()) on error.
  bool loadJson(const QString& path);
  void showResult(std::shared_ptr<const rcnn::api::LabelIssuesResult> r);
  // Accept / reject the current row's issue (then the next visible row is selected); undo the last decision.
  void decide(rcnn::api::LabelDecisionState s);
  void undo();
  // Writes the accepted fixes to `out`; false (and message()) on error.
  bool exportCorrected(const QString& out);
  void setFilter(int kind, int label);  // -1: all

  bool running() const { return m_running; }
  QTableWidget* table() const { return m_table; }
  const std::vector<rcnn::api::LabelDecision>& decisions() const { return m_decisions; }
  const rcnn::api::DatasetInfo& datasetInfo() const { return m_ds; }

 signals:
  // Open this image of the split with the issue and its fix drawn.
  void openIssue(const QString& path, const QString& split, const studio::LabelMark& mark);
  void message(const QString& text);
  void finished();  // a run or load ended (the list shows its result or its error)

 private:
  void fill();
  void applyFilter();
  void refreshRow(int row);
  void openRow(int row);
  QString caption(const rcnn::api::LabelIssue& is) const;
  QString className(int label) const;

  QString m_datasetPath, m_checkpoint;
  QComboBox *m_split, *m_kind, *m_class;
  QSpinBox *m_folds, *m_minutes;
  QPushButton *m_run, *m_cancel, *m_load, *m_export;
  QLabel* m_summary;
  QTableWidget* m_table;
  std::shared_ptr<const rcnn::api::LabelIssuesResult> m_result;
  rcnn::api::DatasetInfo m_ds;                                        // the split the result is about (for export)
  std::vector<rcnn::api::LabelDecision> m_decisions;                  // one per issue, in the result's order
  std::vector<std::pair<int, rcnn::api::LabelDecisionState>> m_undo;  // (issue, state before)
  std::unique_ptr<rcnn::api::LabelIssuesJob> m_job;
  std::thread m_thread;
  bool m_running = false;
};

}  // namespace studio
