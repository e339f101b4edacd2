#include "coverage_panel.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "panels/table_util.h"
#include <QValueAxis>

#include "api/coverage_plots.h"
#include "config/config_fields.h"

namespace studio {
using namespace rcnn::api;

namespace {
QChartView* chartView(QWidget* parent) {
  auto* v = new QChartView(new QChart, parent);
  v->setRenderHint(QPainter::Antialiasing);
  v->setMinimumHeight(170);
  v->chart()->legend()->hide();
  return v;
}
const QColor kLevel[] = {QColor("#1f77b4"), QColor("#2ca02c"), QColor("#d62728"), QColor("#9467bd")};

// A histogram as a step outline, with vertical markers, on value axes.
void drawHistogram(QChart* c, const QString& title, const Histogram& h, const std::vector<Marker>& markers) {
  c->removeAllSeries();
  for (auto* a : c->axes()) c->removeAxis(a);
  c->setTitle(title);
  auto* step = new QLineSeries;
  int top = 1;
  step->append(h.edges.front(), 0);
  for (size_t b = 0; b < h.counts.size(); ++b) {
    step->append(h.edges[b], h.counts[b]);
    step->append(h.edges[b + 1], h.counts[b]);
    top = std::max(top, h.counts[b]);
  }
  step->append(h.edges.back(), 0);
  step->setColor(QColor(110, 110, 110));
  c->addSeries(step);
  std::vector<QLineSeries*> lines;
  for (const auto& m : markers) {
    if (m.x < h.edges.front() || m.x > h.edges.back()) continue;
    auto* s = new QLineSeries;
    s->append(m.x, 0);
    s->append(m.x, top);
    s->setColor(m.level >= 0 ? kLevel[m.level % 4] : QColor("#ff7f0e"));
    s->setName(QString::fromStdString(m.label));
    c->addSeries(s);
    lines.push_back(s);
  }
  auto* x = new QValueAxis;
  x->setRange(h.edges.front(), h.edges.back());
  auto* y = new QValueAxis;
  y->setRange(0, top * 1.05);
  y->setLabelFormat("%d");
  c->addAxis(x, Qt::AlignBottom);
  c->addAxis(y, Qt::AlignLeft);
  for (auto* s : c->series()) s->attachAxis(x), s->attachAxis(y);
}
}  // namespace

CoveragePanel::CoveragePanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  m_split = new QComboBox(this);
  m_split->addItems({"train", "val", "test"});
  m_run = new QPushButton("Compute coverage", this);
  m_run->setObjectName("coverageButton");
  m_suggestButton = new QPushButton("Suggest anchors", this);
  m_export = new QPushButton("Export plots…", this);
  top->addWidget(new QLabel("Split", this));
  top->addWidget(m_split);
  top->addWidget(m_run, 1);
  m_searchImages = new QSpinBox(this);
  m_searchImages->setRange(0, 100000);
  m_searchImages->setValue(300);
  m_searchImages->setSpecialValueText("all");
  m_searchImages->setToolTip("images sampled for the anchor search (0: all)");
  m_maxAnchors = new QSpinBox(this);
  m_maxAnchors->setRange(1, 32);
  m_maxAnchors->setValue(9);
  m_maxAnchors->setToolTip("suggestions: at most this many anchors per location");
  top->addWidget(m_suggestButton);
  top->addWidget(m_searchImages);
  top->addWidget(m_maxAnchors);
  top->addWidget(m_export);
  lay->addLayout(top);
  m_summary = new QLabel("Which objects of a split can the anchors and matcher as configured never learn?", this);
  m_summary->setWordWrap(true);
  lay->addWidget(m_summary);
  auto* split = new QSplitter(Qt::Vertical, this);
  auto* charts = new QWidget(split);
  auto* grid = new QGridLayout(charts);
  m_sizes = chartView(charts);
  m_aspects = chartView(charts);
  m_positives = chartView(charts);
  m_bpr = chartView(charts);
  grid->addWidget(m_sizes, 0, 0);
  grid->addWidget(m_aspects, 0, 1);
  grid->addWidget(m_positives, 1, 0);
  grid->addWidget(m_bpr, 1, 1);
  m_none = makeTable(split, {"image", "GT", "class", "best IoU", "why no positive anchor"}, "coverageUncovered");
  auto* sug = new QWidget(split);
  auto* sl = new QVBoxLayout(sug);
  sl->setContentsMargins(0, 0, 0, 0);
  m_table = makeTable(sug, {"", "BPR", "without LQ", "pos/GT", "per loc.", "anchors"}, "coverageSuggestions");
  m_apply = new QPushButton("Apply the selected suggestion", sug);
  sl->addWidget(m_table, 1);
  sl->addWidget(m_apply);
  lay->addWidget(split, 1);
  connect(m_run, &QPushButton::clicked, this, &CoveragePanel::run);
  connect(m_suggestButton, &QPushButton::clicked, this, &CoveragePanel::suggest);
  connect(m_split, &QComboBox::textActivated, this, [this] {
    if (m_report) run();
  });
  connect(m_apply, &QPushButton::clicked, this, [this] {
    const auto rows = m_table->selectionModel()->selectedRows();
    if (!rows.isEmpty() && rows.first().row() > 0) applySuggestion(rows.first().row() - 1);
  });
  connect(m_export, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, "Export coverage plots to");
    if (!d.isEmpty() && !exportPlots(d)) emit message("Cannot write the plots into " + d);
  });
  connect(m_none, &QTableWidget::cellDoubleClicked, this, [this](int row) {
    auto* it = m_none->item(row, 0);
    if (!it || !m_report) return;
    const auto& g = m_report->gts[size_t(it->data(Qt::UserRole).toInt())];
    emit openAt(QString::fromStdString(m_report->image_paths[size_t(g.image)]), int(Stage::Matching), g.index,
                m_split->currentText());
  });
}

CoverageRequest CoveragePanel::request() const {
  CoverageRequest r;
  r.dataset = m_dataset.toStdString();
  r.split = m_split->currentText().toStdString();
  r.config_json = m_config.toStdString();
  return r;
}

void CoveragePanel::setSource(const QString& dataset, const QString& configJson) {
  m_dataset = dataset;
  m_config = configJson;
  // Live: a change of the anchors, the matcher or the input geometry recomputes a shown report.
  if (!m_report || m_busy) return;
  QString key = dataset;
  try {
    const auto c = rcnn::config_from_json_string(configJson.toStdString(), "studio");
    for (const auto& f : rcnn::config_fields())
      if (f.key.rfind("anchors.", 0) == 0 || f.key == "rpn.iou_lo" || f.key == "rpn.iou_hi" ||
          f.key == "rpn.allow_low_quality_matches" || f.key.rfind("input.", 0) == 0)
        key += QString::fromStdString(rcnn::field_json(c, f));
  } catch (...) {
    return;
  }
  if (key != m_reportKey) {
    m_reportKey = key;
    run();
  }
}

void CoveragePanel::run() {
  m_busy = true;
  m_run->setEnabled(false);
  m_summary->setText("computing coverage with the current anchors and matcher…");
  emit coverageRequested(request());
}

void CoveragePanel::suggest() {
  SuggestRequest r;
  r.coverage = request();
  r.search_images = m_searchImages->value();
  r.max_per_location = m_maxAnchors->value();
  m_busy = true;
  m_suggestButton->setEnabled(false);
  m_summary->setText("searching anchor settings…");
  emit suggestRequested(r);
}

void CoveragePanel::showFailure(const QString& m) {
  m_busy = false;
  m_run->setEnabled(true);
  m_suggestButton->setEnabled(true);
  m_summary->setText("Coverage failed: " + m);
  emit message("Coverage failed: " + m);
}

void CoveragePanel::showReport(std::shared_ptr<const CoverageReport> rep) {
  m_busy = false;
  m_run->setEnabled(true);
  if (!rep) return;
  if (m_reportKey.isEmpty()) setSource(m_dataset, m_config);  // remember what this report was computed for
  m_report = rep;
  const auto& r = *rep;
  m_summary->setText(QString("%1 images · %2 GT · best possible recall <b>%3</b> (without the low-quality rule %4) · "
                             "%5 positive anchors per GT · matcher lo %6 / hi %7%8 · %9 s")
                         .arg(r.image_paths.size())
                         .arg(r.all.gts)
                         .arg(r.all.bpr(), 0, 'f', 3)
                         .arg(r.all.bpr_no_lq(), 0, 'f', 3)
                         .arg(r.all.mean_positives(), 0, 'f', 2)
                         .arg(r.iou_lo)
                         .arg(r.iou_hi)
                         .arg(r.low_quality ? ", low-quality on" : "")
                         .arg(r.seconds, 0, 'f', 1));
  drawCharts();
  m_none->setRowCount(0);
  for (size_t k = 0; k < r.gts.size(); ++k) {
    const auto& g = r.gts[k];
    if (g.positives > 0) continue;
    const int row = m_none->rowCount();
    m_none->insertRow(row);
    auto* im = new QTableWidgetItem(QFileInfo(QString::fromStdString(r.image_paths[size_t(g.image)])).fileName());
    im->setData(Qt::UserRole, int(k));
    m_none->setItem(row, 0, im);
    m_none->setItem(row, 1, new QTableWidgetItem(QString::number(g.index)));
    m_none->setItem(row, 2,
                    new QTableWidgetItem(g.label < int(r.class_names.size())
                                             ? QString::fromStdString(r.class_names[size_t(g.label)])
                                             : "?"));
    m_none->setItem(row, 3, new QTableWidgetItem(QString::number(g.best_iou, 'f', 3)));
    auto* why = new QTableWidgetItem(QString::fromStdString(g.reason_text));
    why->setToolTip(why->text());
    m_none->setItem(row, 4, why);
  }
}

void CoveragePanel::drawCharts() {
  const auto p = coverage_plots(*m_report);
  drawHistogram(m_sizes->chart(), "GT √area (input px) · anchor sizes per level", p.side, p.side_markers);
  drawHistogram(m_aspects->chart(), "GT log2(h/w) · anchor ratios", p.aspect, p.aspect_markers);
  drawHistogram(m_positives->chart(), "positive anchors per GT", p.positives, {});
  auto* c = m_bpr->chart();
  c->removeAllSeries();
  for (auto* a : c->axes()) c->removeAxis(a);
  c->setTitle("best possible recall by GT size");
  auto* with = new QBarSet("as configured");
  auto* without = new QBarSet("without low-quality");
  for (int b = 0; b < 3; ++b) *with << p.bpr_by_size[size_t(b)], *without << p.bpr_no_lq_by_size[size_t(b)];
  auto* bars = new QBarSeries;
  bars->append(with);
  bars->append(without);
  c->addSeries(bars);
  auto* x = new QBarCategoryAxis;
  x->append({"small", "medium", "large"});
  auto* y = new QValueAxis;
  y->setRange(0, 1);
  c->addAxis(x, Qt::AlignBottom);
  c->addAxis(y, Qt::AlignLeft);
  bars->attachAxis(x);
  bars->attachAxis(y);
  c->legend()->show();
}

void CoveragePanel::showSuggestions(std::shared_ptr<const SuggestReport> rep) {
  m_busy = false;
  m_suggestButton->setEnabled(true);
  if (!rep) return;
  m_suggest = rep;
  m_table->setRowCount(0);
  auto add = [&](const QString& tag, const AnchorSuggestion& s) {
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    m_table->setItem(row, 0, new QTableWidgetItem(tag));
    m_table->setItem(row, 1, new QTableWidgetItem(QString::number(s.all.bpr(), 'f', 3)));
    m_table->setItem(row, 2, new QTableWidgetItem(QString::number(s.all.bpr_no_lq(), 'f', 3)));
    m_table->setItem(row, 3, new QTableWidgetItem(QString::number(s.all.mean_positives(), 'f', 2)));
    m_table->setItem(row, 4, new QTableWidgetItem(QString::number(s.per_location)));
    m_table->setItem(row, 5, new QTableWidgetItem(QString::fromStdString(s.overrides())));
  };
  add("current", rep->current);
  for (size_t k = 0; k < rep->best.size(); ++k) add(QString("#%1").arg(k + 1), rep->best[k]);
  m_table->resizeColumnsToContents();
  if (m_table->rowCount() > 1) m_table->selectRow(1);
  m_summary->setText(QString("%1 candidates searched in %2 s; select one and apply it.")
                         .arg(rep->candidates)
                         .arg(rep->seconds, 0, 'f', 1));
}

void CoveragePanel::setSearch(int images, int maxPerLocation) {
  m_searchImages->setValue(images);
  m_maxAnchors->setValue(maxPerLocation);
}

void CoveragePanel::applySuggestion(int k) {
  if (!m_suggest || k < 0 || k >= int(m_suggest->best.size())) return;
  // The settings it makes (the Parameters panel asks once if they change the head's shape).
  QStringList keys, values;
  for (const auto& [key, value] : m_suggest->best[size_t(k)].settings) {
    keys << QString::fromStdString(key);
    values << QString::fromStdString(value);
  }
  emit applyAnchors(keys, values);
}

bool CoveragePanel::exportPlots(const QString& dir) {
  if (!m_report || !QDir().mkpath(dir)) return false;
  bool ok = true;
  const std::pair<QChartView*, const char*> views[] = {
      {m_sizes, "gt_sizes.png"}, {m_aspects, "gt_aspects.png"}, {m_positives, "positives_per_gt.png"},
      {m_bpr, "bpr_by_size.png"}};
  for (const auto& [v, name] : views) {
    // At a readable size (the docked view may be small and cut the title), then back.
    const QSize docked = v->size();
    v->resize(900, 540);
    ok &= v->grab().save(QDir(dir).filePath(name));
    v->resize(docked);
  }
  for (const auto& [name, svg] : coverage_svgs(coverage_plots(*m_report))) {
    QFile f(QDir(dir).filePath(QString::fromStdString(name)));
    ok &= f.open(QIODevice::WriteOnly) && f.write(svg.data(), qint64(svg.size())) == qint64(svg.size());
  }
  return ok;
}

}  // namespace studio
