#include "compare_panel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "panels/table_util.h"
#include "stages/trace_helpers.h"

namespace studio {
using namespace rcnn::api;


ComparePanel::ComparePanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* row = new QHBoxLayout;
  m_other = new QLineEdit(this);
  m_other->setObjectName("compareOther");
  m_other->setPlaceholderText("model B: a checkpoint (empty: random weights)");
  auto* browse = new QPushButton("Browse…", this);
  auto* beside = new QPushButton("Show beside A", this);
  beside->setObjectName("compareBeside");
  beside->setToolTip("Model B's canvas beside A's on the current image: same stage, zoom and pan");
  row->addWidget(new QLabel("B", this));
  row->addWidget(m_other, 1);
  row->addWidget(browse);
  row->addWidget(beside);
  connect(beside, &QPushButton::clicked, this, [this] { emit showBesideRequested(m_other->text().trimmed()); });
  lay->addLayout(row);
  auto* top = new QHBoxLayout;
  m_split = new QComboBox(this);
  m_split->addItems({"val", "train", "test"});
  m_run = new QPushButton("Compare A and B on the split", this);
  m_run->setObjectName("compareButton");
  top->addWidget(new QLabel("Split", this));
  top->addWidget(m_split);
  top->addWidget(m_run, 1);
  lay->addLayout(top);
  m_summary = new QLabel("A is the studio's model with the Parameters panel's settings; B is a second checkpoint.", this);
  m_summary->setWordWrap(true);
  lay->addWidget(m_summary);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_classes = makeTable(split, {"class", "GT", "AP A", "AP B", "B − A"}, "compareClasses");
  m_gts = makeTable(split, {"image", "class", "detected by", "the other lost it at", "why"}, "compareGts");
  m_images = makeTable(split, {"image", "detected A", "detected B", "FP A", "FP B"}, "compareImages");
  for (auto* t : {m_classes, m_gts}) t->setSortingEnabled(true);
  lay->addWidget(split, 1);
  connect(m_run, &QPushButton::clicked, this, &ComparePanel::run);
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "Model B", QString(), "Checkpoints (*.pt *.pth);;All files (*)");
    if (!f.isEmpty()) m_other->setText(f);
  });
  connect(m_gts, &QTableWidget::cellDoubleClicked, this, [this](int r) {
    auto* it = m_gts->item(r, 0);
    if (!it || !m_report) return;
    const int k = it->data(Qt::UserRole).toInt();
    const bool aFound = k >= 0;
    const auto& c = aFound ? m_report->found_by_a_only[size_t(k)] : m_report->found_by_b_only[size_t(-k - 1)];
    // The studio shows model A: a GT A lost opens where A lost it; one A found, at its detection.
    emit openAt(QString::fromStdString(m_report->a.image_paths[size_t(c.image)]),
                int(aFound ? Stage::Predictions : stageOfFunnel(c.stage_a)), c.index_a, m_split->currentText());
  });
  connect(m_images, &QTableWidget::cellDoubleClicked, this, [this](int r) {
    auto* it = m_images->item(r, 0);
    if (!it || !m_report) return;
    emit openAt(it->data(Qt::UserRole).toString(), int(Stage::Predictions), -1, m_split->currentText());
  });
}

void ComparePanel::setSource(const QString& dataset, const QString& checkpoint, const QString& configJson) {
  m_dataset = dataset;
  m_checkpoint = checkpoint;
  m_config = configJson;
}

void ComparePanel::setOther(const QString& checkpoint) {
  m_other->setText(checkpoint);
}

void ComparePanel::run() {
  if (m_running) return;
  CompareRequest req;
  req.a.dataset = m_dataset.toStdString();
  req.a.checkpoint = m_checkpoint.toStdString();
  req.a.split = m_split->currentText().toStdString();
  req.a.config_json = m_config.toStdString();
  req.b.checkpoint = m_other->text().trimmed().toStdString();
  if (req.b.checkpoint.empty()) req.b.config_json = req.a.config_json;  // random weights of A's config
  m_running = true;
  m_run->setEnabled(false);
  m_summary->setText(QString("comparing %1 and %2 on %3…")
                         .arg(m_checkpoint.isEmpty() ? "random weights" : QFileInfo(m_checkpoint).fileName(),
                              m_other->text().isEmpty() ? "random weights" : QFileInfo(m_other->text()).fileName(),
                              m_dataset.isEmpty() ? "the embedded dataset" : m_dataset));
  emit runRequested(req);
}

void ComparePanel::showFailure(const QString& m) {
  m_running = false;
  m_run->setEnabled(true);
  m_summary->setText("Comparison failed: " + m);
  emit message("Comparison failed: " + m);
}

void ComparePanel::showReport(std::shared_ptr<const CompareReport> rep) {
  m_running = false;
  m_run->setEnabled(true);
  if (!rep) return;
  m_report = rep;
  const auto& r = *rep;
  m_summary->setText(QString("%1 images · mAP@0.5 A %2, B %3 (%4) · %5 GTs only A detects, %6 only B detects")
                         .arg(r.a.image_paths.size())
                         .arg(r.a.map50, 0, 'f', 4)
                         .arg(r.b.map50, 0, 'f', 4)
                         .arg(r.b.map50 - r.a.map50, 0, 'f', 4)
                         .arg(r.found_by_a_only.size())
                         .arg(r.found_by_b_only.size()));
  m_classes->setSortingEnabled(false);
  m_classes->setRowCount(0);
  for (size_t c = 0; c < r.a.class_names.size() && c < r.a.class_ap50.size(); ++c) {
    const int row = m_classes->rowCount();
    m_classes->insertRow(row);
    m_classes->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(r.a.class_names[c])));
    m_classes->setItem(row, 1, numItem(r.a.class_num_gt[c]));
    m_classes->setItem(row, 2, numItem(r.a.class_ap50[c], 4));
    for (size_t k = 0; k < r.b.class_names.size() && k < r.b.class_ap50.size(); ++k)
      if (r.b.class_names[k] == r.a.class_names[c]) {
        m_classes->setItem(row, 3, numItem(r.b.class_ap50[k], 4));
        m_classes->setItem(row, 4, numItem(r.b.class_ap50[k] - r.a.class_ap50[c], 4));
      }
  }
  m_classes->setSortingEnabled(true);
  auto file = [&](int image) {
    return QFileInfo(QString::fromStdString(r.a.image_paths[size_t(image)])).fileName();
  };
  m_gts->setSortingEnabled(false);
  m_gts->setRowCount(0);
  auto add = [&](const GtChange& c, int key, bool aFound) {
    const int row = m_gts->rowCount();
    m_gts->insertRow(row);
    auto* it = new QTableWidgetItem(file(c.image));
    it->setData(Qt::UserRole, key);
    m_gts->setItem(row, 0, it);
    m_gts->setItem(row, 1,
                   new QTableWidgetItem(c.label >= 0 && c.label < int(r.a.class_names.size())
                                            ? QString::fromStdString(r.a.class_names[size_t(c.label)])
                                            : QString("?")));
    m_gts->setItem(row, 2, new QTableWidgetItem(aFound ? "A only" : "B only"));
    m_gts->setItem(row, 3, new QTableWidgetItem(funnel_name(aFound ? c.stage_b : c.stage_a)));
    auto* why = new QTableWidgetItem(QString::fromStdString(aFound ? c.reason_b : c.reason_a));
    why->setToolTip(why->text());
    m_gts->setItem(row, 4, why);
  };
  for (size_t k = 0; k < r.found_by_a_only.size(); ++k) add(r.found_by_a_only[k], int(k), true);
  for (size_t k = 0; k < r.found_by_b_only.size(); ++k) add(r.found_by_b_only[k], -int(k) - 1, false);
  m_gts->setSortingEnabled(true);
  m_images->setRowCount(0);
  for (const auto& m : r.images) {  // most different first (run_compare's order)
    const int row = m_images->rowCount();
    m_images->insertRow(row);
    auto* it = new QTableWidgetItem(file(m.image));
    it->setData(Qt::UserRole, QString::fromStdString(r.a.image_paths[size_t(m.image)]));
    m_images->setItem(row, 0, it);
    m_images->setItem(row, 1, numItem(m.detected_a));
    m_images->setItem(row, 2, numItem(m.detected_b));
    m_images->setItem(row, 3, numItem(m.fp_a));
    m_images->setItem(row, 4, numItem(m.fp_b));
  }
  for (auto* t : {m_classes, m_images}) t->resizeColumnsToContents();
}

}  // namespace studio
