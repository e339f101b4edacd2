// The main window's menus and stage toolbar.
#include <QAction>
#include <QActionGroup>
#include <QDockWidget>
#include <QFileDialog>
#include <QMenuBar>
#include <QMessageBox>
#include <QToolBar>

#include "api/devices.h"
#include "job_runner.h"
#include "main_window.h"
#include "panels/dataset_panel.h"
#include "stages/stage_view.h"
#include "studio_context.h"

namespace studio {
using rcnn::api::Stage;

void MainWindow::buildMenus() {
  auto* file = menuBar()->addMenu("&File");
  file->addAction("Open &dataset…", QKeySequence("Ctrl+D"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, "Dataset directory (VOC or image folder)");
    if (!d.isEmpty()) openDataset(d);
  });
  file->addAction("Open &COCO annotations…", this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "COCO JSON", QString(), "COCO (*.json)");
    if (!f.isEmpty()) openDataset(f);
  });
  file->addAction("Open &image…", QKeySequence::Open, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "Image", QString(), "Images (*.png *.jpg *.jpeg *.bmp)");
    if (!f.isEmpty()) openImageFile(f);
  });
  file->addAction("Open &model…", QKeySequence("Ctrl+K"), this, [this] {
    const QString f = QFileDialog::getOpenFileName(
        this, "Model: a checkpoint of ours (.pt) or a torchvision state dict (.pth)", "runs",
        "Models (*.pt *.pth);;Our checkpoints (*.pt);;torchvision state dicts (*.pth)");
    if (!f.isEmpty()) openCheckpoint(f);
  });
  m_recentDatasets = file->addMenu("Recent datasets");
  m_recentCheckpoints = file->addMenu("Recent checkpoints");
  rebuildRecent();
  file->addSeparator();
  file->addAction("&Save capture…", QKeySequence("Ctrl+Shift+S"), this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, "Save capture", "capture.rcnncap", "Captures (*.rcnncap)");
    if (!f.isEmpty()) saveCapture(f);
  });
  file->addAction("Open capt&ure…", QKeySequence("Ctrl+Shift+O"), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "Open capture", QString(), "Captures (*.rcnncap)");
    if (!f.isEmpty()) openCapture(f);
  });
  file->addSeparator();
  file->addAction("Export canvas as &PNG…", QKeySequence("Ctrl+E"), this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, "Export PNG", "canvas.png", "PNG (*.png)");
    if (!f.isEmpty()) exportPng(f);
  });
  file->addAction("Export &trace as JSON…", this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, "Export trace", "trace.json", "JSON (*.json)");
    if (!f.isEmpty()) exportTrace(f);
  });
  file->addSeparator();
  file->addAction("&Quit", QKeySequence::Quit, this, &QWidget::close);

  auto* view = menuBar()->addMenu("&View");
  auto* tb = addToolBar("Stages");
  tb->setObjectName("stagesToolbar");
  tb->addAction("◀", this, [this] { m_datasetPanel->step(-1); })->setToolTip("Previous image (←)");
  tb->addAction("▶", this, [this] { m_datasetPanel->step(1); })->setToolTip("Next image (→)");
  tb->addSeparator();
  m_stageGroup = new QActionGroup(this);
  const auto& stages = m_ctx->stages();
  for (int i = 0; i < int(stages.size()); ++i) {
    auto* a = new QAction(QString("%1 %2").arg(i + 1).arg(stages[size_t(i)]->title()), this);
    a->setCheckable(true);
    a->setData(i);
    a->setShortcut(QKeySequence(QString::number(i + 1)));
    m_stageGroup->addAction(a);
    view->addAction(a);
    tb->addAction(a);
    connect(a, &QAction::triggered, this, [this, i] { setStage(Stage(i)); });
  }
  tb->addSeparator();
  view->addSeparator();
  auto* fit = view->addAction("&Fit", QKeySequence("F"), m_canvas, &CanvasWidget::fit);
  tb->addAction(fit);
  view->addAction("Zoom in", QKeySequence("+"), this, [this] { m_canvas->zoomBy(1.25); });
  view->addAction("Zoom out", QKeySequence("-"), this, [this] { m_canvas->zoomBy(0.8); });
  auto* hide = view->addAction("&Hide overlays", QKeySequence("H"), this, [this](bool on) {
    auto v = m_ctx->view();
    v.hideOverlays = on;
    m_ctx->setView(v);
  });
  hide->setCheckable(true);
  view->addSeparator();
  view->addAction("Side by side with model &B…", this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "Model B (beside the current model)", QString(),
                                                   "Checkpoints (*.pt *.pth);;All files (*)");
    if (!f.isEmpty()) showSideBySide(f);
  });
  view->addAction("Close side by side", this, &MainWindow::hideSideBySide);
  view->addAction("&Compare captures…", this, [this] {
    const QString a = QFileDialog::getOpenFileName(this, "Capture A (before)", QString(), "Captures (*.rcnncap)");
    if (a.isEmpty()) return;
    const QString b = QFileDialog::getOpenFileName(this, "Capture B (after: shown)", QString(), "Captures (*.rcnncap)");
    if (!b.isEmpty()) compareCaptures(a, b);
  });
  view->addSeparator();
  for (auto* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());

  auto* model = menuBar()->addMenu("&Model");
  model->addAction("Random weights", this, [this] {
    leaveCapture();
    TraceRequest r;
    r.checkpoint = std::string();
    m_job->post(r);
  });
  model->addAction("Class &names…", this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, "Class names: one per line (a first __background__ is skipped)",
                                                   QString(), "Text (*.txt);;All files (*)");
    if (!f.isEmpty()) loadClassNames(f);
  });
  // Every device LibTorch sees; the trace, evaluation and analysis run on the checked one.
  auto* dev = model->addMenu("&Device");
  dev->setObjectName("deviceMenu");
  auto* group = new QActionGroup(dev);
  for (const auto& d : rcnn::api::compute_devices()) {
    auto* a = dev->addAction(QString::fromStdString(d.label), this, [this, id = d.id] {
      TraceRequest r;
      r.device = id;
      m_job->post(r);
    });
    a->setData(QString::fromStdString(d.id));
    a->setCheckable(true);
    a->setChecked(d.id == "cpu");
    group->addAction(a);
  }
  const auto why = rcnn::api::cuda_unavailable_reason();
  if (!why.empty()) {
    auto* none = dev->addAction(QString("CUDA: %1").arg(QString::fromStdString(why)));
    none->setEnabled(false);
  }
  connect(m_job, &JobRunner::deviceChanged, dev, [dev](QString id) {
    for (auto* a : dev->actions())
      if (a->isCheckable()) a->setChecked(a->data().toString() == id);
  });
  // fp32, or bf16 where the CPU has it (AVX-512-BF16 / AMX): the trace, evaluation, analysis and comparison.
  auto* prec = model->addMenu("&Precision");
  prec->setObjectName("precisionMenu");
  auto* pgroup = new QActionGroup(prec);
  const auto noBf16 = QString::fromStdString(rcnn::api::bf16_unavailable_reason());
  for (const char* p : {"fp32", "bf16"}) {
    const QString id = p;
    auto* a = prec->addAction(id == "fp32" ? "fp32" : "bf16 (AVX-512-BF16 / AMX: convolutions and matrix products)",
                              this, [this, id] {
                                TraceRequest r;
                                r.precision = id.toStdString();
                                m_job->post(r);
                              });
    a->setData(id);
    a->setCheckable(true);
    a->setChecked(id == "fp32");
    if (id == "bf16" && !noBf16.isEmpty()) {
      a->setEnabled(false);
      a->setToolTip(noBf16);
      prec->addAction(QString("bf16: %1").arg(noBf16))->setEnabled(false);
    }
    pgroup->addAction(a);
  }
  connect(m_job, &JobRunner::precisionChanged, prec, [prec](QString id) {
    for (auto* a : prec->actions())
      if (a->isCheckable()) a->setChecked(a->data().toString() == id);
  });
  auto* help = menuBar()->addMenu("&Help");
  help->addAction("&About", this, [this] {
    QMessageBox::about(
        this, "RCNN Studio",
        "RCNN Studio: step through every stage of a two-stage detector (Faster R-CNN, FPN p3–p5, RoIAlign).\n"
        "Keys: ←/→ images, 1–9 stages, +/− zoom, F fit, H hide overlays.");
  });
}

}  // namespace studio
