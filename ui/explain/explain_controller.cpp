#include "explain/explain_controller.h"

#include <algorithm>

#include "explain/explain_cache.h"
#include "job_runner.h"
#include "stages/stage_view.h"
#include "studio_context.h"

namespace studio {
using rcnn::api::ExplainResult;

QString explainDescription(const ExplainResult& r) {
  QString what = QString("%1:%2").arg(QString::fromStdString(r.target_kind)).arg(r.index);
  QString s = explainMethodName(r.method);
  if (!r.level_name.empty()) s += " " + QString::fromStdString(r.level_name);
  s += " of " + what;
  if (!r.delta.empty()) s += " " + QString::fromStdString(r.delta);
  const QString cls = r.class_name.empty() ? QString() : QString::fromStdString(r.class_name) + ", ";
  s += QString(" (%1p %2)").arg(cls).arg(r.score, 0, 'f', 3);
  const auto [mn, mx] = std::minmax_element(r.map.begin(), r.map.end());
  if (!r.map.empty() && !(*mx > *mn)) s += QString(": flat, %1 everywhere").arg(double(*mn));
  return s;
}

ExplainController::ExplainController(StudioContext& ctx, JobRunner& runner, QObject* parent)
    : QObject(parent), m_ctx(ctx), m_runner(runner) {
  connect(&ctx, &StudioContext::traceChanged, this, [this] {
    // Every map belongs to a trace (its indices, its image, its model): a new trace makes them all stale.
    m_ctx.explainCache().clear();
    m_posted.clear();
    refresh();
  });
  for (auto sig : {&StudioContext::stageChanged, &StudioContext::selectionChanged,
                   &StudioContext::explainSettingsChanged, &StudioContext::explainTargetChanged})
    connect(&ctx, sig, this, &ExplainController::refresh);
  connect(&runner, &JobRunner::explained, this, &ExplainController::onResult);
  connect(&runner, &JobRunner::explainFailed, this, &ExplainController::onFailed);
  connect(&runner, &JobRunner::explainProgress, this, &ExplainController::onProgress);
}

rcnn::api::ExplainRequest ExplainController::request(const ExplainTarget& target, const ExplainSettings& s) {
  rcnn::api::ExplainRequest r;
  r.target = target.kind;
  r.index = target.index;
  r.method = s.method;
  r.level = s.level;
  r.backbone = s.backbone;
  r.masks = s.masks;
  return r;
}

void ExplainController::show(ExplainShown s) {
  s.imagePath = m_ctx.trace() ? QString::fromStdString(m_ctx.trace()->image_path) : QString();
  s.generation = m_ctx.traceGeneration();
  m_ctx.setExplainShown(s);
}

void ExplainController::refresh() {
  const auto& t = m_ctx.trace();
  const ExplainSettings& s = m_ctx.explainSettings();
  const ExplainShown& cur = m_ctx.explainShown();
  auto idle = [&](const QString& status) {
    if (!m_posted.isEmpty()) m_runner.cancelExplain();  // nothing in flight is wanted any more
    m_posted.clear();
    if (cur.result || cur.busy || cur.status != status || !cur.key.isEmpty()) {
      ExplainShown n;
      n.status = status;
      show(n);
    }
  };
  if (!s.enabled) return idle(QString());
  if (!t) return idle("No image yet.");
  if (!m_ctx.captureSource().isEmpty())
    return idle(
        "Explain needs the model: this trace is a capture, opened without one. Open the model and the "
        "image to explain a box.");
  const ExplainTarget target = m_ctx.currentView().explainTarget(*t);
  if (!target.valid()) return idle("Select a box to explain.");
  const auto req = request(target, s);
  const QString key = ExplainCache::key(QString::fromStdString(t->image_path), m_ctx.traceGeneration(), target, s, req);
  if (key == cur.key && cur.generation == m_ctx.traceGeneration()) return;  // shown, failed or computing already
  ExplainShown n;
  n.key = key;
  if (auto r = m_ctx.explainCache().get(key)) {
    if (!m_posted.isEmpty()) m_runner.cancelExplain();
    m_posted.clear();
    n.result = r;
    n.status = explainDescription(*r) + " (cached)";
    return show(n);
  }
  n.busy = true;
  n.status = QString("Computing %1 of %2…").arg(explainMethodName(s.method), target.text());
  show(n);
  m_posted.insert(key);  // the newer request cancels a running one; one that finished first is still cached
  ++m_requests;
  m_runner.postExplain(req, key, t);
}

void ExplainController::onResult(std::shared_ptr<const ExplainResult> r, const QString& key) {
  if (!m_posted.remove(key)) return;  // another trace's (its cache was cleared), or cancelled meanwhile
  m_ctx.explainCache().put(key, r);
  const ExplainShown& cur = m_ctx.explainShown();
  if (key != cur.key) return;
  ExplainShown n;
  n.key = key;
  n.result = r;
  n.status = explainDescription(*r);
  m_lastError.clear();
  show(n);
}

void ExplainController::onFailed(const QString& message, const QString& key) {
  const bool wanted = m_posted.remove(key) && key == m_ctx.explainShown().key;
  if (!wanted) return;
  ExplainShown n;
  if (message == "explain: cancelled" || message.startsWith("explain: the trace changed")) {
    // A new trace is on its way (its refresh asks again); the key is dropped so a later refresh can.
    n.status = "Cancelled: " + message;
    return show(n);
  }
  n.key = key;  // not asked again until something changes
  n.error = true;
  n.status = message;
  show(n);
  if (message != m_lastError) emit this->message("Explain: " + message);
  m_lastError = message;
}

void ExplainController::onProgress(int done, int total, const QString& key) {
  ExplainShown n = m_ctx.explainShown();
  if (key != n.key || !n.busy) return;
  n.done = done;
  n.total = total;
  n.status = QString("Computing %1: %2 / %3 masks…")
                 .arg(explainMethodName(m_ctx.explainSettings().method))
                 .arg(done)
                 .arg(total);
  show(n);
}

}  // namespace studio
