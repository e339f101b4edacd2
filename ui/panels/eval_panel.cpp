#include "eval_panel.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QListWidget>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QValueAxis>

namespace studio {

EvalPanel::EvalPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  m_split = new QComboBox(this);
  m_split->addItems({"val", "test", "train"});
  m_run = new QPushButton("Evaluate current model", this);
  m_run->setObjectName("evalRun");
  top->addWidget(new QLabel("Split", this));
  top->addWidget(m_split);
  top->addWidget(m_run, 1);
  lay->addLayout(top);
  m_summary = new QLabel("Load a checkpoint, then evaluate.", this);
  m_summary->setObjectName("evalSummary");
  m_summary->setWordWrap(true);
  lay->addWidget(m_summary);
  // COCO's summary with COCO's rules (pycocotools: greedy best free GT, 101-point AP, maxDets, area ranges).
  m_coco = new QTableWidget(1, 9, this);
  m_coco->setObjectName("evalCoco");
  m_coco->setHorizontalHeaderLabels({"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"});
  m_coco->setVerticalHeaderLabels({"COCO"});
  m_coco->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_coco->setMaximumHeight(64);
  m_coco->setToolTip("COCO's rules, as pycocotools computes them: IoU 0.50:0.05:0.95, at most 1/10/100 detections "
                     "per image, each detection takes the best still-free GT, 101-point interpolation, crowd and "
                     "difficult boxes as ignore regions, area ranges by the annotation's area");
  lay->addWidget(m_coco);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_table = new QTableWidget(split);
  m_table->setColumnCount(5);
  m_table->setHorizontalHeaderLabels({"class", "GT", "AP@0.5 (VOC)", "AP@.5:.95 (VOC matching)", "FP / miss"});
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->verticalHeader()->hide();
  m_pr = new QChart;
  m_pr->setTitle("Precision / recall @0.5");
  m_prSeries = new QLineSeries;
  m_pr->addSeries(m_prSeries);
  m_pr->createDefaultAxes();
  m_pr->legend()->hide();
  auto* prView = new QChartView(m_pr, split);
  prView->setMinimumHeight(160);
  m_confusion = new QTableWidget(split);
  m_confusion->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_items = new QListWidget(split);
  lay->addWidget(split, 1);
  connect(m_run, &QPushButton::clicked, this, &EvalPanel::run);
  connect(m_table, &QTableWidget::currentCellChanged, this, [this](int r) { showClass(r); });
  connect(m_items, &QListWidget::itemDoubleClicked, this,
          [this](QListWidgetItem* it) { emit openImage(it->data(Qt::UserRole).toString()); });
}

EvalPanel::~EvalPanel() = default;

void EvalPanel::setSource(const QString& dataset, const QString& checkpoint, const QString& configJson) {
  m_dataset = dataset;
  m_checkpoint = checkpoint;
  m_config = configJson;
  m_summary->setText(checkpoint.isEmpty()
                         ? "Random weights: evaluation would measure noise. Load or train a checkpoint first."
                         : "Evaluates " + checkpoint + " with the Parameters panel's current settings");
}

void EvalPanel::run() {
  if (m_running) return;
  rcnn::api::EvalRequest req;
  req.checkpoint = m_checkpoint.toStdString();
  req.dataset = m_dataset.toStdString();
  req.split = m_split->currentText().toStdString();
  req.device = "cpu";
  req.config_json = m_config.toStdString();
  m_running = true;
  m_run->setEnabled(false);
  m_summary->setText("evaluating…");
  emit runRequested(req);
}

void EvalPanel::showReport(std::shared_ptr<const rcnn::api::EvalReport> r) {
  if (r) show(*r);
}

void EvalPanel::showFailure(const QString& m) {
  m_running = false;
  m_run->setEnabled(true);
  m_summary->setText("Evaluation failed: " + m);
  emit message("Evaluation failed: " + m);
  emit done();
}

void EvalPanel::show(const rcnn::api::EvalReport& r) {
  m_running = false;
  m_run->setEnabled(true);
  m_report = r;
  const auto& res = r.result;
  m_summary->setText(QString("VOC mAP@0.5 = %1 · VOC-matching mAP@[.5:.95] = %2 · %3 images in %4 s\n"
                             "COCO summary below: COCO's rules (pycocotools), GT areas: %5")
                         .arg(res.map50, 0, 'f', 4)
                         .arg(res.map_coco, 0, 'f', 4)
                         .arg(res.num_images)
                         .arg(r.seconds, 0, 'f', 1)
                         .arg(QString::fromStdString(r.coco.area_rule())));
  const double coco[] = {r.coco.AP,  r.coco.AP50, r.coco.AP75, r.coco.APs,  r.coco.APm,
                         r.coco.APl, r.coco.AR1,  r.coco.AR10, r.coco.AR100};
  for (int k = 0; k < 9; ++k)  // -1: nothing to measure (no GT in that range)
    m_coco->setItem(0, k, new QTableWidgetItem(coco[k] < 0 ? QString("n/a") : QString::number(coco[k], 'f', 4)));
  m_coco->resizeColumnsToContents();
  m_table->setRowCount(int(res.classes.size()));
  for (size_t c = 0; c < res.classes.size(); ++c) {
    const auto& k = res.classes[c];
    m_table->setItem(int(c), 0, new QTableWidgetItem(QString::fromStdString(k.name)));
    m_table->setItem(int(c), 1, new QTableWidgetItem(QString::number(k.num_gt)));
    m_table->setItem(int(c), 2, new QTableWidgetItem(QString::number(k.ap50, 'f', 4)));
    m_table->setItem(int(c), 3, new QTableWidgetItem(QString::number(k.ap_coco, 'f', 4)));
    m_table->setItem(int(c), 4,
                     new QTableWidgetItem(QString("%1 / %2").arg(k.false_positives.size()).arg(k.misses.size())));
  }
  m_table->resizeColumnsToContents();
  const int C = int(res.classes.size());
  m_confusion->setRowCount(C + 1);
  m_confusion->setColumnCount(C + 1);
  QStringList names;
  for (const auto& k : res.classes) names << QString::fromStdString(k.name);
  names << "background";
  m_confusion->setHorizontalHeaderLabels(names);
  m_confusion->setVerticalHeaderLabels(names);
  int mx = 1;
  for (const auto& row : res.confusion)
    for (int v : row) mx = std::max(mx, v);
  for (int i = 0; i <= C; ++i)
    for (int j = 0; j <= C; ++j) {
      const int v = res.confusion[size_t(i)][size_t(j)];
      auto* it = new QTableWidgetItem(QString::number(v));
      it->setBackground(QColor(40, 90 + 150 * v / mx, 60, v ? 255 : 0));
      m_confusion->setItem(i, j, it);
    }
  m_confusion->resizeColumnsToContents();
  if (C) m_table->selectRow(0);
  emit done();
}

void EvalPanel::showClass(int c) {
  const auto& res = m_report.result;
  if (c < 0 || c >= int(res.classes.size())) return;
  const auto& k = res.classes[size_t(c)];
  m_prSeries->clear();
  for (size_t i = 0; i < k.recall.size(); ++i) m_prSeries->append(k.recall[i], k.precision[i]);
  for (auto* a : m_pr->axes()) static_cast<QValueAxis*>(a)->setRange(0, 1);
  m_items->clear();
  for (const auto& [img, det] : k.false_positives) {
    const auto& d = m_report.detections[size_t(img)][size_t(det)];
    auto* it =
        new QListWidgetItem(QString("FP %1 %2 in %3")
                                .arg(QString::fromStdString(k.name))
                                .arg(d.score, 0, 'f', 2)
                                .arg(QString::fromStdString(m_report.image_paths[size_t(img)]).section('/', -1)));
    it->setData(Qt::UserRole, QString::fromStdString(m_report.image_paths[size_t(img)]));
    m_items->addItem(it);
  }
  for (const auto& [img, g] : k.misses) {
    auto* it =
        new QListWidgetItem(QString("miss %1 #%2 in %3")
                                .arg(QString::fromStdString(k.name))
                                .arg(g)
                                .arg(QString::fromStdString(m_report.image_paths[size_t(img)]).section('/', -1)));
    it->setData(Qt::UserRole, QString::fromStdString(m_report.image_paths[size_t(img)]));
    m_items->addItem(it);
  }
}

}  // namespace studio
