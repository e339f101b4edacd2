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
#include "explain/explain_controller.h"
#include "job_runner.h"
#include "panels/analysis_panel.h"
#include "panels/compare_panel.h"
#include "panels/coverage_panel.h"
#include "panels/dataset_panel.h"
#include "panels/eval_panel.h"
#include "panels/label_issues_panel.h"
#include "panels/params_panel.h"
#include "panels/probe_timeline.h"
#include "panels/stage_panel.h"
#include "panels/training_panel.h"
#include "side_by_side.h"
#include "stages/stage_view.h"
#include "studio_context.h"
#include "timing_text.h"

namespace studio {
using rcnn::api::Stage;

namespace {
rcnn::DetectorConfig initialConfig() {
  try {
    return rcnn::load_preset("default");
  } catch (...) {
    return rcnn::DetectorConfig{};
  }
}
QString bundledModel() {
  const QString p = QString::fromStdString(rcnn::resource_dir()) + "/models/fashion_default.pt";
  return QFileInfo::exists(p) ? p : QString();
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("RCNN Studio");
  setAcceptDrops(true);
  setDockNestingEnabled(true);
  qRegisterMetaType<std::shared_ptr<const rcnn::api::PipelineTrace>>("std::shared_ptr<const rcnn::api::PipelineTrace>");
  qRegisterMetaType<rcnn::DetectorConfig>("rcnn::DetectorConfig");

  m_ctx = new StudioContext(this);
  m_job = new JobRunner(initialConfig(), this);
  m_canvas = new CanvasWidget(*m_ctx, this);
  auto* center = new QSplitter(Qt::Horizontal, this);
  center->addWidget(m_canvas);
  m_side = new SideBySide(*m_ctx, *m_canvas, center);
  center->addWidget(m_side);
  m_side->hide();
  setCentralWidget(center);
  auto dock = [&](const QString& title, QWidget* w, Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(title);
    d->setWidget(w);
    addDockWidget(area, d);
    return d;
  };
  m_datasetPanel = new DatasetPanel(*m_ctx, this);
  m_stagePanel = new StagePanel(*m_ctx, this);
  m_params = new ParamsPanel(this);
  m_training = new TrainingPanel(*m_job, this);
  m_eval = new EvalPanel(this);
  m_analysis = new AnalysisPanel(this);
  m_labels = new LabelIssuesPanel(this);
  m_coverage = new CoveragePanel(this);
  m_compare = new ComparePanel(this);
  auto* dData = dock("Dataset", m_datasetPanel, Qt::LeftDockWidgetArea);
  auto* dStage = dock("Stage", m_stagePanel, Qt::RightDockWidgetArea);
  auto* dParams = dock("Parameters", m_params, Qt::RightDockWidgetArea);
  auto* dTrain = dock("Training", m_training, Qt::RightDockWidgetArea);
  auto* dEval = dock("Evaluation", m_eval, Qt::RightDockWidgetArea);
  auto* dAnalysis = dock("Analysis", m_analysis, Qt::RightDockWidgetArea);
  auto* dLabels = dock("Label issues", m_labels, Qt::RightDockWidgetArea);
  auto* dCoverage = dock("Anchors (dataset)", m_coverage, Qt::RightDockWidgetArea);
  auto* dCompare = dock("Compare", m_compare, Qt::RightDockWidgetArea);
  tabifyDockWidget(dStage, dParams);
  tabifyDockWidget(dParams, dTrain);
  tabifyDockWidget(dTrain, dEval);
  tabifyDockWidget(dEval, dAnalysis);
  tabifyDockWidget(dAnalysis, dLabels);
  tabifyDockWidget(dLabels, dCoverage);
  tabifyDockWidget(dCoverage, dCompare);
  dStage->raise();
  resizeDocks({dData, dStage}, {220, 460}, Qt::Horizontal);

  m_modelLabel = new QLabel(this);
  m_modelLabel->setObjectName("modelLabel");
  m_timing = new QLabel(this);
  statusBar()->addPermanentWidget(m_timing);
  statusBar()->addPermanentWidget(m_modelLabel);

  const auto cfg = initialConfig();
  m_params->setConfig(cfg);
  m_training->setCurrentConfig(cfg);
  connect(m_job, &JobRunner::traceReady, this, [this](std::shared_ptr<const rcnn::api::PipelineTrace> t, double ms) {
    if (m_capture) return;  // an opened capture stays until an image or a model is opened
    ++m_traces;
    m_ctx->setTrace(t, ms);
    m_lastTrace = t;
    m_lastTraceMs = ms;
    updateTimingLabel();
  });
  connect(m_job, &JobRunner::peakMeasured, this, [this](QString precision, double gflops) {
    m_peaks[precision] = gflops;
    updateTimingLabel();
  });
  connect(m_job, &JobRunner::failed, this, &MainWindow::showError);
  connect(m_job, &JobRunner::captureSaved, this, [this](QString path, QString summary) {
    ++m_capturesSaved;
    statusBar()->showMessage(QString("saved capture %1 (%2)").arg(path, summary), 8000);
  });
  connect(m_job, &JobRunner::captureFailed, this, &MainWindow::showError);
  // The Training panel's timeline: the probe image's capture at the slider's iteration, at the current stage.
  connect(m_training->timeline(), &ProbeTimeline::captureRequested, this, [this](const QString& f) { openCapture(f); });
  m_explain = new ExplainController(*m_ctx, *m_job, this);  // Explain a box: the map off the GUI thread
  connect(m_explain, &ExplainController::message, this, &MainWindow::showError);
  connect(m_job, &JobRunner::modelChanged, this, [this](QString label, bool random, QString json) {
    m_random = random;
    m_modelText = label;
    m_checkpoint = random ? QString() : label;
    m_training->setInitCheckpoint(m_checkpoint);
    if (!random) addRecent("recent/checkpoints", label);
    try {
      auto c = rcnn::config_from_json_string(json.toStdString(), "model");
      m_params->setConfig(c);
      m_training->setCurrentConfig(c);
    } catch (...) {
    }
    updateAnalysisSource();
    updateModelLabel();
  });
  m_job->start();

  // The training step is computed only while the RoI sampling or Losses stage is open.
  auto syncTrainView = [this] {
    const bool on = rcnn::api::stage_shows_training_step(m_ctx->stage());
    if (on == m_trainView) return;
    m_trainView = on;
    TraceRequest r;
    r.train_view = on;
    m_job->post(r);
    if (m_side) m_side->mirror(r);
  };
  connect(m_ctx, &StudioContext::stageChanged, this, syncTrainView);
  syncTrainView();
  connect(m_params, &ParamsPanel::configChanged, this, [this](const rcnn::DetectorConfig& c) {
    if (needsModel("Changing a parameter")) {
      try {
        m_params->setConfig(rcnn::config_from_json_string(m_capture->config_json, "capture"));  // as captured
      } catch (const std::exception&) {
      }
      return;
    }
    m_training->setCurrentConfig(c);
    updateAnalysisSource();
    TraceRequest r;
    r.config = c;
    m_job->post(r);
  });
  m_params->setShapeChangeGuard([this](const QString& key) {
    if (m_random) return true;  // nothing to lose
    if (qApp->property("rcnn_no_dialogs").toBool()) return qApp->property("rcnn_confirm_shape_change").toBool();
    return QMessageBox::question(this, "RCNN Studio",
                                 QString("%1 changes the model's shape: the loaded checkpoint (%2) will be replaced by "
                                         "random weights. Continue?")
                                     .arg(key, QFileInfo(m_modelText).fileName())) == QMessageBox::Yes;
  });
  connect(m_params, &ParamsPanel::message, this, [this](const QString& m) { statusBar()->showMessage(m, 8000); });
  connect(m_datasetPanel, &DatasetPanel::imageSelected, this, &MainWindow::showImage);
  connect(m_ctx, &StudioContext::sampleSeedRequested, this, [this](quint64 s) {
    if (needsModel("A new sampling seed")) return;
    TraceRequest r;
    r.sample_seed = s;
    m_job->post(r);
    m_side->mirror(r);
  });
  connect(m_side, &SideBySide::failed, this, [this](const QString& m) { showError("Model B: " + m); });
  connect(m_compare, &ComparePanel::showBesideRequested, this, &MainWindow::showSideBySide);
  connect(m_ctx, &StudioContext::featureChannelRequested, this, [this](int c) {
    if (needsModel("Another feature-map channel")) return;
    TraceRequest r;
    r.feature_channel = c;
    m_job->post(r);
    m_side->mirror(r);
  });
  connect(m_ctx, &StudioContext::configValueRequested, this,
          [this](const QString& key, const QString& json) { m_params->setValue(key, json); });
  connect(m_canvas, &CanvasWidget::clicked, this, [this](Hit h) {
    if (m_ctx->currentView().clicked(h)) return;
    const auto& t = m_ctx->trace();
    if (h.kind == HitKind::Gt) {
      m_ctx->setSelectedGt(m_ctx->selectedGt() == h.index ? -1 : h.index);
    } else if (h.kind == HitKind::Proposal && t && t->proposals[size_t(h.index)].kept_index >= 0) {
      m_ctx->setSelectedRoi(t->proposals[size_t(h.index)].kept_index);
    }
  });
  connect(m_eval, &EvalPanel::runRequested, this,
          [this](const rcnn::api::EvalRequest& r) { m_job->postEvaluation(r); });
  connect(m_job, &JobRunner::evaluated, m_eval, &EvalPanel::showReport);
  connect(m_job, &JobRunner::evaluationFailed, m_eval, &EvalPanel::showFailure);
  connect(m_analysis, &AnalysisPanel::runRequested, this,
          [this](const rcnn::api::AnalyzeRequest& r) { m_job->postAnalysis(r); });
  connect(m_job, &JobRunner::analyzed, m_analysis, &AnalysisPanel::showReport);
  connect(m_job, &JobRunner::analysisFailed, m_analysis, &AnalysisPanel::showFailure);
  connect(m_analysis, &AnalysisPanel::message, this, &MainWindow::showError);
  connect(m_compare, &ComparePanel::runRequested, this,
          [this](const rcnn::api::CompareRequest& r) { m_job->postCompare(r); });
  connect(m_job, &JobRunner::compared, m_compare, &ComparePanel::showReport);
  connect(m_job, &JobRunner::compareFailed, m_compare, &ComparePanel::showFailure);
  connect(m_compare, &ComparePanel::message, this, &MainWindow::showError);
  connect(m_compare, &ComparePanel::openAt, this,
          [this](const QString& path, int stage, int gt, const QString& split) { openAt(path, Stage(stage), gt, split); });
  connect(m_coverage, &CoveragePanel::coverageRequested, this,
          [this](const rcnn::api::CoverageRequest& r) { m_job->postCoverage(r); });
  connect(m_coverage, &CoveragePanel::suggestRequested, this,
          [this](const rcnn::api::SuggestRequest& r) { m_job->postSuggest(r); });
  connect(m_job, &JobRunner::covered, m_coverage, &CoveragePanel::showReport);
  connect(m_job, &JobRunner::suggested, m_coverage, &CoveragePanel::showSuggestions);
  connect(m_job, &JobRunner::coverageFailed, m_coverage, &CoveragePanel::showFailure);
  connect(m_coverage, &CoveragePanel::message, this, &MainWindow::showError);
  connect(m_coverage, &CoveragePanel::openAt, this,
          [this](const QString& path, int stage, int gt, const QString& split) { openAt(path, Stage(stage), gt, split); });
  connect(m_coverage, &CoveragePanel::applyAnchors, this,
          [this](const QStringList& keys, const QStringList& values) { m_params->setValues(keys, values); });
  connect(m_analysis, &AnalysisPanel::openAt, this,
          [this](const QString& path, int stage, int gt, const QString& split) { openAt(path, Stage(stage), gt, split); });
  connect(m_labels, &LabelIssuesPanel::message, this, &MainWindow::showError);
  connect(m_labels, &LabelIssuesPanel::openIssue, this,
          [this](const QString& path, const QString& split, const LabelMark& mark) {
            openAt(path, Stage::Image, -1, split);  // the labels and the fix, without the model's other boxes
            m_ctx->setLabelMark(mark);
          });
  connect(m_training, &TrainingPanel::useCheckpoint, this, &MainWindow::openCheckpoint);
  connect(m_training, &TrainingPanel::message, this, &MainWindow::showError);
  connect(m_eval, &EvalPanel::message, this, &MainWindow::showError);
  connect(m_eval, &EvalPanel::openImage, this,
          [this](const QString& path) { openAt(path, Stage::Predictions, -1); });

  buildMenus();
  QSettings s;
  restoreGeometry(s.value("window/geometry").toByteArray());
  restoreState(s.value("window/state").toByteArray(), 2);
  if (!s.contains("window/geometry")) resize(1500, 950);
  setStage(Stage::Image);
  updateModelLabel();
  if (const QString m = bundledModel(); !m.isEmpty()) openCheckpoint(m);
}

MainWindow::~MainWindow() {
  m_job->shutdown();
}

QString MainWindow::timingText() const {
  return m_timing->text();
}

void MainWindow::updateTimingLabel() {
  if (!m_lastTrace) return;
  const QString p = QString::fromStdString(m_lastTrace->precision);
  m_timing->setText(timing_text(*m_lastTrace, m_lastTraceMs, m_peaks.value(p, 0.0)));
  m_timing->setToolTip(timing_tooltip(*m_lastTrace));
}

void MainWindow::updateModelLabel() {
  if (m_capture) {
    const auto& m = m_capture->model;
    m_modelLabel->setText(
        QString("<b>CAPTURE</b> %1 — %2, no model loaded")
            .arg(QFileInfo(m_ctx->captureSource()).fileName(), QString::fromStdString(m_capture->trace.model_label)));
    m_modelLabel->setToolTip(QString("%1\nmodel: %2 %3 %4, weights %5")
                                 .arg(m_ctx->captureSource(), QString::fromStdString(m.family),
                                      QString::fromStdString(m.preset), QString::fromStdString(m.checkpoint),
                                      QString::fromStdString(m.weights_hash)));
    setWindowTitle("RCNN Studio — capture " + QFileInfo(m_ctx->captureSource()).fileName());
    return;
  }
  if (m_random)
    m_modelLabel->setText("<b style='color:#f55'>RANDOM WEIGHTS</b> — load or train a checkpoint");
  else
    m_modelLabel->setText("model: " + QFileInfo(m_modelText).fileName());
  m_modelLabel->setToolTip(m_modelText);
  setWindowTitle(QString("RCNN Studio — %1%2")
                     .arg(m_datasetPath.isEmpty() ? "no dataset" : QFileInfo(m_datasetPath).fileName(),
                          m_random ? " — random weights" : ""));
}

void MainWindow::updateAnalysisSource() {
  // Evaluation and analysis measure the model and the settings the user is looking at.
  const QString cfg = QString::fromStdString(rcnn::config_to_json_string(m_params->config()));
  m_analysis->setSource(m_datasetPath, m_checkpoint, cfg);
  m_labels->setSource(m_datasetPath, m_checkpoint);
  m_compare->setSource(m_datasetPath, m_checkpoint, cfg);
  m_coverage->setSource(m_datasetPath, cfg);
  m_eval->setSource(m_datasetPath, m_checkpoint, cfg);
}

void MainWindow::setStage(Stage s) {
  for (auto* a : m_stageGroup->actions()) a->setChecked(a->data().toInt() == int(s));
  m_ctx->setStage(s);
}

Stage MainWindow::stage() const {
  return m_ctx->stage();
}

std::shared_ptr<const rcnn::api::PipelineTrace> MainWindow::trace() const {
  return m_ctx->trace();
}

void MainWindow::exportPng(const QString& path) {
  if (!m_canvas->snapshot().save(path)) showError("Cannot write " + path);
}

void MainWindow::exportTrace(const QString& path) {
  if (!trace()) return showError("No trace to export yet: open an image first.");
  std::ofstream out(path.toStdString());
  out << rcnn::api::trace_to_json(*trace(), true);
  if (!out) showError("Cannot write " + path);
}

void MainWindow::showError(const QString& msg) {
  m_lastError = msg;
  statusBar()->showMessage(msg, 20000);
  if (!qApp->property("rcnn_no_dialogs").toBool()) QMessageBox::warning(this, "RCNN Studio", msg);
}

void MainWindow::addRecent(const QString& key, const QString& path) {
  QSettings s;
  QStringList l = s.value(key).toStringList();
  l.removeAll(path);
  l.prepend(path);
  while (l.size() > 8) l.removeLast();
  s.setValue(key, l);
  rebuildRecent();
}

void MainWindow::rebuildRecent() {
  QSettings s;
  m_recentDatasets->clear();
  for (const auto& p : s.value("recent/datasets").toStringList())
    m_recentDatasets->addAction(p, this, [this, p] { openDataset(p); });
  m_recentCheckpoints->clear();
  for (const auto& p : s.value("recent/checkpoints").toStringList())
    m_recentCheckpoints->addAction(p, this, [this, p] { openCheckpoint(p); });
}

void MainWindow::keyPressEvent(QKeyEvent* e) {
  switch (e->key()) {
    case Qt::Key_Left:
      m_datasetPanel->step(-1);
      return;
    case Qt::Key_Right:
      m_datasetPanel->step(1);
      return;
    case Qt::Key_Plus:
    case Qt::Key_Equal:
      m_canvas->zoomBy(1.25);
      return;
    case Qt::Key_Minus:
      m_canvas->zoomBy(0.8);
      return;
    case Qt::Key_1:
    case Qt::Key_2:
    case Qt::Key_3:
    case Qt::Key_4:
    case Qt::Key_5:
    case Qt::Key_6:
    case Qt::Key_7:
    case Qt::Key_8:
    case Qt::Key_9:
      if (e->key() - Qt::Key_1 < int(m_ctx->stages().size())) setStage(Stage(e->key() - Qt::Key_1));
      return;
    default:
      QMainWindow::keyPressEvent(e);
  }
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  for (const auto& url : e->mimeData()->urls()) {
    const QString p = url.toLocalFile();
    const QFileInfo fi(p);
    if (fi.suffix() == "rcnncap")
      openCapture(p);
    else if (fi.isDir() || fi.suffix() == "json")
      openDataset(p);
    else if (fi.suffix() == "pt")
      openCheckpoint(p);
    else
      openImageFile(p);
  }
}

void MainWindow::closeEvent(QCloseEvent* e) {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState(2));
  if (m_training->running()) m_training->stop();
  e->accept();
}

}  // namespace studio
