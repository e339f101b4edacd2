#include "params_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

namespace studio {

ParamsPanel::ParamsPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  m_preset = new QComboBox(this);
  m_preset->addItems({"seed", "default", "fast"});
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
  if (m_updating) return;
  auto c = m_cfg;
  try {
    rcnn::apply_override(c, (key + "=" + json).toStdString());
  } catch (const std::exception& e) {
    m_error->setText(e.what());  // keep the last valid config
    return;
  }
  m_error->clear();
  m_cfg = c;
  m_updating = true;
  for (auto& r : m_refreshers) r();
  m_updating = false;
  emit configChanged(m_cfg);
}

void ParamsPanel::rebuild() {
  auto section = [&](const QString& s) {
    auto* l = new QLabel("<b>" + s + "</b>", this);
    m_form->addRow(l);
  };
  auto dbl = [&](const QString& key, double lo, double hi, double step, std::function<double()> get) {
    auto* w = new QDoubleSpinBox(this);
    w->setObjectName(key);
    w->setRange(lo, hi);
    w->setSingleStep(step);
    w->setDecimals(step < 0.01 ? 3 : 2);
    w->setKeyboardTracking(false);
    m_form->addRow(key.section('.', 1), w);
    m_refreshers.push_back([w, get] { w->setValue(get()); });
    connect(w, qOverload<double>(&QDoubleSpinBox::valueChanged), this,
            [this, key](double v) { apply(key, QString::number(v, 'g', 10)); });
  };
  auto integer = [&](const QString& key, int lo, int hi, std::function<int()> get) {
    auto* w = new QSpinBox(this);
    w->setObjectName(key);
    w->setRange(lo, hi);
    w->setKeyboardTracking(false);
    m_form->addRow(key.section('.', 1), w);
    m_refreshers.push_back([w, get] { w->setValue(get()); });
    connect(w, qOverload<int>(&QSpinBox::valueChanged), this, [this, key](int v) { apply(key, QString::number(v)); });
  };
  auto boolean = [&](const QString& key, std::function<bool()> get) {
    auto* w = new QCheckBox(this);
    w->setObjectName(key);
    m_form->addRow(key.section('.', 1), w);
    m_refreshers.push_back([w, get] { w->setChecked(get()); });
    connect(w, &QCheckBox::toggled, this, [this, key](bool v) { apply(key, v ? "true" : "false"); });
  };
  auto choice = [&](const QString& key, const QStringList& items, std::function<std::string()> get) {
    auto* w = new QComboBox(this);
    w->setObjectName(key);
    w->addItems(items);
    m_form->addRow(key.section('.', 1), w);
    m_refreshers.push_back([w, get] { w->setCurrentText(QString::fromStdString(get())); });
    connect(w, &QComboBox::textActivated, this, [this, key](const QString& v) { apply(key, "\"" + v + "\""); });
  };
  auto list = [&](const QString& key, std::function<std::vector<double>()> get) {
    auto* w = new QLineEdit(this);
    w->setObjectName(key);
    m_form->addRow(key.section('.', 1), w);
    m_refreshers.push_back([w, get] {
      QStringList s;
      for (double v : get()) s << QString::number(v);
      w->setText(s.join(", "));
    });
    connect(w, &QLineEdit::editingFinished, this, [this, key, w] { apply(key, "[" + w->text() + "]"); });
  };
  const auto& c = m_cfg;
  section("Input");
  choice("input.resize", {"stretch", "letterbox"}, [&c] { return c.input.resize; });
  section("Anchors");
  dbl("anchors.stride_scale", 0.5, 32, 0.5, [&c] { return c.anchors.stride_scale; });
  list("anchors.aspect_ratios", [&c] { return c.anchors.aspect_ratios; });
  integer("anchors.scales_per_octave", 1, 4, [&c] { return c.anchors.scales_per_octave; });
  section("RPN matching and sampling");
  dbl("rpn.iou_lo", 0, 1, 0.05, [&c] { return c.rpn.iou_lo; });
  dbl("rpn.iou_hi", 0, 1, 0.05, [&c] { return c.rpn.iou_hi; });
  boolean("rpn.allow_low_quality_matches", [&c] { return c.rpn.allow_low_quality_matches; });
  integer("rpn.batch_size_per_image", 1, 4096, [&c] { return c.rpn.batch_size_per_image; });
  dbl("rpn.fg_fraction", 0, 1, 0.05, [&c] { return c.rpn.fg_fraction; });
  section("Proposals");
  integer("rpn.pre_nms_topk_test", 1, 10000, [&c] { return c.rpn.pre_nms_topk_test; });
  integer("rpn.post_nms_topk_test", 1, 10000, [&c] { return c.rpn.post_nms_topk_test; });
  dbl("rpn.nms_thresh", 0, 1, 0.05, [&c] { return c.rpn.nms_thresh; });
  dbl("rpn.min_box_size", 0, 100, 1, [&c] { return c.rpn.min_box_size; });
  section("RoIAlign and second stage");
  integer("roi.sampling_ratio", -1, 8, [&c] { return c.roi.sampling_ratio; });
  boolean("roi.aligned", [&c] { return c.roi.aligned; });
  choice("roi.level_assignment", {"own", "size"}, [&c] { return c.roi.level_assignment; });
  dbl("roi.score_thresh", 0, 1, 0.01, [&c] { return c.roi.score_thresh; });
  dbl("roi.nms_thresh", 0, 1, 0.05, [&c] { return c.roi.nms_thresh; });
  integer("roi.detections_per_image", 1, 1000, [&c] { return c.roi.detections_per_image; });
  section("Model shape (changing these resets to random weights)");
  integer("roi.roi_size", 1, 32, [&c] { return c.roi.roi_size; });
  choice("backbone.name", {"fast", "regnetx_400mf"}, [&c] { return c.backbone.name; });
  boolean("roi.box_regression", [&c] { return c.roi.box_regression; });
  setConfig(m_cfg);
}

}  // namespace studio
