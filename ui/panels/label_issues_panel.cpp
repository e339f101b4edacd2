#include "label_issues_panel.h"

#include <QApplication>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "panels/table_util.h"

namespace studio {
using namespace rcnn::api;

namespace {

constexpr int kThumb = 56;       // px
constexpr int kThumbRows = 400;  // rows that get a thumbnail (the rest: text only)

// The image around the issue, the labelled box red and the fix green.
QIcon thumbnail(const LabeledImage& im, const LabelIssue& is) {
  QImage img(QString::fromStdString(im.path));
  if (img.isNull()) return {};
  Box focus = is.box             ? *is.box
              : is.suggested_box ? *is.suggested_box
                                 : Box{0, 0, float(img.width()), float(img.height())};
  if (is.box && is.suggested_box)
    focus = {std::min(focus.x1, is.suggested_box->x1), std::min(focus.y1, is.suggested_box->y1),
             std::max(focus.x2, is.suggested_box->x2), std::max(focus.y2, is.suggested_box->y2)};
  const float side = std::max({focus.width(), focus.height(), 24.f}) * 1.6f;
  const float cx = (focus.x1 + focus.x2) / 2, cy = (focus.y1 + focus.y2) / 2;
  const QRectF crop(cx - side / 2, cy - side / 2, side, side);
  QImage out(kThumb, kThumb, QImage::Format_RGB32);
  out.fill(Qt::black);
  QPainter p(&out);
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  p.drawImage(QRectF(0, 0, kThumb, kThumb), img, crop);
  const double s = kThumb / side;
  auto rect = [&](const Box& b) {
    return QRectF((b.x1 - crop.x()) * s, (b.y1 - crop.y()) * s, b.width() * s, b.height() * s);
  };
  if (is.box) p.setPen(QPen(QColor(255, 40, 40), 2)), p.drawRect(rect(*is.box));
  if (is.suggested_box) p.setPen(QPen(QColor(40, 255, 90), 2)), p.drawRect(rect(*is.suggested_box));
  return QIcon(QPixmap::fromImage(out));
}

const char* stateName(LabelDecisionState s) {
  return s == LabelDecisionState::Accepted ? "accepted" : s == LabelDecisionState::Rejected ? "rejected" : "";
}

}  // namespace

LabelIssuesPanel::LabelIssuesPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  m_split = new QComboBox(this);
  m_split->addItems({"train", "val", "test"});
  m_folds = new QSpinBox(this);
  m_folds->setObjectName("labelFolds");
  m_folds->setRange(0, 20);
  m_folds->setSpecialValueText("current model");
  m_folds->setToolTip(
      "0: predict with the current model (it may remember the labels it trained on);\n"
      "K >= 2: train K models, each on the other folds, and predict each fold out of sample");
  m_minutes = new QSpinBox(this);
  m_minutes->setRange(1, 24 * 60);
  m_minutes->setValue(10);
  m_minutes->setSuffix(" min");
  m_minutes->setToolTip("the folds' whole training budget");
  m_run = new QPushButton("Find issues", this);
  m_run->setObjectName("labelRun");
  m_cancel = new QPushButton("Cancel", this);
  m_cancel->setEnabled(false);
  m_load = new QPushButton("Load JSON…", this);
  top->addWidget(new QLabel("Split", this));
  top->addWidget(m_split);
  top->addWidget(new QLabel("Folds", this));
  top->addWidget(m_folds);
  top->addWidget(m_minutes);
  top->addWidget(m_run, 1);
  top->addWidget(m_cancel);
  top->addWidget(m_load);
  lay->addLayout(top);
  auto* filters = new QHBoxLayout;
  m_kind = new QComboBox(this);
  m_kind->setObjectName("labelKind");
  m_kind->addItem("every kind", -1);
  for (int k = 0; k < kNumLabelIssueKinds; ++k) m_kind->addItem(label_issue_kind_name(LabelIssueKind(k)), k);
  m_class = new QComboBox(this);
  m_class->setObjectName("labelClass");
  m_class->addItem("every class", -1);
  m_export = new QPushButton("Export corrected…", this);
  m_export->setObjectName("labelExport");
  m_export->setEnabled(false);
  filters->addWidget(m_kind);
  filters->addWidget(m_class);
  filters->addStretch(1);
  filters->addWidget(m_export);
  lay->addLayout(filters);
  m_summary = new QLabel(
      "Finds the split's own label errors from a model's predictions. A accept · R reject · "
      "Ctrl+Z undo.",
      this);
  m_summary->setWordWrap(true);
  lay->addWidget(m_summary);
  m_table = makeTable(this, {"", "image", "kind", "score", "class", "fix", "decision"}, "labelIssues");
  m_table->setIconSize(QSize(kThumb, kThumb));
  m_table->verticalHeader()->setDefaultSectionSize(kThumb + 4);
  lay->addWidget(m_table, 1);

  connect(m_run, &QPushButton::clicked, this, &LabelIssuesPanel::run);
  connect(m_cancel, &QPushButton::clicked, this, &LabelIssuesPanel::cancel);
  connect(m_load, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "Label issues JSON", {}, "JSON (*.json)");
    if (!f.isEmpty()) loadJson(f);
  });
  connect(m_export, &QPushButton::clicked, this, [this] {
    QString out = qApp->property("rcnn_export_path").toString();
    if (out.isEmpty() && !qApp->property("rcnn_no_dialogs").toBool())
      out = m_ds.format == "coco" ? QFileDialog::getSaveFileName(this, "Corrected COCO file", {}, "JSON (*.json)")
                                  : QFileDialog::getSaveFileName(this, "New VOC folder for the corrected dataset");
    if (!out.isEmpty()) exportCorrected(out);
  });
  auto refilter = [this] { applyFilter(); };
  connect(m_kind, &QComboBox::currentIndexChanged, this, refilter);
  connect(m_class, &QComboBox::currentIndexChanged, this, refilter);
  connect(m_table, &QTableWidget::currentCellChanged, this, [this](int row) { openRow(row); });
  auto key = [this](const QKeySequence& k, std::function<void()> f) {
    auto* sc = new QShortcut(k, m_table);
    sc->setContext(Qt::WidgetShortcut);
    connect(sc, &QShortcut::activated, this, std::move(f));
  };
  key(QKeySequence(Qt::Key_A), [this] { decide(LabelDecisionState::Accepted); });
  key(QKeySequence(Qt::Key_R), [this] { decide(LabelDecisionState::Rejected); });
  key(QKeySequence::Undo, [this] { undo(); });
}

LabelIssuesPanel::~LabelIssuesPanel() {
  if (m_job) m_job->request_stop();
  if (m_thread.joinable()) m_thread.join();
}

void LabelIssuesPanel::setSource(const QString& dataset, const QString& checkpoint) {
  m_datasetPath = dataset;
  m_checkpoint = checkpoint;
}
void LabelIssuesPanel::setSplit(const QString& split) {
  m_split->setCurrentText(split);
}
void LabelIssuesPanel::setFolds(int folds) {
  m_folds->setValue(folds);
}

void LabelIssuesPanel::run() {
  if (m_running) return;
  LabelIssuesRequest req;
  req.dataset = m_datasetPath.toStdString();
  req.split = m_split->currentText().toStdString();
  req.folds = m_folds->value() >= 2 ? m_folds->value() : 0;
  if (req.folds == 0) {
    if (m_checkpoint.isEmpty()) {
      emit message("Label issues: open a trained checkpoint first, or set Folds to train out-of-sample models");
      return;
    }
    req.checkpoint = m_checkpoint.toStdString();
  } else {
    req.minutes = m_minutes->value();
  }
  if (m_thread.joinable()) m_thread.join();
  m_job = std::make_unique<LabelIssuesJob>(req);
  m_running = true;
  m_run->setEnabled(false);
  m_cancel->setEnabled(true);
  m_summary->setText(
      req.folds ? QString("training %1 fold models (%2 min in all)…").arg(req.folds).arg(req.minutes)
                : QString("predicting %1 with %2…").arg(m_split->currentText(), QFileInfo(m_checkpoint).fileName()));
  auto* job = m_job.get();
  m_thread = std::thread([this, job] {
    LabelIssuesEvents ev;
    ev.on_train_progress = [this](int k, int n, const TrainProgress& p) {
      if (p.iter % 10 != 0) return;
      QMetaObject::invokeMethod(
          this,
          [this, k, n, it = p.iter, max = p.max_iters] {
            m_summary->setText(QString("fold %1 of %2: iteration %3 / %4").arg(k + 1).arg(n).arg(it).arg(max));
          },
          Qt::QueuedConnection);
    };
    ev.on_predict = [this](int d, int t) {
      if (d % 20 != 0 && d != t) return;
      QMetaObject::invokeMethod(
          this, [this, d, t] { m_summary->setText(QString("predicting: %1 / %2").arg(d).arg(t)); },
          Qt::QueuedConnection);
    };
    auto res = std::make_shared<LabelIssuesResult>(job->run(ev));
    QMetaObject::invokeMethod(
        this, [this, res] { showResult(res); }, Qt::QueuedConnection);
  });
}

void LabelIssuesPanel::cancel() {
  if (m_job) m_job->request_stop();
}

void LabelIssuesPanel::showResult(std::shared_ptr<const LabelIssuesResult> r) {
  m_running = false;
  m_run->setEnabled(true);
  m_cancel->setEnabled(false);
  if (!r || r->state != "completed") {
    const QString m = r ? QString::fromStdString(r->message) : "no result";
    m_summary->setText("Label issues " + QString::fromStdString(r ? r->state : "failed") + ": " + m);
    emit message("Label issues: " + m);
    emit finished();
    return;
  }
  m_ds = r->dataset;  // the split the job read (export writes a corrected copy of it)
  m_result = r;
  for (const auto& w : r->warnings) emit message("Label issues: " + QString::fromStdString(w));
  fill();
  emit finished();
}

bool LabelIssuesPanel::loadJson(const QString& path) {
  try {
    OpenOptions oo;
    oo.split = m_split->currentText().toStdString();
    const auto ds = open_dataset(m_datasetPath.isEmpty() ? default_dataset_dir() : m_datasetPath.toStdString(), oo);
    auto res = std::make_shared<LabelIssuesResult>();
    res->class_names = ds.class_names;
    for (const auto& im : ds.images)
      res->images.push_back({QFileInfo(QString::fromStdString(im.path)).completeBaseName().toStdString(),
                             im.path,
                             im.width,
                             im.height,
                             im.objects,
                             {}});
    res->report = read_label_issues_json(path.toStdString(), res->images, res->class_names);
    m_ds = ds;
    m_result = res;
    fill();
    m_summary->setText(m_summary->text() + " · from " + QFileInfo(path).fileName());
    emit finished();
    return true;
  } catch (const std::exception& e) {
    emit message(QString("Label issues: ") + e.what());
    emit finished();
    return false;
  }
}

QString LabelIssuesPanel::className(int label) const {
  const auto& n = m_result->class_names;
  return label >= 0 && size_t(label) < n.size() ? QString::fromStdString(n[size_t(label)]) : "-";
}

QString LabelIssuesPanel::caption(const LabelIssue& is) const {
  switch (is.kind) {
    case LabelIssueKind::Missing:
      return "missing: add a " + className(is.suggested_label);
    case LabelIssueKind::Swapped:
      return "swapped: " + className(is.label) + " → " + className(is.suggested_label);
    case LabelIssueKind::BadLoc:
      return "badloc: move the " + className(is.label) + " box (green)";
    case LabelIssueKind::Spurious:
      return "spurious: remove this " + className(is.label);
    case LabelIssueKind::Duplicate:
      return QString("duplicate of GT #%1: remove this one").arg(is.other_gt);
  }
  return {};
}

void LabelIssuesPanel::fill() {
  const auto& r = *m_result;
  m_decisions.clear();
  m_undo.clear();
  for (const auto& is : r.report.issues)
    m_decisions.push_back({r.images[size_t(is.image)].id, is, LabelDecisionState::Undecided});
  {
    QSignalBlocker b(m_class);
    m_class->clear();
    m_class->addItem("every class", -1);
    for (size_t c = 0; c < r.class_names.size(); ++c)
      m_class->addItem(QString::fromStdString(r.class_names[c]), int(c));
  }
  QSignalBlocker b(m_table);
  m_table->setRowCount(0);
  int per_kind[kNumLabelIssueKinds] = {};
  for (size_t k = 0; k < r.report.issues.size(); ++k) {
    const auto& is = r.report.issues[k];
    ++per_kind[int(is.kind)];
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    auto* thumb = new QTableWidgetItem;
    thumb->setData(Qt::UserRole, int(k));
    if (row < kThumbRows) thumb->setIcon(thumbnail(r.images[size_t(is.image)], is));
    m_table->setItem(row, 0, thumb);
    auto* image = new QTableWidgetItem(QString::fromStdString(r.images[size_t(is.image)].id));
    image->setToolTip(QString::fromStdString(is.why));
    m_table->setItem(row, 1, image);
    m_table->setItem(row, 2, new QTableWidgetItem(label_issue_kind_name(is.kind)));
    m_table->setItem(row, 3, numItem(is.score, 3));
    m_table->setItem(row, 4, new QTableWidgetItem(className(is.kind == LabelIssueKind::Missing ? -1 : is.label)));
    auto* fix = new QTableWidgetItem(caption(is));
    fix->setToolTip(QString::fromStdString(is.why));
    m_table->setItem(row, 5, fix);
    m_table->setItem(row, 6, new QTableWidgetItem);
  }
  m_table->setColumnWidth(0, kThumb + 8);
  m_table->resizeColumnToContents(1);
  QStringList counts;
  for (int k = 0; k < kNumLabelIssueKinds; ++k)
    counts << QString("%1 %2").arg(per_kind[k]).arg(label_issue_kind_name(LabelIssueKind(k)));
  m_summary->setText(
      QString("%1 images · %2 issues: %3").arg(r.images.size()).arg(r.report.issues.size()).arg(counts.join(", ")));
  m_export->setEnabled(!r.report.issues.empty() && !m_ds.images.empty());
  applyFilter();
}

void LabelIssuesPanel::setFilter(int kind, int label) {
  m_kind->setCurrentIndex(std::max(0, m_kind->findData(kind)));
  m_class->setCurrentIndex(std::max(0, m_class->findData(label)));
}

void LabelIssuesPanel::applyFilter() {
  if (!m_result) return;
  const int kind = m_kind->currentData().toInt(), label = m_class->currentData().toInt();
  for (int row = 0; row < m_table->rowCount(); ++row) {
    const auto& is = m_result->report.issues[size_t(m_table->item(row, 0)->data(Qt::UserRole).toInt())];
    const int cls = is.kind == LabelIssueKind::Missing ? is.suggested_label : is.label;
    m_table->setRowHidden(row, (kind >= 0 && int(is.kind) != kind) || (label >= 0 && cls != label));
  }
}

void LabelIssuesPanel::openRow(int row) {
  if (!m_result || row < 0 || row >= m_table->rowCount()) return;
  const auto& is = m_result->report.issues[size_t(m_table->item(row, 0)->data(Qt::UserRole).toInt())];
  LabelMark m;
  m.path = QString::fromStdString(m_result->images[size_t(is.image)].path);
  m.box = is.box;
  m.fix = is.suggested_box;
  m.caption = caption(is) + QString(" (%1)").arg(is.score, 0, 'f', 2);
  emit openIssue(m.path, m_split->currentText(), m);
}

void LabelIssuesPanel::refreshRow(int row) {
  const int k = m_table->item(row, 0)->data(Qt::UserRole).toInt();
  const auto s = m_decisions[size_t(k)].state;
  m_table->item(row, 6)->setText(stateName(s));
  const QBrush bg = s == LabelDecisionState::Accepted   ? QBrush(QColor(40, 110, 60))
                    : s == LabelDecisionState::Rejected ? QBrush(QColor(90, 60, 60))
                                                        : QBrush();
  for (int c = 1; c < m_table->columnCount(); ++c) m_table->item(row, c)->setBackground(bg);
}

void LabelIssuesPanel::decide(LabelDecisionState s) {
  const int row = m_table->currentRow();
  if (!m_result || row < 0) return;
  const int k = m_table->item(row, 0)->data(Qt::UserRole).toInt();
  m_undo.push_back({k, m_decisions[size_t(k)].state});
  m_decisions[size_t(k)].state = s;
  refreshRow(row);
  for (int next = row + 1; next < m_table->rowCount(); ++next)
    if (!m_table->isRowHidden(next)) {
      m_table->setCurrentCell(next, 1);
      break;
    }
}

void LabelIssuesPanel::undo() {
  if (m_undo.empty()) return;
  const auto [k, before] = m_undo.back();
  m_undo.pop_back();
  m_decisions[size_t(k)].state = before;
  for (int row = 0; row < m_table->rowCount(); ++row)
    if (m_table->item(row, 0)->data(Qt::UserRole).toInt() == k) {
      refreshRow(row);
      m_table->setCurrentCell(row, 1);
      break;
    }
}

bool LabelIssuesPanel::exportCorrected(const QString& out) {
  try {
    const auto r = export_corrected(m_ds, m_decisions, out.toStdString());
    QString m = QString("Exported %1: %2 added, %3 removed, %4 relabelled, %5 moved; decisions in %6")
                    .arg(QString::fromStdString(r.out))
                    .arg(r.added)
                    .arg(r.removed)
                    .arg(r.relabelled)
                    .arg(r.moved)
                    .arg(QString::fromStdString(r.decisions_json));
    for (const auto& n : r.notes) m += "\n" + QString::fromStdString(n);
    m_summary->setText(m);
    return true;
  } catch (const std::exception& e) {
    emit message(QString("Export corrected: ") + e.what());
    return false;
  }
}

}  // namespace studio
