#include "probe_timeline.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QPushButton>
#include <QScatterSeries>
#include <QSlider>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QValueAxis>

namespace studio {
using rcnn::api::Funnel;

ProbeTimeline::ProbeTimeline(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* row = new QHBoxLayout;
  m_probe = new QComboBox(this);
  m_probe->setObjectName("probeImage");
  m_slider = new QSlider(Qt::Horizontal, this);
  m_slider->setObjectName("probeSlider");
  m_slider->setEnabled(false);
  row->addWidget(new QLabel("Probe image", this));
  row->addWidget(m_probe, 1);
  auto* open = new QPushButton("Open run…", this);
  open->setObjectName("probeOpenRun");
  open->setToolTip("Another run's timeline (a run directory with probes/)");
  row->addWidget(open);
  connect(open, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, "Run directory", m_runDir);
    if (!d.isEmpty()) load(d);
  });
  lay->addLayout(row);
  lay->addWidget(m_slider);
  m_label = new QLabel("No probes yet: a run with probe images records them at every evaluation.", this);
  m_label->setObjectName("probeStatus");
  m_label->setWordWrap(true);
  lay->addWidget(m_label);
  m_table = new QTableWidget(0, 6, this);
  m_table->setObjectName("probeGts");
  m_table->setHorizontalHeaderLabels({"GT", "class", "verdict", "class score", "best IoU", "forgotten at"});
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  lay->addWidget(m_table, 1);
  m_chart = new QChart;
  m_chart->setTitle("Class score per GT (× forgetting event: detected, then lost)");
  m_chart->legend()->setAlignment(Qt::AlignRight);
  m_x = new QValueAxis;
  m_y = new QValueAxis;
  m_x->setTitleText("iteration");
  m_x->setLabelFormat("%d");
  m_x->setTickCount(5);
  m_y->setRange(0, 1);
  m_y->setLabelFormat("%.1f");
  m_y->setTickCount(6);
  m_chart->addAxis(m_x, Qt::AlignBottom);
  m_chart->addAxis(m_y, Qt::AlignLeft);
  auto* view = new QChartView(m_chart, this);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumHeight(280);
  lay->addWidget(view, 2);
  // A user's pick opens that capture; a reload (a new evaluation arriving) only refreshes the table and chart.
  connect(m_probe, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    if (!m_filling) showProbe(true);
  });
  connect(m_slider, &QSlider::valueChanged, this, [this] {
    if (!m_filling) showEvaluation(true);
  });
}

void ProbeTimeline::load(const QString& runDir) {
  const QString keepImage = m_probe->currentText();
  const bool atEnd = m_slider->value() == m_slider->maximum();
  m_runDir = runDir;
  try {
    m_series = rcnn::api::read_probe_timeline(runDir.toStdString());
  } catch (const std::exception& e) {
    m_series.clear();
    emit message(QString::fromStdString(e.what()));
  }
  m_filling = true;
  m_probe->clear();
  for (const auto& s : m_series) m_probe->addItem(QString::fromStdString(s.image));
  const int keep = m_probe->findText(keepImage);
  m_probe->setCurrentIndex(keep >= 0 ? keep : 0);
  m_filling = false;
  const int at = m_slider->value();
  showProbe(false);
  // A new evaluation arriving keeps a slider at the end at the end; elsewhere it stays.
  if (!atEnd && at <= m_slider->maximum()) {
    m_filling = true;
    m_slider->setValue(at);
    m_filling = false;
    showEvaluation(false);
  }
}

int ProbeTimeline::probeIndex() const {
  return m_probe->currentIndex();
}
int ProbeTimeline::evaluation() const {
  return m_slider->value();
}
QString ProbeTimeline::status() const {
  return m_label->text();
}

void ProbeTimeline::select(int probe, int evaluation) {
  m_filling = true;
  m_probe->setCurrentIndex(probe);
  m_filling = false;
  showProbe(false);
  m_filling = true;
  m_slider->setValue(evaluation);
  m_filling = false;
  showEvaluation(true);
}

void ProbeTimeline::showProbe(bool open) {
  m_chart->removeAllSeries();
  const int p = m_probe->currentIndex();
  if (p < 0 || size_t(p) >= m_series.size()) {
    m_slider->setEnabled(false);
    m_table->setRowCount(0);
    return;
  }
  const auto& s = m_series[size_t(p)];
  m_filling = true;
  m_slider->setEnabled(!s.iters.empty());
  m_slider->setRange(0, std::max(0, int(s.iters.size()) - 1));
  m_slider->setValue(m_slider->maximum());
  m_filling = false;
  m_x->setRange(0, s.iters.empty() ? 1.0 : std::max(1.0, double(s.iters.back())));
  auto* lost = new QScatterSeries;
  lost->setName("forgotten");
  lost->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
  lost->setMarkerSize(9);
  lost->setColor(Qt::red);
  for (size_t g = 0; g < s.gt.size(); ++g) {
    auto* line = new QLineSeries;
    const int l = g < s.labels.size() ? s.labels[g] : -1;
    line->setName(QString("GT %1 %2")
                      .arg(g)
                      .arg(l >= 0 && size_t(l) < s.class_names.size() ? QString::fromStdString(s.class_names[size_t(l)])
                                                                      : QString()));
    for (size_t e = 0; e < s.gt[g].size(); ++e) line->append(double(s.iters[e]), s.gt[g][e].score);
    for (int e : s.forgotten[g]) lost->append(double(s.iters[size_t(e)]), s.gt[g][size_t(e)].score);
    m_chart->addSeries(line);
    line->attachAxis(m_x);
    line->attachAxis(m_y);
  }
  m_chart->addSeries(lost);
  lost->attachAxis(m_x);
  lost->attachAxis(m_y);
  showEvaluation(open);
}

void ProbeTimeline::showEvaluation(bool open) {
  const int p = m_probe->currentIndex();
  if (p < 0 || size_t(p) >= m_series.size()) return;
  const auto& s = m_series[size_t(p)];
  const int e = m_slider->value();
  if (e < 0 || size_t(e) >= s.iters.size()) return;
  m_label->setText(QString("%1 at iteration %2 (evaluation %3 of %4)")
                       .arg(QString::fromStdString(s.image))
                       .arg(s.iters[size_t(e)])
                       .arg(e + 1)
                       .arg(s.iters.size()));
  m_table->setRowCount(int(s.gt.size()));
  for (size_t g = 0; g < s.gt.size(); ++g) {
    const auto& pt = s.gt[g][size_t(e)];
    const int l = g < s.labels.size() ? s.labels[g] : -1;
    QStringList forgotten;
    for (int f : s.forgotten[g]) forgotten << QString::number(s.iters[size_t(f)]);
    const QStringList cells = {QString::number(g),
                               l >= 0 && size_t(l) < s.class_names.size()
                                   ? QString::fromStdString(s.class_names[size_t(l)])
                                   : QString::number(l),
                               QString::fromUtf8(rcnn::api::funnel_name(pt.funnel)),
                               QString::number(pt.score, 'f', 3),
                               QString::number(pt.best_iou, 'f', 3),
                               forgotten.join(", ")};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      if (c == 2) item->setForeground(pt.funnel == Funnel::Detected ? QColor(40, 160, 60) : QColor(220, 60, 60));
      m_table->setItem(int(g), c, item);
    }
  }
  if (open) emit captureRequested(QString::fromStdString(s.files[size_t(e)]));
}

}  // namespace studio
