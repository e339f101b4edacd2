// Captures in the studio: File → Save capture / Open capture, drag and drop,
// `rcnn-studio F.rcnncap`. An opened capture replaces the model's trace until
// an image or a model is opened; what needs the model says so.
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QPlainTextEdit>
#include <QStatusBar>
#include <nlohmann/json.hpp>

#include "api/capture_diff.h"
#include "main_window.h"
#include "panels/params_panel.h"
#include "panels/probe_timeline.h"
#include "panels/training_panel.h"
#include "studio_context.h"

namespace studio {
using rcnn::api::Stage;

QString MainWindow::captureSource() const {
  return m_ctx->captureSource();
}

QString MainWindow::viewJson() const {
  nlohmann::json v;
  v["stage"] = rcnn::api::stage_name(m_ctx->stage());
  v["selected_gt"] = m_ctx->selectedGt();
  v["selected_roi"] = m_ctx->selectedRoi();
  v["zoom"] = m_canvas->zoom();
  v["offset"] = {m_canvas->offset().x(), m_canvas->offset().y()};
  v["canvas"] = {m_canvas->width(), m_canvas->height()};
  v["trace_ms"] = m_lastTraceMs;  // what the status bar and the Image stage say the trace took
  return QString::fromStdString(v.dump());
}

void MainWindow::applyView(const QString& json) {
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(json.toStdString());
  } catch (const std::exception&) {
    return;  // a capture written elsewhere may leave the view out
  }
  if (!v.is_object()) return;
  const std::string stage = v.value("stage", "");
  for (int s = 0; s < rcnn::api::kNumStages; ++s)
    if (stage == rcnn::api::stage_name(Stage(s))) setStage(Stage(s));
  if (v.contains("selected_gt") && v["selected_gt"].is_number_integer())
    m_ctx->setSelectedGt(v["selected_gt"].get<int>());
  if (v.contains("selected_roi") && v["selected_roi"].is_number_integer())
    m_ctx->setSelectedRoi(v["selected_roi"].get<int>());
  // The zoom and pan as saved, on a canvas of the same size (another size keeps the fit).
  const auto canvas = v.value("canvas", nlohmann::json::array());
  if (v.contains("zoom") && v["zoom"].is_number() && v.contains("offset") && v["offset"].size() == 2 &&
      canvas.size() == 2 && canvas[0] == m_canvas->width() && canvas[1] == m_canvas->height())
    m_canvas->setViewTransform(v["zoom"].get<double>(), v["offset"][0].get<double>(), v["offset"][1].get<double>());
}

void MainWindow::saveCapture(const QString& path) {
  if (m_capture) {  // the opened capture again, with the current view
    auto c = *m_capture;
    c.view_json = viewJson().toStdString();
    c.warnings.clear();
    try {
      rcnn::api::save_capture(path.toStdString(), c);
      ++m_capturesSaved;
      statusBar()->showMessage("saved capture " + path, 8000);
    } catch (const std::exception& e) {
      showError(e.what());
    }
    return;
  }
  if (!m_lastTrace) return showError("Save capture: no image is open");
  m_job->postCapture(path, viewJson());
}

bool MainWindow::openCapture(const QString& path) {
  QElapsedTimer clock;
  clock.start();
  std::shared_ptr<const rcnn::api::Capture> c;
  try {
    c = std::make_shared<const rcnn::api::Capture>(rcnn::api::load_capture(path.toStdString()));
  } catch (const std::exception& e) {
    showError(e.what());  // the current trace stays
    return false;
  }
  m_capture = c;
  m_ctx->setCaptureSource(path);
  try {
    m_params->setConfig(rcnn::config_from_json_string(c->config_json, path.toStdString()));
  } catch (const std::exception&) {
    // A config this build does not know (a newer capture): the panel keeps its own; the trace is what counts.
  }
  ++m_traces;
  auto trace = std::make_shared<const rcnn::api::PipelineTrace>(c->trace);
  m_lastTrace = trace;
  m_lastTraceMs = 0;
  try {
    m_lastTraceMs = nlohmann::json::parse(c->view_json).value("trace_ms", 0.0);
  } catch (const std::exception&) {
  }
  m_ctx->setTrace(trace, m_lastTraceMs);
  applyView(QString::fromStdString(c->view_json));
  updateModelLabel();
  updateTimingLabel();
  QString msg = QString("opened capture %1 in %2 ms (no model: what needs one says so)").arg(path).arg(clock.elapsed());
  for (const auto& w : c->warnings) msg += "; " + QString::fromStdString(w);
  statusBar()->showMessage(msg, 15000);
  qInfo("%s", qPrintable(msg));
  return true;
}

namespace {
// The marks of a diff: proposals that entered (B's box) or left (A's) the kept set, on the Proposals stage;
// detections added or removed, on Predictions; anchors that became or stopped being positive, on Matching;
// GTs whose verdict changed, on every stage.
CaptureCompare compareMarks(const rcnn::api::Capture& A, const rcnn::api::Capture& B, const rcnn::api::CaptureDiff& d) {
  using rcnn::api::AnchorLabel;
  CaptureCompare c;
  const auto &a = A.trace, &b = B.trace;
  auto name = [&](int l) {
    return l >= 0 && l < b.num_classes() ? QString::fromStdString(b.class_names[size_t(l)]) : QString::number(l);
  };
  if (d.same_anchors)
    for (const auto& f : d.anchor_flips)
      if (f.from == AnchorLabel::Positive || f.to == AnchorLabel::Positive)
        c.marks.push_back({b.anchors[size_t(f.anchor)], Stage::Matching, f.to == AnchorLabel::Positive, false, {}});
  for (int p : d.proposals_entered) c.marks.push_back({b.proposals[size_t(p)].box, Stage::Proposals, true, false, {}});
  for (int p : d.proposals_left) c.marks.push_back({a.proposals[size_t(p)].box, Stage::Proposals, false, false, {}});
  for (int k : d.detections_added) {
    const auto& x = b.detections[size_t(k)];
    c.marks.push_back(
        {x.box, Stage::Predictions, true, false, QString("+ %1 %2").arg(name(x.label)).arg(x.score, 0, 'f', 2)});
  }
  for (int k : d.detections_removed) {
    const auto& x = a.detections[size_t(k)];
    c.marks.push_back(
        {x.box, Stage::Predictions, false, false, QString("- %1 %2").arg(name(x.label)).arg(x.score, 0, 'f', 2)});
  }
  for (const auto& g : d.gt)
    c.marks.push_back(
        {b.gt[size_t(g.gt)].box, rcnn::api::Stage::Image, false, true,
         QString("GT %1: %2 -> %3 (at %4)")
             .arg(g.gt)
             .arg(QString::fromUtf8(rcnn::api::funnel_name(g.from)), QString::fromUtf8(rcnn::api::funnel_name(g.to)),
                  QString::fromUtf8(rcnn::api::stage_name(g.stage)))});
  c.text = QString::fromStdString(rcnn::api::diff_to_text(d, A, B));
  return c;
}
}  // namespace

bool MainWindow::compareCaptures(const QString& a, const QString& b) {
  rcnn::api::Capture A;
  try {
    A = rcnn::api::load_capture(a.toStdString());
  } catch (const std::exception& e) {
    showError(e.what());
    return false;
  }
  if (!openCapture(b)) return false;
  auto c = compareMarks(A, *m_capture, rcnn::api::diff_captures(A, *m_capture));
  c.a = a;
  c.b = b;
  if (!m_diffDock) {
    m_diffDock = new QDockWidget("Capture diff", this);
    m_diffDock->setObjectName("captureDiffDock");
    auto* text = new QPlainTextEdit(m_diffDock);
    text->setObjectName("captureDiff");
    text->setReadOnly(true);
    m_diffDock->setWidget(text);
    addDockWidget(Qt::BottomDockWidgetArea, m_diffDock);
  }
  m_diffDock->findChild<QPlainTextEdit*>("captureDiff")
      ->setPlainText(
          QString("A: %1\nB: %2 (shown; green: B has it, red: A had it, yellow: a GT whose verdict changed)\n\n%3")
              .arg(a, b, c.text));
  m_diffDock->show();
  m_ctx->setCaptureCompare(c);
  return true;
}

void MainWindow::showTimeline(const QString& runDir, int at) {
  auto* tl = m_training->timeline();
  tl->load(runDir);
  if (tl->series().empty()) return showError(runDir + ": no probes (probes/index.jsonl) in this run directory");
  m_training->showTimelineTab();
  tl->select(0, at < 0 ? int(tl->series()[0].iters.size()) - 1 : at);
}

void MainWindow::leaveCapture() {
  if (!m_capture) return;
  m_capture.reset();
  m_ctx->setCaptureCompare({});
  m_ctx->setCaptureSource(QString());
  updateModelLabel();
}

bool MainWindow::needsModel(const QString& what) {
  if (!m_capture) return false;
  const QString msg = QString(
                          "%1 needs the model: this is a capture (%2) opened without one. Open an image or a "
                          "model to leave it.")
                          .arg(what, QFileInfo(m_ctx->captureSource()).fileName());
  m_lastError = msg;
  statusBar()->showMessage(msg, 10000);
  return true;
}

}  // namespace studio
