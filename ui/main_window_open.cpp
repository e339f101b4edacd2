// What the window opens: datasets, images, models (and model B beside the
// model), and an image at a stage with a GT selected (the panels' lists).
#include "main_window.h"
#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeyEvent>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QToolBar>
#include <fstream>
#include "api/session.h"
#include "job_runner.h"
#include "panels/analysis_panel.h"
#include "panels/compare_panel.h"
#include "side_by_side.h"
#include "panels/coverage_panel.h"
#include "panels/dataset_panel.h"
#include "panels/eval_panel.h"
#include "panels/params_panel.h"
#include "panels/stage_panel.h"
#include "panels/training_panel.h"
#include "stages/stage_view.h"
#include "studio_context.h"

namespace studio {
using rcnn::api::Stage;

bool MainWindow::openDataset(const QString& path, const QString& split) {
  QElapsedTimer clock;
  clock.start();
  rcnn::api::OpenOptions lo;
  lo.split = split.toStdString();
  rcnn::api::DatasetInfo ds;
  try {
    try {
      ds = rcnn::api::open_dataset(path.toStdString(), lo);
    } catch (const std::runtime_error&) {
      if (split == "train") throw;
      lo.split = "train";
      ds = rcnn::api::open_dataset(path.toStdString(), lo);
    }
  } catch (const std::exception& e) {
    showError(e.what());
    return false;
  }
  m_datasetPath = path;
  m_ctx->setDataset(ds);
  m_training->setDataset(path);
  updateAnalysisSource();
  addRecent("recent/datasets", path);
  if (!ds.issues.empty())
    statusBar()->showMessage(QString("%1: %2 problems skipped, first: %3")
                                 .arg(path)
                                 .arg(ds.problems)
                                 .arg(QString::fromStdString(ds.issues[0])),
                             15000);
  updateModelLabel();
  m_datasetPanel->select(0);
  // Thumbnails keep arriving from a worker; the dataset is usable from here.
  const QString msg = QString("opened %1: %2 images in %3 ms").arg(path).arg(ds.images.size()).arg(clock.elapsed());
  if (ds.issues.empty()) statusBar()->showMessage(msg, 8000);
  qInfo("%s", qPrintable(msg));
  return true;
}

void MainWindow::showImage(int index) {
  const auto& ds = m_ctx->dataset();
  if (index < 0 || index >= int(ds.images.size())) return;
  const auto& rec = ds.images[size_t(index)];
  leaveCapture();
  if (m_ctx->labelMark().path != QString::fromStdString(rec.path)) m_ctx->setLabelMark({});  // another image
  TraceRequest r;
  r.image_path = rec.path;
  r.gt = rec.objects;
  r.class_names = ds.class_names;
  m_job->post(r);
  m_lastImage = r;
  m_side->mirror(r);
  statusBar()->showMessage(QString::fromStdString(rec.path), 4000);
}

void MainWindow::openImageFile(const QString& path) {
  leaveCapture();
  TraceRequest r;
  r.image_path = path.toStdString();
  r.class_names = m_ctx->dataset().class_names;
  m_job->post(r);
  m_lastImage = r;
  m_side->mirror(r);
}

void MainWindow::showSideBySide(const QString& checkpointB) {
  m_side->open(checkpointB, m_params->config(), m_lastImage);
}

void MainWindow::hideSideBySide() {
  m_side->hide();
}

void MainWindow::loadConfig(const QString& nameOrFile) {
  m_params->loadPreset(nameOrFile);
}

void MainWindow::loadClassNames(const QString& path) {
  if (needsModel("Loading class names")) return;
  TraceRequest r;
  r.classes_file = path.toStdString();
  m_job->post(r);
}

void MainWindow::openCheckpoint(const QString& path) {
  leaveCapture();
  TraceRequest r;
  r.checkpoint = path.toStdString();
  m_job->post(r);  // m_checkpoint follows in modelChanged, only if the file loads
}

void MainWindow::openAt(const QString& path, Stage stage, int gt, const QString& split) {
  auto find = [&] {
    const auto& ds = m_ctx->dataset();
    for (size_t i = 0; i < ds.images.size(); ++i)
      if (QString::fromStdString(ds.images[i].path) == path) return int(i);
    return -1;
  };
  int i = find();
  // The list may come from another split of the same dataset: open that split (with its GT).
  if (i < 0 && !split.isEmpty() && !m_datasetPath.isEmpty() &&
      QString::fromStdString(m_ctx->dataset().split) != split && openDataset(m_datasetPath, split))
    i = find();
  if (i < 0) {
    openImageFile(path);
    setStage(stage);
    return;
  }
  m_datasetPanel->select(i);
  setStage(stage);
  m_ctx->setSelectedGt(gt);
}

}  // namespace studio
