#pragma once
// The side panel of the current stage: a thin dispatcher over the stage
// views (ui/stages/): title, plain-words explanation, the formula for the
// hovered item, the counts line, and the stage's own page of controls.
#include <QWidget>

class QLabel;
class QStackedWidget;

namespace studio {

class StudioContext;

class StagePanel : public QWidget {
  Q_OBJECT
 public:
  explicit StagePanel(StudioContext& ctx, QWidget* parent = nullptr);

  // Read by tests.
  QString countsText() const;
  QString formulaText() const;
  int positiveCount() const;

 private:
  void refresh();
  void refreshFormula();

  StudioContext& m_ctx;
  QLabel* m_title;
  QLabel* m_explain;
  QLabel* m_formula;
  QLabel* m_counts;
  QStackedWidget* m_pages;
};

}  // namespace studio
