#pragma once
// Explain a box, the GUI side of the request loop (issue #31): whenever the
// pickers, the stage, its selection or the trace change, it asks the current
// stage what to explain (StageView::explainTarget), shows the cached map or
// posts the request to the JobRunner (Session::explain runs on the model
// thread), and puts what comes back into the context's cache and shown map.
// A result computed for another trace or another box is cached but not shown.
#include <QObject>
#include <QSet>
#include <QString>
#include <memory>

#include "api/explain.h"
#include "explain/explain_state.h"

namespace studio {

class JobRunner;
class StudioContext;

class ExplainController : public QObject {
  Q_OBJECT
 public:
  ExplainController(StudioContext& ctx, JobRunner& runner, QObject* parent = nullptr);
  // The request the studio makes for a target with these settings (tests make the same one directly).
  static rcnn::api::ExplainRequest request(const ExplainTarget& target, const ExplainSettings& s);
  // Requests posted to the runner so far (a cache hit posts none).
  int requestsPosted() const { return m_requests; }

 signals:
  void message(QString text);  // an error to show (the studio's error path)

 private:
  void refresh();
  void show(ExplainShown s);
  void onResult(std::shared_ptr<const rcnn::api::ExplainResult> r, const QString& key);
  void onFailed(const QString& message, const QString& key);
  void onProgress(int done, int total, const QString& key);

  StudioContext& m_ctx;
  JobRunner& m_runner;
  QSet<QString> m_posted;  // keys in flight on the current trace
  QString m_lastError;
  int m_requests = 0;
};

// "Grad-CAM p4 of det:0 (T-shirt, p 0.93)": what a result shows.
QString explainDescription(const rcnn::api::ExplainResult& r);

}  // namespace studio
