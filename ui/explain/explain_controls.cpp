#include "explain/explain_controls.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QProgressBar>
#include <QSpinBox>

#include "studio_context.h"

namespace studio {

ExplainControls::ExplainControls(StudioContext& ctx, const QString& stage, QWidget* parent)
    : QWidget(parent), m_ctx(ctx) {
  setObjectName("explainControls" + stage);
  auto* l = new QFormLayout(this);
  l->setContentsMargins(0, 4, 0, 0);
  m_toggle = new QCheckBox("Explain the selected box (heat map)", this);
  m_toggle->setObjectName("explainToggle");
  m_toggle->setToolTip("Which pixels made the selected box score what it scores; click a box to select it");
  m_method = new QComboBox(this);
  m_method->setObjectName("explainMethod");
  m_method->addItem("HiResCAM (the box's own cells)", "hirescam");
  m_method->addItem("Grad-CAM (level-wide weights)", "gradcam");
  m_method->addItem("input × gradient", "inputgrad");
  m_method->addItem("D-RISE (black box, slow)", "drise");
  m_level = new QComboBox(this);
  m_level->setObjectName("explainLevel");
  m_backbone = new QCheckBox("Backbone level (c under p)", this);
  m_backbone->setObjectName("explainBackbone");
  m_masks = new QSpinBox(this);
  m_masks->setObjectName("explainMasks");
  m_masks->setRange(16, 20000);
  m_masks->setSingleStep(100);
  m_masks->setValue(1000);
  m_masks->setToolTip("D-RISE: random masks (about 9 s per 1000 on the bundled model's CPU run)");
  m_status = new QLabel(this);
  m_status->setObjectName("explainStatus");
  m_status->setWordWrap(true);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_progress = new QProgressBar(this);
  m_progress->setObjectName("explainProgress");
  m_progress->hide();
  l->addRow(m_toggle);
  l->addRow("Method", m_method);
  l->addRow("Level", m_level);
  l->addRow(m_backbone);
  l->addRow("D-RISE masks", m_masks);
  l->addRow(m_status);
  l->addRow(m_progress);
  fillLevels();
  fill();
  showState();
  // Typing a count asks for it when editing ends (not one D-RISE run per keystroke); the arrows ask at once.
  m_masks->setKeyboardTracking(false);
  connect(m_masks, qOverload<int>(&QSpinBox::valueChanged), this, &ExplainControls::edit);
  connect(m_toggle, &QCheckBox::toggled, this, &ExplainControls::edit);
  connect(m_backbone, &QCheckBox::toggled, this, &ExplainControls::edit);
  connect(m_method, qOverload<int>(&QComboBox::currentIndexChanged), this, &ExplainControls::edit);
  connect(m_level, qOverload<int>(&QComboBox::currentIndexChanged), this, &ExplainControls::edit);
  connect(&ctx, &StudioContext::explainSettingsChanged, this, &ExplainControls::fill);
  connect(&ctx, &StudioContext::explainShownChanged, this, &ExplainControls::showState);
  connect(&ctx, &StudioContext::traceChanged, this, &ExplainControls::fillLevels);
}

void ExplainControls::edit() {
  if (m_filling) return;
  ExplainSettings s = m_ctx.explainSettings();
  s.enabled = m_toggle->isChecked();
  s.method = m_method->currentData().toString().toStdString();
  s.level = m_level->currentIndex() - 1;
  s.backbone = m_backbone->isChecked();
  s.masks = m_masks->value();
  m_ctx.setExplainSettings(s);
}

void ExplainControls::fill() {
  const ExplainSettings& s = m_ctx.explainSettings();
  m_filling = true;
  m_toggle->setChecked(s.enabled);
  m_method->setCurrentIndex(std::max(0, m_method->findData(QString::fromStdString(s.method))));
  if (s.level + 1 < m_level->count()) m_level->setCurrentIndex(s.level + 1);
  m_backbone->setChecked(s.backbone);
  m_masks->setValue(s.masks);
  const bool cam = explainOnLevel(s.method);
  m_level->setEnabled(cam);
  m_backbone->setEnabled(cam);
  m_masks->setEnabled(s.method == "drise");
  m_filling = false;
}

void ExplainControls::fillLevels() {
  const auto& t = m_ctx.trace();
  QStringList names{"the box's own level"};
  if (t)
    for (const auto& L : t->levels) names << QString::fromStdString(L.name);
  QStringList now;
  for (int i = 0; i < m_level->count(); ++i) now << m_level->itemText(i);
  if (now == names) return;
  m_filling = true;
  m_level->clear();
  m_level->addItems(names);
  const int want = m_ctx.explainSettings().level + 1;
  m_level->setCurrentIndex(want < m_level->count() ? want : 0);
  m_filling = false;
  if (want >= m_level->count()) edit();  // that level is gone with the new model: its own level
}

void ExplainControls::showState() {
  const ExplainShown& s = m_ctx.explainShown();
  m_status->setText(s.status);
  m_status->setStyleSheet(s.error ? "color: #f55;" : "");
  m_progress->setVisible(s.busy && s.total > 0);
  if (s.total > 0) {
    m_progress->setRange(0, s.total);
    m_progress->setValue(s.done);
  }
}

}  // namespace studio
