#pragma once
// The "Explain" controls a stage puts on its page (Proposals, RoIAlign,
// Predictions): the toggle, the method, level, backbone and D-RISE mask
// pickers, and the status line with the D-RISE progress. Every instance edits
// and shows the one state of the StudioContext (ExplainSettings, ExplainShown).
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QSpinBox;

namespace studio {

class StudioContext;

class ExplainControls : public QWidget {
  Q_OBJECT
 public:
  // objectName: "explainControls" + stage ("explainControlsPredictions"); children: explainToggle,
  // explainMethod, explainLevel, explainBackbone, explainMasks, explainStatus, explainProgress.
  ExplainControls(StudioContext& ctx, const QString& stage, QWidget* parent);

 private:
  void edit();        // a picker changed: the settings from the widgets
  void fill();        // the settings changed: the widgets from them
  void fillLevels();  // the trace's FPN levels
  void showState();   // the status line and progress

  StudioContext& m_ctx;
  QCheckBox *m_toggle, *m_backbone;
  QComboBox *m_method, *m_level;
  QSpinBox* m_masks;
  QLabel* m_status;
  QProgressBar* m_progress;
  bool m_filling = false;
};

}  // namespace studio
