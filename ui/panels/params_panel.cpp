#include "params_panel.h"

#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include "config/config_fields.h"

namespace studio {

ParamsPanel::ParamsPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  m_preset = new QComboBox(this);
  m_preset->addItems({"seed", "default", "fast"});
  for (const auto& p : rcnn::torchvision_presets()) m_preset->addItem(QString::fromStdString(p));
  auto* load = new QPushButton("Load…", this);
  auto* save = new QPushButton("Save…", this);
  auto* reset = new QPushButton("Reset", this);
  top->addWidget(new QLabel("Preset", this));
  top->addWidget(m_preset, 1);
  top->addWidget(reset);
  top->addWidget(load);
  top->addWidget(save);
  lay->addLayout(top);
  m_error = new QLabel(this);
  m_error->setObjectName("paramsError");
  m_error->setWordWrap(true);
  m_error->setStyleSheet("color: #f55;");
  lay->addWidget(m_error);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  auto* inner = new QWidget(scroll);
  m_form = new QFormLayout(inner);
  scroll->setWidget(inner);
  lay->addWidget(scroll, 1);
  connect(reset, &QPushButton::clicked, this, [this] { loadPreset(m_preset->currentText()); });
  connect(m_preset, &QComboBox::textActivated, this, [this](const QString& p) { loadPreset(p); });
  connect(load, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(
        this, "Load config", QString::fromStdString(rcnn::resource_dir() + "/configs"), "JSON (*.json)");
    if (f.isEmpty()) return;
    try {
      auto c = rcnn::load_config(f.toStdString());
      c.num_classes = m_cfg.num_classes;
      c.class_names = m_cfg.class_names;
      setConfig(c);
      emit configChanged(m_cfg);
    } catch (const std::exception& e) {
      m_error->setText(e.what());
      emit message(e.what());
    }
  });
  connect(save, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, "Save config", "config.json", "JSON (*.json)");
    if (f.isEmpty()) return;
    try {
      rcnn::save_config(m_cfg, f.toStdString());
      emit message("saved " + f);
    } catch (const std::exception& e) {
      m_error->setText(e.what());
    }
  });
  rebuild();
}

void ParamsPanel::loadPreset(const QString& name) {
  try {
    auto c = rcnn::load_preset(name.toStdString());
    c.num_classes = m_cfg.num_classes;
    c.class_names = m_cfg.class_names;
    m_preset->setCurrentText(name);
    setConfig(c);
    emit configChanged(m_cfg);
  } catch (const std::exception& e) {
    m_error->setText(e.what());
    emit message(e.what());
  }
}

void ParamsPanel::setConfig(const rcnn::DetectorConfig& c) {
  m_cfg = c;
  // A torchvision preset shows torchvision's options; the seed's sections
  // (which it does not use) are hidden, and the other way round.
  const bool tv = c.is_torchvision();
  for (const auto& [w, tvRow] : m_rows)
    if (tvRow >= 0) m_form->setRowVisible(w, (tvRow == 1) == tv);
  if (m_preset->findText(QString::fromStdString(c.name)) >= 0) m_preset->setCurrentText(QString::fromStdString(c.name));
  m_updating = true;
  for (auto& r : m_refreshers) r();
  m_updating = false;
  m_error->clear();
}

bool ParamsPanel::setValue(const QString& key, const QString& json) {
  apply(key, json);
  return m_error->text().isEmpty();
}

void ParamsPanel::apply(const QString& key, const QString& json) {
  applyAll({key}, {json});
}

bool ParamsPanel::setValues(const QStringList& keys, const QStringList& values) {
  applyAll(keys, values);
  return m_error->text().isEmpty();
}

// All changes at once: validated together, one question if they change the
// model's shape, one configChanged.
void ParamsPanel::applyAll(const QStringList& keys, const QStringList& values) {
  if (m_updating) return;
  auto c = m_cfg;
  try {
    for (int k = 0; k < keys.size(); ++k) rcnn::apply_override(c, (keys[k] + "=" + values[k]).toStdString());
  } catch (const std::exception& e) {
    m_error->setText(e.what());  // keep the last valid config
    return;
  }
  // Weight shapes follow the field table's shape flags and the anchors per location.
  if (!rcnn::same_weight_shapes(m_cfg, c) && m_guard && !m_guard(keys.join(", "))) {
    m_error->setText(keys.join(", ") + ": not changed (it would replace the loaded checkpoint with random weights)");
    m_updating = true;
    for (auto& r : m_refreshers) r();  // show the kept value again
    m_updating = false;
    return;
  }
  m_error->clear();
  m_cfg = c;
  m_updating = true;
  for (auto& r : m_refreshers) r();
  m_updating = false;
  emit configChanged(m_cfg);
}

// One row per field of the config's field table, grouped as the table
// groups them, with the field's doc line as tooltip.
void ParamsPanel::rebuild() {
  QString group;
  for (const auto& f : rcnn::config_fields()) {
    // 1: torchvision's section, 0: the seed's, -1: both (model, solver).
    const int tvRow = f.group.rfind("torchvision", 0) == 0 ? 1 : (f.group == "Model" || f.group.rfind("Solver", 0) == 0) ? -1 : 0;
    if (QString::fromStdString(f.group) != group) {
      group = QString::fromStdString(f.group);
      auto* header = new QLabel("<b>" + group + "</b>", this);
      m_form->addRow(header);
      m_rows.emplace_back(header, tvRow);
    }
    const QString key = QString::fromStdString(f.key);
    QString tip = QString::fromStdString(f.doc);
    if (f.shape) tip += " — changes weight shapes: the model restarts from random weights";
    if (f.from_model) tip += " — set by the loaded model / dataset";
    const rcnn::FieldSpec* spec = &f;
    auto value = [this, spec] { return QString::fromStdString(rcnn::field_json(m_cfg, *spec)); };
    QWidget* w = nullptr;
    const double lo = std::isnan(f.min) ? -1e9 : f.min, hi = std::isnan(f.max) ? 1e9 : std::min(f.max, 1e9);
    if (f.kind == rcnn::FieldKind::Int) {
      auto* sb = new QSpinBox(this);
      sb->setRange(int(std::max(lo, -1e9)), int(hi));
      sb->setKeyboardTracking(false);
      m_refreshers.push_back([sb, value] { sb->setValue(value().toInt()); });
      connect(sb, qOverload<int>(&QSpinBox::valueChanged), this, [this, key](int v) { apply(key, QString::number(v)); });
      w = sb;
    } else if (f.kind == rcnn::FieldKind::Double) {
      auto* sb = new QDoubleSpinBox(this);
      sb->setRange(lo, hi);
      sb->setDecimals(hi <= 1 ? 3 : 4);
      sb->setSingleStep(hi <= 1 ? 0.05 : 0.5);
      sb->setKeyboardTracking(false);
      m_refreshers.push_back([sb, value] { sb->setValue(value().toDouble()); });
      connect(sb, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
              [this, key](double v) { apply(key, QString::number(v, 'g', 10)); });
      w = sb;
    } else if (f.kind == rcnn::FieldKind::Bool) {
      auto* cb = new QCheckBox(this);
      m_refreshers.push_back([cb, value] { cb->setChecked(value() == "true"); });
      connect(cb, &QCheckBox::toggled, this, [this, key](bool v) { apply(key, v ? "true" : "false"); });
      w = cb;
    } else if (f.kind == rcnn::FieldKind::String && !f.choices.empty()) {
      auto* cb = new QComboBox(this);
      for (const auto& c : f.choices) cb->addItem(QString::fromStdString(c));
      m_refreshers.push_back([cb, value] { cb->setCurrentText(value().mid(1, value().size() - 2)); });
      connect(cb, &QComboBox::textActivated, this, [this, key](const QString& v) { apply(key, "\"" + v + "\""); });
      w = cb;
    } else {
      // Free text, numbers without a widget of their own, and lists (comma separated).
      auto* le = new QLineEdit(this);
      const bool list = f.list(), str = f.kind == rcnn::FieldKind::String;
      const bool nested = f.kind == rcnn::FieldKind::DoubleLists;
      m_refreshers.push_back([le, value, list, str, nested] {
        QString v = value();
        if (list || str) v = v.mid(1, v.size() - 2);
        if (nested) {  // [[32.0], [64.0]] -> [32], [64]
          v.replace(QRegularExpression("\\.0(?=[,\\]])"), "");
          v.replace(",", ", ");
        } else if (list) {  // floats widened to double print as 0.48500001430511475: show 6 digits
          QStringList parts = v.split(',');
          for (auto& p : parts) {
            bool ok = false;
            const double d = p.toDouble(&ok);
            if (ok) p = QString::number(d, 'g', 6);
          }
          v = parts.join(", ");
        }
        le->setText(v);
      });
      connect(le, &QLineEdit::editingFinished, this, [this, key, le, list, str] {
        const QString t = le->text();
        apply(key, list ? "[" + t + "]" : str ? "\"" + t + "\"" : t);
      });
      w = le;
    }
    w->setObjectName(key);
    w->setToolTip(tip);
    w->setEnabled(!f.from_model);
    auto* label = new QLabel(key.section('.', 1).isEmpty() ? key : key.section('.', 1), this);
    label->setToolTip(tip);
    m_form->addRow(label, w);
    m_rows.emplace_back(w, tvRow);
  }
  setConfig(m_cfg);
}

}  // namespace studio
