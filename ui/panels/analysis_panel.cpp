#include "analysis_panel.h"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "panels/table_util.h"
#include "stages/trace_helpers.h"

namespace studio {
using namespace rcnn::api;


AnalysisPanel::AnalysisPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  m_split = new QComboBox(this);
  m_split->addItems({"val", "train", "test"});
  m_run = new QPushButton("Analyze split", this);
  m_run->setObjectName("analyzeButton");
  top->addWidget(new QLabel("Split", this));
  top->addWidget(m_split);
  top->addWidget(m_run, 1);
  lay->addLayout(top);
  m_summary = new QLabel("Accounts for every GT and every detection of a split with the current model.", this);
  m_summary->setWordWrap(true);
  lay->addWidget(m_summary);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_funnel = makeTable(split, {"lost at (first failing stage)", "GTs", "small", "medium", "large"}, "analysisFunnel");
  m_errors = makeTable(split, {"false positive type", "count", "dAP@0.5 if fixed"}, "analysisErrors");
  m_lost = makeTable(split, {"image", "GT", "class", "lost at", "why"}, "analysisLost");
  m_fps = makeTable(split, {"image", "det", "class", "score", "type"}, "analysisFps");
  m_lost->setSortingEnabled(true);
  m_fps->setSortingEnabled(true);
  lay->addWidget(split, 1);
  connect(m_run, &QPushButton::clicked, this, &AnalysisPanel::run);
  connect(m_lost, &QTableWidget::cellDoubleClicked, this, [this](int row) {
    auto* it = m_lost->item(row, 0);
    if (!it || !m_report) return;
    const auto& g = m_report->gts[size_t(it->data(Qt::UserRole).toInt())];
    emit openAt(QString::fromStdString(m_report->image_paths[size_t(g.image)]), int(stageOfFunnel(g.stage)), g.index,
                m_split->currentText());
  });
  connect(m_fps, &QTableWidget::cellDoubleClicked, this, [this](int row) {
    auto* it = m_fps->item(row, 0);
    if (!it || !m_report) return;
    const auto& d = m_report->detections[size_t(it->data(Qt::UserRole).toInt())];
    emit openAt(QString::fromStdString(m_report->image_paths[size_t(d.image)]), int(Stage::Predictions), -1,
                m_split->currentText());
  });
}

void AnalysisPanel::setSource(const QString& dataset, const QString& checkpoint, const QString& configJson) {
  m_dataset = dataset;
  m_checkpoint = checkpoint;
  m_config = configJson;
}

void AnalysisPanel::run() {
  if (m_running) return;
  AnalyzeRequest req;
  req.dataset = m_dataset.toStdString();
  req.checkpoint = m_checkpoint.toStdString();
  req.split = m_split->currentText().toStdString();
  req.config_json = m_config.toStdString();
  m_running = true;
  m_run->setEnabled(false);
  m_summary->setText(QString("analysing %1 with %2 and the Parameters panel's settings…")
                         .arg(m_dataset.isEmpty() ? "the embedded dataset" : m_dataset,
                              m_checkpoint.isEmpty() ? "random weights" : QFileInfo(m_checkpoint).fileName()));
  emit runRequested(req);
}

void AnalysisPanel::showFailure(const QString& m) {
  m_running = false;
  m_run->setEnabled(true);
  m_summary->setText("Analysis failed: " + m);
  emit message("Analysis failed: " + m);
}

void AnalysisPanel::showReport(std::shared_ptr<const AnalysisReport> rep) {
  m_running = false;
  m_run->setEnabled(true);
  if (!rep) return;
  m_report = rep;
  const auto& r = *rep;
  int total = 0;
  for (int v : r.funnel) total += v;
  m_summary->setText(QString("%1 images · %2 GT (%3 detected, %4 missed) · %5 detections · mAP@0.5 %6 · %7 s")
                         .arg(r.image_paths.size())
                         .arg(total)
                         .arg(r.funnel[size_t(Funnel::Detected)])
                         .arg(r.missed)
                         .arg(r.detections.size())
                         .arg(r.map50, 0, 'f', 4)
                         .arg(r.seconds, 0, 'f', 1));
  m_funnel->setRowCount(0);
  for (Funnel f : funnel_order()) {
    const int row = m_funnel->rowCount();
    m_funnel->insertRow(row);
    m_funnel->setItem(row, 0, new QTableWidgetItem(funnel_name(f)));
    m_funnel->setItem(row, 1, numItem(r.funnel[size_t(f)]));
    for (int b = 0; b < 3; ++b) m_funnel->setItem(row, 2 + b, numItem(r.funnel_by_size[size_t(b)][size_t(f)]));
  }
  m_errors->setRowCount(0);
  for (size_t e = 0; e < r.error_dap.size(); ++e) {
    const int row = m_errors->rowCount();
    m_errors->insertRow(row);
    m_errors->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(r.error_dap[e].first)));
    m_errors->setItem(row, 1, numItem(e < r.error_dap_count.size() ? r.error_dap_count[e] : 0));
    m_errors->setItem(row, 2, numItem(r.error_dap[e].second, 4));
  }
  for (size_t e = 0; e < r.special_dap.size(); ++e) {  // TIDE's special errors
    const int row = m_errors->rowCount();
    m_errors->insertRow(row);
    m_errors->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(r.special_dap[e].first) + " (special)"));
    m_errors->setItem(row, 1, numItem(r.special_dap_count[e]));
    m_errors->setItem(row, 2, numItem(r.special_dap[e].second, 4));
  }
  // TIDE's own figures (its matching and 101-point AP, in points), labelled with their rules.
  QStringList tide;
  for (int e = 0; e < 6; ++e)
    tide << QString("%1 %2 (%3)").arg(rcnn::api::tide_error_key(e)).arg(r.tide.main[size_t(e)], 0, 'f', 2).arg(r.tide.counts[size_t(e)]);
  const QString tideLine = QString("TIDE, its own rules (best free GT, 101-point AP, in points): AP50 %1 · dAP %2 · "
                                   "special fp %3, fn %4")
                               .arg(r.tide.ap50, 0, 'f', 2)
                               .arg(tide.join(" · "))
                               .arg(r.tide.fp, 0, 'f', 2)
                               .arg(r.tide.fn, 0, 'f', 2);
  m_summary->setText(m_summary->text() + "\n" + tideLine);
  m_errors->setToolTip("dAP in this table: VOC matching, all-point AP (0-1), one fix per GT.\n" + tideLine);
  auto cls = [&](int l) {
    return l >= 0 && l < int(r.class_names.size()) ? QString::fromStdString(r.class_names[size_t(l)]) : "?";
  };
  auto image = [&](int i, size_t record) {
    auto* it = new QTableWidgetItem(QFileInfo(QString::fromStdString(r.image_paths[size_t(i)])).fileName());
    it->setData(Qt::UserRole, int(record));
    return it;
  };
  m_lost->setSortingEnabled(false);
  m_lost->setRowCount(0);
  for (size_t k = 0; k < r.gts.size(); ++k) {
    const auto& g = r.gts[k];
    if (g.stage == Funnel::Detected || g.stage == Funnel::Ignored) continue;
    const int row = m_lost->rowCount();
    m_lost->insertRow(row);
    m_lost->setItem(row, 0, image(g.image, k));
    m_lost->setItem(row, 1, numItem(g.index));
    m_lost->setItem(row, 2, new QTableWidgetItem(cls(g.label)));
    m_lost->setItem(row, 3, new QTableWidgetItem(funnel_name(g.stage)));
    auto* why = new QTableWidgetItem(QString::fromStdString(g.reason));
    why->setToolTip(why->text());
    m_lost->setItem(row, 4, why);
  }
  m_lost->setSortingEnabled(true);
  m_fps->setSortingEnabled(false);
  m_fps->setRowCount(0);
  for (size_t k = 0; k < r.detections.size(); ++k) {
    const auto& d = r.detections[k];
    if (d.outcome != DetOutcome::FalsePositive) continue;
    const int row = m_fps->rowCount();
    m_fps->insertRow(row);
    m_fps->setItem(row, 0, image(d.image, k));
    m_fps->setItem(row, 1, numItem(d.index));
    m_fps->setItem(row, 2, new QTableWidgetItem(cls(d.label)));
    m_fps->setItem(row, 3, numItem(d.score, 3));
    m_fps->setItem(row, 4, new QTableWidgetItem(error_name(d.error)));
  }
  m_fps->setSortingEnabled(true);
  m_fps->sortItems(3, Qt::DescendingOrder);
  for (auto* t : {m_funnel, m_errors}) t->resizeColumnsToContents();
}

}  // namespace studio
