#pragma once
// The one thread that does model work in the studio (RenderDoc's
// ReplayManager): it owns the api::Session and runs tracing, model changes and
// evaluation. The GUI posts tagged requests and never waits: a newer Trace or
// Model request merges into a queued one of the same tag (later fields win),
// so dragging a slider never queues a backlog; Evaluate requests queue in
// order. Results come back as queued signals. Training runs are started,
// stopped and owned here too; a run executes on a worker of the runner (it
// takes minutes and must not hold up tracing) and reports through the
// caller's TrainEvents, called on that worker.
#include <QDeadlineTimer>
#include <QMutex>
#include <QThread>
#include <QWaitCondition>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "api/analyze_job.h"
#include "api/compare_job.h"
#include "api/coverage_job.h"
#include "api/eval_job.h"
#include "api/explain.h"
#include "api/session.h"
#include "api/train_job.h"

namespace studio {

// Tag::Trace and Tag::Model requests: what to change before re-tracing.
struct TraceRequest {
  std::optional<rcnn::DetectorConfig> config;
  std::optional<std::string> image_path;
  std::vector<rcnn::api::GtObject> gt;
  std::vector<std::string> class_names;
  std::optional<uint64_t> sample_seed;
  std::optional<int> feature_channel;  // the channel the feature-map images show
  std::optional<std::string> checkpoint;  // "" = random weights
  std::optional<std::string> device;
  std::optional<std::string> precision;     // "fp32" | "bf16" (Model → Precision)
  std::optional<std::string> classes_file;  // the model's class names, one per line
  std::optional<bool> train_view;  // compute the training step (the RoI sampling and Losses stages show it)
};

class JobRunner : public QThread {
  Q_OBJECT
 public:
  explicit JobRunner(const rcnn::DetectorConfig& cfg, QObject* parent = nullptr);
  ~JobRunner() override;
  // Tag Trace/Model: merges into the pending request and wakes the thread.
  void post(const TraceRequest& r);
  // Tag Evaluate: queued; the result comes back as evaluated().
  void postEvaluation(const rcnn::api::EvalRequest& r);
  // Tag Analyze: queued; the result comes back as analyzed().
  void postAnalysis(const rcnn::api::AnalyzeRequest& r);
  // Tag Compare: queued; the result comes back as compared().
  void postCompare(const rcnn::api::CompareRequest& r);
  // Tag Coverage: a newer request replaces a pending one (live updates while
  // a parameter is dragged); the result comes back as covered().
  void postCoverage(const rcnn::api::CoverageRequest& r);
  // Tag Suggest: queued; the result comes back as suggested().
  void postSuggest(const rcnn::api::SuggestRequest& r);
  // Tag Explain: Session::explain of the current image (api/explain.h). A newer request replaces a pending one
  // and cancels a running one (D-RISE checks between batches), as does a Trace request that re-runs the trace.
  // `onTrace` (optional): the trace the request's indices address; when the session's last trace is another
  // one by the time it runs, it fails as stale without computing. The result (or the error's text) comes back
  // as explained() (explainFailed()) with `key`; D-RISE reports explainProgress() after each batch.
  void postExplain(const rcnn::api::ExplainRequest& r, const QString& key,
                   std::shared_ptr<const rcnn::api::PipelineTrace> onTrace = nullptr);
  // Tag Capture: queued; the current image's trace (with its training step) as a capture file
  // (api/capture.h); captureSaved() or captureFailed() with the file.
  void postCapture(const QString& path, const QString& viewJson);
  // Drops a pending explain request (silently) and cancels a running one (it fails with "explain: cancelled").
  void cancelExplain();
  void shutdown();

  // Tag Train: starts a run unless one is running (returns false then).
  // `done` is called on the worker when the run ends.
  bool startTraining(const rcnn::api::TrainRequest& r, const rcnn::api::TrainEvents& events,
                     std::function<void(const rcnn::api::TrainOutcome&)> done);
  // Asks the running job to stop after its current iteration.
  void stopTraining();
  bool trainingRunning() const { return m_training; }
  // The device the model runs on (Model → Device); evaluation, analysis and
  // comparison jobs run there too.
  std::string device() const;
  std::string precision() const;  // Model → Precision: "fp32" or "bf16"

 signals:
  void traceReady(std::shared_ptr<const rcnn::api::PipelineTrace> trace, double ms);
  void failed(QString message);
  void modelChanged(QString label, bool random, QString configJson);
  void deviceChanged(QString device);  // the model and the trace now run there
  void precisionChanged(QString precision);  // the trace (and jobs) now run at this precision
  // The machine's measured compute peak at a precision (api::measured_peak_gflops),
  // sent after the first trace at that precision.
  void peakMeasured(QString precision, double gflops);
  void evaluated(std::shared_ptr<const rcnn::api::EvalReport> report);
  void evaluationFailed(QString message);
  void analyzed(std::shared_ptr<const rcnn::api::AnalysisReport> report);
  void analysisFailed(QString message);
  void compared(std::shared_ptr<const rcnn::api::CompareReport> report);
  void compareFailed(QString message);
  void covered(std::shared_ptr<const rcnn::api::CoverageReport> report);
  void suggested(std::shared_ptr<const rcnn::api::SuggestReport> report);
  void coverageFailed(QString message);
  void explained(std::shared_ptr<const rcnn::api::ExplainResult> result, QString key);
  void explainFailed(QString message, QString key);
  void explainProgress(int done, int total, QString key);
  void captureSaved(QString path, QString summary);
  void captureFailed(QString message);

 protected:
  void run() override;

 private:
  struct ExplainJob {
    rcnn::api::ExplainRequest req;
    QString key;
    std::weak_ptr<const rcnn::api::PipelineTrace> on;
    bool checkTrace = false;
    quint64 serial = 0;
  };
  void runTrace(const TraceRequest& req);
  void runExplain(const ExplainJob& job);
  template <typename Report, typename Make>
  std::function<void()> job(Make make, void (JobRunner::*done)(std::shared_ptr<const Report>),
                            void (JobRunner::*failed)(QString));
  void queue(std::function<void()> j);

  mutable QMutex m_mutex;
  QWaitCondition m_wake;
  std::optional<TraceRequest> m_pending;
  std::deque<std::function<void()>> m_queued;  // Evaluate / Analyze / Suggest jobs, in order
  std::optional<rcnn::api::CoverageRequest> m_coverage;
  std::optional<ExplainJob> m_explain;
  std::atomic<quint64> m_explainSerial{0};  // bumped by a newer explain, a re-tracing request and shutdown
  std::weak_ptr<const rcnn::api::PipelineTrace> m_lastTrace;  // the last one emitted; this thread only
  bool m_quit = false;
  std::string m_device = "cpu";  // under m_mutex
  std::string m_precision = "fp32";  // under m_mutex
  bool m_workedSinceTrim = false;  // this thread only
  bool m_trainView = false;        // the session computes the training step; this thread only
  std::set<std::string> m_peaks;   // precisions whose peak was measured; this thread only
  rcnn::DetectorConfig m_cfg;
  std::unique_ptr<rcnn::api::Session> m_session;  // touched only on this thread
  std::unique_ptr<rcnn::api::TrainJob> m_train;
  std::thread m_trainThread;
  std::atomic<bool> m_training{false};
};

}  // namespace studio
