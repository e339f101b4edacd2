#include "stage_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QRandomGenerator>
#include <QScrollArea>
#include <QSlider>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

namespace studio {
using namespace rcnn::api;

namespace {
const char* kExplain[] = {
    "The image is resized to the model's square input and normalised. Ground-truth boxes are mapped with the same "
    "scale, so every later stage works in input pixels.",
    "Every cell of each FPN level (p3/p4/p5, strides 8/16/32) is the centre of A anchors: one per aspect ratio (and "
    "scale), all with area (stride·stride_scale)². Hover the image to see the anchors of that location.",
    "Each anchor takes its highest-IoU GT box. IoU ≤ lo makes it background, IoU ≥ hi makes it a positive for that "
    "GT, anything between is neutral and never trained on (the seed's -1e8 rows).",
    "Training uses only a few anchors per image: up to fg_fraction of them positive, the rest background, drawn at "
    "random without repeats. Neutral anchors are never sampled. Re-roll to draw again.",
    "The RPN scores every anchor and predicts deltas. Per level, the top-k anchors by objectness are decoded into "
    "boxes, clipped, and greedy NMS removes boxes overlapping a better one by more than the threshold.",
    "Each kept proposal is cut out of its FPN level with RoIAlign: the box is divided into S×S bins and each bin "
    "averages bilinear samples of the feature map (no rounding, aligned = half-pixel shift).",
    "The second stage classifies every RoI over C+1 classes (0 = background). A box is reported for each class whose "
    "probability passes the score threshold, then per-class NMS removes duplicates.",
};
QString f3(double v) {
  return QString::number(v, 'f', 3);
}
QString f1(double v) {
  return QString::number(v, 'f', 1);
}

QCheckBox* check(const QString& text, bool on, QWidget* parent) {
  auto* c = new QCheckBox(text, parent);
  c->setChecked(on);
  return c;
}
}  // namespace

StagePanel::StagePanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  m_title = new QLabel(this);
  m_title->setObjectName("stageTitle");
  m_title->setStyleSheet("font-size: 15px; font-weight: bold;");
  m_explain = new QLabel(this);
  m_explain->setWordWrap(true);
  m_formula = new QLabel(this);
  m_formula->setObjectName("stageFormula");
  m_formula->setWordWrap(true);
  m_formula->setTextFormat(Qt::RichText);
  m_formula->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_formula->setStyleSheet("font-family: monospace; padding: 4px; border: 1px solid palette(mid);");
  m_formula->setMinimumHeight(96);
  m_formula->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  m_formula->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  m_counts = new QLabel(this);
  m_counts->setObjectName("stageCounts");
  m_counts->setWordWrap(true);
  m_pages = new QStackedWidget(this);
  m_pages->addWidget(new QWidget(this));  // Image
  m_pages->addWidget(buildAnchors());
  m_pages->addWidget(buildMatching());
  m_pages->addWidget(buildSampling());
  m_pages->addWidget(buildProposals());
  m_pages->addWidget(buildRoi());
  m_pages->addWidget(buildPredictions());
  lay->addWidget(m_title);
  lay->addWidget(m_explain);
  lay->addWidget(m_formula);
  lay->addWidget(m_counts);
  lay->addWidget(m_pages, 1);
  setStage(Stage::Image);
}

QWidget* StagePanel::buildAnchors() {
  auto* w = new QWidget(this);
  auto* l = new QVBoxLayout(w);
  auto* lv = new QHBoxLayout;
  const char* names[] = {"p3", "p4", "p5"};
  for (int i = 0; i < 3; ++i) {
    m_level[i] = check(names[i], true, w);
    lv->addWidget(m_level[i]);
    connect(m_level[i], &QCheckBox::toggled, this, &StagePanel::emitOptions);
  }
  l->addLayout(lv);
  m_shapeBox = new QWidget(w);
  new QHBoxLayout(m_shapeBox);
  l->addWidget(m_shapeBox);
  m_centres = check("Grid of centres", true, w);
  m_allAnchors = check("Every anchor of the enabled levels/shapes", false, w);
  l->addWidget(m_centres);
  l->addWidget(m_allAnchors);
  connect(m_centres, &QCheckBox::toggled, this, &StagePanel::emitOptions);
  connect(m_allAnchors, &QCheckBox::toggled, this, &StagePanel::emitOptions);
  l->addStretch();
  return w;
}

QWidget* StagePanel::buildMatching() {
  auto* w = new QWidget(this);
  auto* l = new QVBoxLayout(w);
  m_neutral = check("Neutral anchors", true, w);
  m_negative = check("Negative anchors", false, w);
  m_heatmap = check("IoU heatmap of the selected GT", true, w);
  for (auto* c : {m_neutral, m_negative, m_heatmap}) {
    l->addWidget(c);
    connect(c, &QCheckBox::toggled, this, &StagePanel::emitOptions);
  }
  m_gtTable = new QTableWidget(w);
  m_gtTable->setObjectName("gtTable");
  m_gtTable->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_gtTable->setSelectionMode(QAbstractItemView::SingleSelection);
  m_gtTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_gtTable->verticalHeader()->hide();
  l->addWidget(new QLabel("Per GT (click a row to select it; click again on the canvas GT):", w));
  l->addWidget(m_gtTable, 1);
  connect(m_gtTable, &QTableWidget::itemSelectionChanged, this, [this] {
    if (m_updating) return;
    auto rows = m_gtTable->selectionModel()->selectedRows();
    m_opt.selectedGt = rows.isEmpty() ? -1 : rows.first().row();
    emit optionsChanged(m_opt);
  });
  return w;
}

QWidget* StagePanel::buildSampling() {
  auto* w = new QWidget(this);
  auto* l = new QFormLayout(w);
  m_seed = new QSpinBox(w);
  m_seed->setObjectName("sampleSeed");
  m_seed->setRange(0, 1 << 30);
  auto* reroll = new QPushButton("Re-roll", w);
  reroll->setObjectName("rerollButton");
  l->addRow("Seed", m_seed);
  l->addRow(reroll);
  connect(m_seed, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) {
    if (!m_updating) emit sampleSeedChanged(quint64(v));
  });
  connect(reroll, &QPushButton::clicked, this,
          [this] { m_seed->setValue(int(QRandomGenerator::global()->bounded(1 << 30))); });
  return w;
}

QWidget* StagePanel::buildProposals() {
  auto* w = new QWidget(this);
  auto* l = new QFormLayout(w);
  m_scoreMin = new QSlider(Qt::Horizontal, w);
  m_scoreMin->setRange(0, 100);
  m_preNms = check("Pre-NMS candidates", false, w);
  m_suppressed = check("Suppressed boxes (hover one to see its suppressor)", false, w);
  m_objHeat = check("Objectness heatmap", false, w);
  m_heatLevel = new QComboBox(w);
  m_heatLevel->addItems({"p3", "p4", "p5"});
  m_heatShape = new QSpinBox(w);
  m_heatShape->setRange(0, 15);
  m_funnelLabel = new QLabel(w);
  m_funnelLabel->setWordWrap(true);
  l->addRow("Min objectness", m_scoreMin);
  l->addRow(m_preNms);
  l->addRow(m_suppressed);
  l->addRow(m_objHeat);
  l->addRow("Heatmap level", m_heatLevel);
  l->addRow("Heatmap anchor shape", m_heatShape);
  l->addRow("GT recall", m_funnelLabel);
  connect(m_scoreMin, &QSlider::valueChanged, this, &StagePanel::emitOptions);
  for (auto* c : {m_preNms, m_suppressed, m_objHeat}) connect(c, &QCheckBox::toggled, this, &StagePanel::emitOptions);
  connect(m_heatLevel, qOverload<int>(&QComboBox::currentIndexChanged), this, &StagePanel::emitOptions);
  connect(m_heatShape, qOverload<int>(&QSpinBox::valueChanged), this, &StagePanel::emitOptions);
  return w;
}

QWidget* StagePanel::buildRoi() {
  auto* w = new QWidget(this);
  auto* l = new QVBoxLayout(w);
  auto* f = new QFormLayout;
  m_roi = new QSpinBox(w);
  m_roi->setObjectName("roiIndex");
  m_roi->setRange(0, 0);
  m_channel = new QSpinBox(w);
  m_channel->setRange(-1, 1023);
  m_channel->setSpecialValueText("mean");
  m_channel->setValue(-1);
  f->addRow("Kept proposal", m_roi);
  f->addRow("Feature channel", m_channel);
  l->addLayout(f);
  auto* imgs = new QHBoxLayout;
  m_crop = new QLabel(w);
  m_pooled = new QLabel(w);
  m_crop->setFixedSize(112, 112);
  m_pooled->setFixedSize(112, 112);
  imgs->addWidget(m_crop);
  imgs->addWidget(m_pooled);
  l->addWidget(new QLabel("Image crop (RoIAlign of the input)  |  pooled S×S features:", w));
  l->addLayout(imgs);
  m_gallery = new QListWidget(w);
  m_gallery->setViewMode(QListView::IconMode);
  m_gallery->setIconSize(QSize(40, 40));
  m_gallery->setResizeMode(QListView::Adjust);
  l->addWidget(new QLabel("All kept proposals:", w));
  l->addWidget(m_gallery, 1);
  connect(m_roi, qOverload<int>(&QSpinBox::valueChanged), this, [this](int v) {
    if (m_updating) return;
    m_opt.selectedRoi = v;
    emit roiSelected(v);
    emitOptions();
  });
  connect(m_channel, qOverload<int>(&QSpinBox::valueChanged), this, [this] { refresh(); });
  connect(m_gallery, &QListWidget::currentRowChanged, this, [this](int r) {
    if (!m_updating && r >= 0) m_roi->setValue(r);
  });
  return w;
}

QWidget* StagePanel::buildPredictions() {
  auto* w = new QWidget(this);
  auto* l = new QFormLayout(w);
  m_predScore = new QSlider(Qt::Horizontal, w);
  m_predScore->setObjectName("predScore");
  m_predScore->setRange(0, 100);
  m_predNms = new QSlider(Qt::Horizontal, w);
  m_predNms->setRange(0, 100);
  m_predScoreLabel = new QLabel(w);
  m_predNmsLabel = new QLabel(w);
  l->addRow("Score threshold", m_predScore);
  l->addRow("", m_predScoreLabel);
  l->addRow("NMS threshold", m_predNms);
  l->addRow("", m_predNmsLabel);
  m_missTable = new QTableWidget(w);
  m_missTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_missTable->verticalHeader()->hide();
  l->addRow(new QLabel("Missed GT and the stage that lost them:", w));
  l->addRow(m_missTable);
  connect(m_predScore, &QSlider::valueChanged, this, [this](int v) {
    m_predScoreLabel->setText(QString::number(v / 100.0, 'f', 2));
    if (!m_updating) emit scoreThreshChanged(v / 100.0);
  });
  connect(m_predNms, &QSlider::valueChanged, this, [this](int v) {
    m_predNmsLabel->setText(QString::number(v / 100.0, 'f', 2));
    if (!m_updating) emit nmsThreshChanged(v / 100.0);
  });
  return w;
}

void StagePanel::setConfigValues(double score, double nms) {
  m_updating = true;
  m_predScore->setValue(int(std::lround(score * 100)));
  m_predNms->setValue(int(std::lround(nms * 100)));
  m_predScoreLabel->setText(QString::number(score, 'f', 2));
  m_predNmsLabel->setText(QString::number(nms, 'f', 2));
  m_updating = false;
}

void StagePanel::emitOptions() {
  if (m_updating) return;
  for (int i = 0; i < 3; ++i) m_opt.levels[i] = m_level[i]->isChecked();
  m_opt.shapes.clear();
  for (auto* c : m_shapes) m_opt.shapes.push_back(c->isChecked());
  m_opt.showAllAnchors = m_allAnchors->isChecked();
  m_opt.showCentres = m_centres->isChecked();
  m_opt.showNeutral = m_neutral->isChecked();
  m_opt.showNegative = m_negative->isChecked();
  m_opt.iouHeatmap = m_heatmap->isChecked();
  m_opt.proposalScoreMin = float(m_scoreMin->value() / 100.0);
  m_opt.showPreNms = m_preNms->isChecked();
  m_opt.showSuppressed = m_suppressed->isChecked();
  m_opt.objectnessHeatmap = m_objHeat->isChecked();
  m_opt.heatLevel = m_heatLevel->currentIndex();
  m_opt.heatShape = m_heatShape->value();
  m_opt.selectedRoi = m_roi->value();
  emit optionsChanged(m_opt);
}

void StagePanel::setOptions(const CanvasOptions& o) {
  m_opt = o;
  m_updating = true;
  if (m_opt.selectedGt >= 0 && m_opt.selectedGt < m_gtTable->rowCount()) m_gtTable->selectRow(m_opt.selectedGt);
  m_roi->setValue(m_opt.selectedRoi);
  m_updating = false;
  refresh();
}

void StagePanel::setStage(Stage s) {
  m_stage = s;
  m_opt.stage = s;
  m_title->setText(QString("%1. %2").arg(int(s) + 1).arg(stage_name(s)));
  m_explain->setText(kExplain[int(s)]);
  m_pages->setCurrentIndex(int(s));
  refresh();
}

void StagePanel::setTrace(std::shared_ptr<const PipelineTrace> t, double ms) {
  m_trace = std::move(t);
  m_hover = Hit{};
  m_ms = ms;
  refresh();
}

void StagePanel::setHover(const Hit& h) {
  m_hover = h;
  refreshFormula();
}

void StagePanel::setRoiPoints(const std::vector<float>&, int gh, int gw) {
  m_gh = gh;
  m_gw = gw;
  refreshFormula();
}

QString StagePanel::countsText() const {
  return m_counts->text();
}
QString StagePanel::formulaText() const {
  return m_formula->text();
}

QImage StagePanel::roiCrop(int r) const {
  const auto& t = *m_trace;
  const int cs = t.crop_size;
  QImage img(cs, cs, QImage::Format_RGB888);
  const float* p = t.roi_crops.data() + size_t(r) * 3 * size_t(cs * cs);
  for (int y = 0; y < cs; ++y)
    for (int x = 0; x < cs; ++x) {
      const auto px = [&](int c) { return std::clamp(int(p[size_t(c * cs * cs + y * cs + x)] * 255), 0, 255); };
      img.setPixel(x, y, qRgb(px(0), px(1), px(2)));
    }
  return img;
}

QImage StagePanel::roiHeatmap(int r, int channel) const {
  const auto& t = *m_trace;
  const int S = t.roi_size, C = t.feature_channels;
  QImage img(S, S, QImage::Format_RGB888);
  const float* p = t.roi_features.data() + size_t(r) * size_t(C * S * S);
  std::vector<float> v(size_t(S * S), 0.f);
  for (int i = 0; i < S * S; ++i) {
    if (channel >= 0 && channel < C) {
      v[size_t(i)] = p[size_t(channel * S * S + i)];
    } else {
      for (int c = 0; c < C; ++c) v[size_t(i)] += p[size_t(c * S * S + i)] / float(C);
    }
  }
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  const float lo = *mn, span = std::max(1e-6f, *mx - lo);
  for (int i = 0; i < S * S; ++i) {
    const float a = (v[size_t(i)] - lo) / span;
    img.setPixel(i % S, i / S,
                 qRgb(int(255 * std::min(1.f, 2 * a)), int(255 * std::max(0.f, 2 * a - 1)), int(160 * (1 - a))));
  }
  return img;
}

void StagePanel::refresh() {
  m_updating = true;
  if (!m_trace) {
    m_counts->setText("No image yet.");
    m_formula->setText("");
    m_updating = false;
    return;
  }
  const auto& t = *m_trace;
  QString c;
  int pos = 0, neu = 0, neg = 0;
  for (auto a : t.anchor_label) (a == AnchorLabel::Positive ? pos : a == AnchorLabel::Neutral ? neu : neg)++;
  m_positive = pos;
  switch (m_stage) {
    case Stage::Image:
      c = QString("%1×%2 → %3×%3, %4 GT boxes. Stages recomputed in %5 ms.")
              .arg(t.image_width)
              .arg(t.image_height)
              .arg(t.input_size)
              .arg(t.gt.size())
              .arg(f1(m_ms));
      break;
    case Stage::Anchors: {
      for (const auto& L : t.levels)
        c += QString("%1: %2×%3 cells × %4 = %5 anchors (sizes %6)<br>")
                 .arg(QString::fromStdString(L.name))
                 .arg(L.height)
                 .arg(L.width)
                 .arg(L.anchors_per_location)
                 .arg(L.count())
                 .arg([&] {
                   QStringList s;
                   for (float z : L.sizes) s << f1(z);
                   return s.join(", ");
                 }());
      c += QString("Total: %1 anchors").arg(t.anchors.size());
      const int A = t.levels.empty() ? 0 : t.levels[0].anchors_per_location;
      if (int(m_shapes.size()) != A) {
        qDeleteAll(m_shapes);
        m_shapes.clear();
        const int nr = int(t.levels[0].ratios.size());
        for (int a = 0; a < A; ++a) {
          auto* cb = check(QString("r%1·s%2").arg(t.levels[0].ratios[size_t(a % nr)]).arg(a / nr), true, m_shapeBox);
          m_shapeBox->layout()->addWidget(cb);
          connect(cb, &QCheckBox::toggled, this, &StagePanel::emitOptions);
          m_shapes.push_back(cb);
        }
      }
      break;
    }
    case Stage::Matching: {
      c = QString(
              "<span style='color:#3c3'>%1 positive</span> · <span style='color:#cb3'>%2 neutral</span> · "
              "<span style='color:#d44'>%3 negative</span> anchors (thresholds %4 / %5%6)")
              .arg(pos)
              .arg(neu)
              .arg(neg)
              .arg(t.iou_lo)
              .arg(t.iou_hi)
              .arg(t.low_quality ? ", low-quality matches on" : "");
      const int L = int(t.levels.size());
      const int A = L ? t.levels[0].anchors_per_location : 0;
      m_gtTable->setColumnCount(3 + L);
      QStringList hdr{"GT", "#pos", "best IoU"};
      for (const auto& lv : t.levels) hdr << QString::fromStdString(lv.name);
      m_gtTable->setHorizontalHeaderLabels(hdr);
      m_gtTable->setRowCount(int(t.gt.size()));
      for (size_t g = 0; g < t.gt.size(); ++g) {
        const auto& gi = t.gt[g];
        const QString cls = gi.label < t.num_classes() ? QString::fromStdString(t.class_names[size_t(gi.label)]) : "?";
        auto* it0 = new QTableWidgetItem(QString("%1 %2").arg(g).arg(cls));
        auto* it1 = new QTableWidgetItem(QString::number(gi.positive_anchors));
        if (gi.positive_anchors == 0) {
          it1->setText("0 ⚠");
          it1->setForeground(QColor(255, 120, 60));
          it0->setToolTip(QString::fromStdString(gi.no_positive_reason));
          it1->setToolTip(QString::fromStdString(gi.no_positive_reason));
        }
        m_gtTable->setItem(int(g), 0, it0);
        m_gtTable->setItem(int(g), 1, it1);
        m_gtTable->setItem(int(g), 2, new QTableWidgetItem(f3(gi.best_iou)));
        for (int l = 0; l < L; ++l) {
          float b = 0;
          for (int a = 0; a < A; ++a) b = std::max(b, gi.best_iou_per_level_shape[size_t(l * A + a)]);
          m_gtTable->setItem(int(g), 3 + l, new QTableWidgetItem(f3(b)));
        }
      }
      m_gtTable->resizeColumnsToContents();
      if (m_opt.selectedGt >= 0 && m_opt.selectedGt < int(t.gt.size())) m_gtTable->selectRow(m_opt.selectedGt);
      int missing = 0;
      for (const auto& gi : t.gt) missing += gi.positive_anchors == 0;
      if (missing)
        c +=
            QString(
                "<br><b style='color:#f73'>⚠ %1 GT box(es) have no positive anchor</b> — hover the row for the reason.")
                .arg(missing);
      break;
    }
    case Stage::Sampling:
      c = QString("Sampled %1 positives (target %2) and %3 negatives (target %4) of %5 per image; seed %6.")
              .arg(t.sampled_fg.size())
              .arg(t.target_fg)
              .arg(t.sampled_bg.size())
              .arg(t.target_bg)
              .arg(t.num_samples)
              .arg(t.sample_seed);
      m_seed->setValue(int(t.sample_seed));
      break;
    case Stage::Proposals: {
      int kept = 0, sup = 0, cut = 0, small = 0;
      for (const auto& p : t.proposals)
        (p.state == ProposalState::Kept            ? kept
         : p.state == ProposalState::Suppressed    ? sup
         : p.state == ProposalState::CutByPostTopk ? cut
                                                   : small)++;
      c = QString(
              "%1 candidates (pre-NMS top-k) → %2 suppressed by NMS, %3 cut by post-NMS top-k, %4 too small → %5 kept.")
              .arg(t.proposals.size())
              .arg(sup)
              .arg(cut)
              .arg(small)
              .arg(kept);
      int lost[8] = {0};
      for (const auto& g : t.gt) lost[int(g.funnel)]++;
      const int n = int(t.gt.size());
      int remaining = n;
      QStringList steps;
      const char* names[] = {"matching", "pre-NMS top-k", "NMS", "post-NMS top-k"};
      for (int k = 0; k < 4; ++k) {
        remaining -= lost[k];
        steps << QString("%1: %2/%3").arg(names[k]).arg(remaining).arg(n);
      }
      m_funnelLabel->setText(steps.join("<br>"));
      m_heatShape->setMaximum(t.levels.empty() ? 0 : t.levels[0].anchors_per_location - 1);
      break;
    }
    case Stage::RoIAlign: {
      const int R = int(t.kept.size());
      m_roi->setMaximum(std::max(0, R - 1));
      c = QString("%1 RoIs pooled to %2×%3×%4 (level: own/size as configured).")
              .arg(R)
              .arg(t.feature_channels)
              .arg(t.roi_size)
              .arg(t.roi_size);
      const int r = std::min(m_opt.selectedRoi, R - 1);
      if (r >= 0 && !t.roi_crops.empty()) {
        m_crop->setPixmap(QPixmap::fromImage(roiCrop(r).scaled(112, 112)));
        m_pooled->setPixmap(QPixmap::fromImage(roiHeatmap(r, m_channel->value()).scaled(112, 112)));
      }
      if (m_gallery->count() != R || m_gallery->property("trace").value<quintptr>() != quintptr(m_trace.get())) {
        m_gallery->clear();
        for (int k = 0; k < R && !t.roi_crops.empty(); ++k)
          m_gallery->addItem(
              new QListWidgetItem(QIcon(QPixmap::fromImage(roiCrop(k).scaled(40, 40))), QString::number(k)));
        m_gallery->setProperty("trace", QVariant::fromValue(quintptr(m_trace.get())));
      }
      break;
    }
    case Stage::Predictions: {
      int tp = 0;
      for (const auto& g : t.gt) tp += g.matched_detection >= 0;
      c = QString(
              "%1 detections: <span style='color:#3c3'>%2 TP</span>, <span style='color:#f55'>%3 FP</span>, "
              "<span style='color:#fa3'>%4 FN</span> at IoU 0.5 (score threshold %5).")
              .arg(t.detections.size())
              .arg(tp)
              .arg(int(t.detections.size()) - tp)
              .arg(int(t.gt.size()) - tp)
              .arg(t.score_thresh);
      m_missTable->setColumnCount(2);
      m_missTable->setHorizontalHeaderLabels({"GT", "lost at"});
      int rows = 0;
      for (const auto& g : t.gt) rows += g.matched_detection < 0;
      m_missTable->setRowCount(rows);
      int row = 0;
      for (size_t g = 0; g < t.gt.size(); ++g) {
        if (t.gt[g].matched_detection >= 0) continue;
        const auto& gi = t.gt[g];
        m_missTable->setItem(
            row, 0,
            new QTableWidgetItem(QString("%1 %2").arg(g).arg(
                gi.label < t.num_classes() ? QString::fromStdString(t.class_names[size_t(gi.label)]) : "?")));
        m_missTable->setItem(row, 1, new QTableWidgetItem(funnel_name(gi.funnel)));
        ++row;
      }
      m_missTable->resizeColumnsToContents();
      break;
    }
  }
  if (t.random_weights && int(m_stage) >= int(Stage::Proposals))
    c += "<br><b style='color:#f55'>Random weights: load a checkpoint for meaningful proposals and predictions.</b>";
  m_counts->setText(c);
  m_updating = false;
  refreshFormula();
}

void StagePanel::refreshFormula() {
  if (!m_trace) return;
  const auto& t = *m_trace;
  QString f;
  const int i = m_hover.index;
  // The hovered index may belong to the previous trace: check it first.
  const bool valid = m_hover.kind == HitKind::None || hitValid(m_hover, t);
  if (!valid) {
    m_hover = Hit{};
  }
  auto boxStr = [](const Box& b) { return QString("(%1, %2, %3, %4)").arg(f1(b.x1), f1(b.y1), f1(b.x2), f1(b.y2)); };
  auto centre = [](const Box& b, float& x, float& y, float& w, float& h) {
    x = (b.x1 + b.x2) / 2;
    y = (b.y1 + b.y2) / 2;
    w = b.x2 - b.x1;
    h = b.y2 - b.y1;
  };
  switch (m_stage) {
    case Stage::Image:
      if (m_hover.kind == HitKind::Gt) {
        const auto& g = t.gt[size_t(i)];
        f = QString("x1' = x1·sx + pad = %1·%2 + %3 = %4<br>y2' = y2·sy + pad = %5·%6 + %7 = %8")
                .arg(f1(g.box_original.x1), f3(t.scale_x), f1(t.pad_x), f1(g.box.x1))
                .arg(f1(g.box_original.y2), f3(t.scale_y), f1(t.pad_y), f1(g.box.y2));
      } else {
        f = QString("x' = x · sx + pad_x,  sx = %1 / %2 = %3").arg(t.input_size).arg(t.image_width).arg(f3(t.scale_x));
      }
      break;
    case Stage::Anchors:
      if (m_hover.kind == HitKind::Anchor) {
        int l = 0;
        while (l + 1 < int(t.levels.size()) && i >= t.levels[size_t(l + 1)].offset) ++l;
        const auto& L = t.levels[size_t(l)];
        const int local = i - L.offset, loc = local / L.anchors_per_location, a = local % L.anchors_per_location;
        const int nr = int(L.ratios.size());
        const float r = L.ratios[size_t(a % nr)], side = L.sizes[size_t(a / nr)];
        const float w = std::sqrt(side * side / r), h = side * side / w;
        f = QString(
                "level %1, cell (i=%2, j=%3): centre = ((j+0.5)·%4, (i+0.5)·%4) = (%5, %6)<br>"
                "area = (%7)² ; w = √(area / r) = √(%8 / %9) = %10 ; h = area / w = %11<br>anchor = %12")
                .arg(QString::fromStdString(L.name))
                .arg(loc / L.width)
                .arg(loc % L.width)
                .arg(L.stride)
                .arg(f1((loc % L.width + 0.5) * L.stride), f1((loc / L.width + 0.5) * L.stride), f1(side),
                     f1(side * side))
                .arg(r)
                .arg(f1(w), f1(h), boxStr(t.anchors[size_t(i)]));
      } else {
        f = "w = √(area / r), h = area / w, area = (stride · stride_scale)²  — hover the image";
      }
      break;
    case Stage::Matching:
    case Stage::Sampling:
      if (m_hover.kind == HitKind::Anchor && t.anchor_gt[size_t(i)] >= 0) {
        const auto& a = t.anchors[size_t(i)];
        const auto& g = t.gt[size_t(t.anchor_gt[size_t(i)])].box;
        const float iw = std::max(0.f, std::min(a.x2, g.x2) - std::max(a.x1, g.x1));
        const float ih = std::max(0.f, std::min(a.y2, g.y2) - std::max(a.y1, g.y1));
        const float inter = iw * ih, uni = a.width() * a.height() + g.width() * g.height() - inter;
        float px, py, pw, ph, bx, by, bw, bh;
        centre(a, px, py, pw, ph);
        centre(g, bx, by, bw, bh);
        const QString lab = t.anchor_label[size_t(i)] == AnchorLabel::Positive  ? "positive"
                            : t.anchor_label[size_t(i)] == AnchorLabel::Neutral ? "neutral"
                                                                                : "negative";
        f = QString(
                "IoU = inter / union = %1 / %2 = %3 → %4 (lo %5, hi %6)<br>"
                "dx = (bx − px) / pw = (%7 − %8) / %9 = %10<br>dy = (by − py) / ph = (%11 − %12) / %13 = %14<br>"
                "dw = log(bw / pw) = log(%15 / %9) = %16<br>dh = log(bh / ph) = log(%17 / %13) = %18")
                .arg(f1(inter), f1(uni), f3(inter / uni), lab)
                .arg(t.iou_lo)
                .arg(t.iou_hi)
                .arg(f1(bx), f1(px), f1(pw), f3((bx - px) / pw))
                .arg(f1(by), f1(py), f1(ph), f3((by - py) / ph))
                .arg(f1(bw), f3(std::log(bw / pw)), f1(bh), f3(std::log(bh / ph)));
        if (m_stage == Stage::Sampling)
          f = QString("num_fg = min(int(%1 · %2), #fg)  num_bg = %1 − num_fg<br>")
                  .arg(t.num_samples)
                  .arg(double(t.target_fg) / std::max(1, t.num_samples)) +
              f;
      } else if (m_stage == Stage::Sampling) {
        int nfg = 0;
        for (auto l : t.anchor_label) nfg += l == AnchorLabel::Positive;
        f = QString("num_fg = min(int(N · fg_fraction), #fg) = min(%1, %2) = %3<br>num_bg = N − num_fg = %4 − %3 = %5")
                .arg(t.target_fg)
                .arg(nfg)
                .arg(std::min(t.target_fg, nfg))
                .arg(t.num_samples)
                .arg(t.num_samples - std::min(t.target_fg, nfg));
      } else {
        f = "IoU ≤ lo → background · lo < IoU < hi → neutral · IoU ≥ hi → positive — hover an anchor";
      }
      break;
    case Stage::Proposals:
      if (m_hover.kind == HitKind::Proposal) {
        const auto& p = t.proposals[size_t(i)];
        const auto& a = t.anchors[size_t(p.anchor)];
        const float* d = &t.deltas[size_t(p.anchor) * 4];
        float px, py, pw, ph;
        centre(a, px, py, pw, ph);
        f = QString(
                "bx = px + pw·dx = %1 + %2·%3 = %4<br>bw = pw·exp(dw) = %2·exp(%5) = %6<br>objectness σ(logit) = %7")
                .arg(f1(px), f1(pw), f3(d[0]), f1(px + pw * d[0]), f3(d[2]),
                     f1(pw * std::exp(std::min(d[2], float(std::log(224.0 / 8))))), f3(p.objectness));
        if (p.suppressed_by >= 0)
          f += QString("<br>suppressed: IoU with #%1 = %2 > NMS threshold")
                   .arg(p.suppressed_by)
                   .arg(f3(box_iou(p.box, t.proposals[size_t(p.suppressed_by)].box)));
      } else {
        f = "bx = px + pw·dx, by = py + ph·dy, bw = pw·e^dw, bh = ph·e^dh (dw, dh ≤ log(224/8)) — hover a proposal";
      }
      break;
    case Stage::RoIAlign: {
      const int r = m_opt.selectedRoi;
      if (r >= 0 && r < int(t.kept.size())) {
        const auto& p = t.proposals[size_t(t.kept[size_t(r)])];
        const int lv = t.roi_level.empty() ? p.level : t.roi_level[size_t(r)];
        const int s = t.levels[size_t(lv)].stride;
        f = QString(
                "level %1, spatial_scale = 1/%2; box on the map = %3·(1/%2) − 0.5<br>bin = (x2 − x1)/(S·stride) = %4 / "
                "(%5·%2) = %6 cells; "
                "%7×%8 samples per bin")
                .arg(QString::fromStdString(t.levels[size_t(lv)].name))
                .arg(s)
                .arg(boxStr(p.box))
                .arg(f1(p.box.width()))
                .arg(t.roi_size)
                .arg(f3(p.box.width() / (t.roi_size * s)))
                .arg(m_gh)
                .arg(m_gw);
      }
      break;
    }
    case Stage::Predictions:
      if (m_hover.kind == HitKind::Detection) {
        const auto& d = t.detections[size_t(i)];
        const int C1 = t.num_classes() + 1;
        const float* pr = &t.class_probs[size_t(d.proposal) * size_t(C1)];
        f = QString("p = softmax(logits): background %1, %2 %3 > threshold %4 → kept by per-class NMS")
                .arg(f3(pr[0]))
                .arg(QString::fromStdString(t.class_names[size_t(d.label)]))
                .arg(f3(pr[d.label + 1]))
                .arg(t.score_thresh);
      } else if (m_hover.kind == HitKind::Gt) {
        f = QString("missed GT %1: lost at <b>%2</b>").arg(i).arg(funnel_name(t.gt[size_t(i)].funnel));
      } else {
        f = "score_c = softmax(logits)_c ; keep if score_c > threshold ; per-class NMS ; at most N per image";
      }
      break;
  }
  m_formula->setText(f);
}

}  // namespace studio
