#include "job_runner.h"

#include "api/devices.h"

namespace studio {

JobRunner::JobRunner(const rcnn::DetectorConfig& cfg, QObject* parent) : QThread(parent), m_cfg(cfg) {
  qRegisterMetaType<std::shared_ptr<const rcnn::api::EvalReport>>("std::shared_ptr<const rcnn::api::EvalReport>");
  qRegisterMetaType<std::shared_ptr<const rcnn::api::CompareReport>>(
      "std::shared_ptr<const rcnn::api::CompareReport>");
  qRegisterMetaType<std::shared_ptr<const rcnn::api::AnalysisReport>>(
      "std::shared_ptr<const rcnn::api::AnalysisReport>");
  qRegisterMetaType<std::shared_ptr<const rcnn::api::CoverageReport>>(
      "std::shared_ptr<const rcnn::api::CoverageReport>");
  qRegisterMetaType<std::shared_ptr<const rcnn::api::SuggestReport>>("std::shared_ptr<const rcnn::api::SuggestReport>");
  qRegisterMetaType<std::shared_ptr<const rcnn::api::ExplainResult>>("std::shared_ptr<const rcnn::api::ExplainResult>");
}

JobRunner::~JobRunner() {
  shutdown();
}

void JobRunner::shutdown() {
  stopTraining();
  if (m_trainThread.joinable()) m_trainThread.join();
  {
    QMutexLocker lk(&m_mutex);
    m_quit = true;
    ++m_explainSerial;  // a running D-RISE stops at its next batch
  }
  m_wake.wakeAll();
  wait();
}

void JobRunner::post(const TraceRequest& r) {
  QMutexLocker lk(&m_mutex);
  if (!m_pending) m_pending = TraceRequest{};
  auto& p = *m_pending;
  if (r.config) p.config = r.config;
  if (r.image_path) {
    p.image_path = r.image_path;
    p.gt = r.gt;
    p.class_names = r.class_names;
  }
  if (r.sample_seed) p.sample_seed = r.sample_seed;
  if (r.feature_channel) p.feature_channel = r.feature_channel;
  if (r.train_view) p.train_view = r.train_view;
  if (r.checkpoint) {
    // A model loaded after a queued config change brings its own config:
    // applying the older change after it would edit (or even reset) the new model.
    p.checkpoint = r.checkpoint;
    if (!r.config) p.config.reset();
  }
  if (r.device) p.device = r.device;
  if (r.precision) p.precision = r.precision;
  if (r.classes_file) p.classes_file = r.classes_file;
  // Anything but the training step switched off makes a new trace: an explanation of this one is moot.
  const bool onlyTrainViewOff = r.train_view && !*r.train_view && !r.config && !r.image_path && !r.sample_seed &&
                                !r.feature_channel && !r.checkpoint && !r.device && !r.precision && !r.classes_file;
  if (!onlyTrainViewOff) ++m_explainSerial;
  m_wake.wakeAll();
}

void JobRunner::postExplain(const rcnn::api::ExplainRequest& r, const QString& key,
                            std::shared_ptr<const rcnn::api::PipelineTrace> onTrace) {
  QMutexLocker lk(&m_mutex);
  ExplainJob j;
  j.req = r;
  j.key = key;
  j.on = onTrace;
  j.checkTrace = bool(onTrace);
  j.serial = ++m_explainSerial;  // cancels the running one
  m_explain = std::move(j);
  m_wake.wakeAll();
}

void JobRunner::cancelExplain() {
  QMutexLocker lk(&m_mutex);
  m_explain.reset();
  ++m_explainSerial;
}

void JobRunner::runExplain(const ExplainJob& job) {
  if (job.serial != m_explainSerial) {
    emit explainFailed("explain: cancelled", job.key);
    return;
  }
  if (job.checkTrace && (job.on.expired() || job.on.lock() != m_lastTrace.lock())) {
    emit explainFailed("explain: the trace changed before it ran", job.key);
    return;
  }
  auto req = job.req;
  req.progress = [this, serial = job.serial, key = job.key](int done, int total) {
    emit explainProgress(done, total, key);
    return serial == m_explainSerial;
  };
  try {
    emit explained(std::make_shared<const rcnn::api::ExplainResult>(m_session->explain(req)), job.key);
  } catch (const std::exception& e) {
    emit explainFailed(QString::fromStdString(e.what()), job.key);
  }
}

// A job that makes a report on this thread and hands it to `done`, or the
// error's text to `failed` (both signals).
template <typename Report, typename Make>
std::function<void()> JobRunner::job(Make make, void (JobRunner::*done)(std::shared_ptr<const Report>),
                                     void (JobRunner::*failed)(QString)) {
  return [this, make, done, failed] {
    try {
      (this->*done)(std::make_shared<const Report>(make()));
    } catch (const std::exception& e) {
      (this->*failed)(QString::fromStdString(e.what()));
    }
  };
}

void JobRunner::queue(std::function<void()> j) {
  QMutexLocker lk(&m_mutex);
  m_queued.push_back(std::move(j));
  m_wake.wakeAll();
}

std::string JobRunner::device() const {
  QMutexLocker lk(&m_mutex);
  return m_device;
}

std::string JobRunner::precision() const {
  QMutexLocker lk(&m_mutex);
  return m_precision;
}

void JobRunner::postEvaluation(const rcnn::api::EvalRequest& req) {
  auto r = req;
  r.device = device();
  r.precision = precision();
  queue(job<rcnn::api::EvalReport>([r] { return rcnn::api::run_evaluation(r); }, &JobRunner::evaluated,
                                   &JobRunner::evaluationFailed));
}

void JobRunner::postCompare(const rcnn::api::CompareRequest& req) {
  auto r = req;
  r.a.device = r.b.device = device();
  r.a.precision = r.b.precision = precision();
  queue(job<rcnn::api::CompareReport>([r] { return rcnn::api::run_compare(r); }, &JobRunner::compared,
                                      &JobRunner::compareFailed));
}

void JobRunner::postAnalysis(const rcnn::api::AnalyzeRequest& req) {
  auto r = req;
  r.device = device();
  r.precision = precision();
  queue(job<rcnn::api::AnalysisReport>([r] { return rcnn::api::run_analysis(r); }, &JobRunner::analyzed,
                                       &JobRunner::analysisFailed));
}

bool JobRunner::startTraining(const rcnn::api::TrainRequest& r, const rcnn::api::TrainEvents& events,
                              std::function<void(const rcnn::api::TrainOutcome&)> done) {
  if (m_training) return false;
  if (m_trainThread.joinable()) m_trainThread.join();  // the previous run has ended
  m_train = std::make_unique<rcnn::api::TrainJob>(r);
  m_training = true;
  auto* job = m_train.get();
  m_trainThread = std::thread([this, job, events, done = std::move(done)] {
    auto outcome = job->run(events);
    rcnn::api::release_free_memory();  // the run's model, batches and caches are gone now
    m_training = false;
    if (done) done(outcome);
  });
  return true;
}

void JobRunner::stopTraining() {
  if (m_training && m_train) m_train->request_stop();
}

void JobRunner::postCapture(const QString& path, const QString& viewJson) {
  queue([this, path, view = viewJson.toStdString()] {
    try {
      if (!m_session->has_image()) throw std::runtime_error("Save capture: no image is open");
      m_session->set_train_view(true);  // a capture shows every stage, the training step's too
      const auto c = m_session->capture(view);
      m_session->set_train_view(m_trainView);
      rcnn::api::save_capture(path.toStdString(), c);
      emit captureSaved(path, QString("%1 anchors, %2 proposals, %3 detections, %4 GTs")
                                  .arg(c.trace.anchors.size())
                                  .arg(c.trace.proposals.size())
                                  .arg(c.trace.detections.size())
                                  .arg(c.trace.gt.size()));
    } catch (const std::exception& e) {
      m_session->set_train_view(m_trainView);
      emit captureFailed(QString::fromStdString(e.what()));
    }
  });
}

void JobRunner::postCoverage(const rcnn::api::CoverageRequest& r) {
  QMutexLocker lk(&m_mutex);
  m_coverage = r;
  m_wake.wakeAll();
}

void JobRunner::postSuggest(const rcnn::api::SuggestRequest& r) {
  queue(job<rcnn::api::SuggestReport>([r] { return rcnn::api::suggest_anchors(r); }, &JobRunner::suggested,
                                      &JobRunner::coverageFailed));
}

void JobRunner::run() {
  try {
    m_session = std::make_unique<rcnn::api::Session>(m_cfg, "cpu");
    m_session->set_train_view(false);  // until a stage that shows it is open (TraceRequest::train_view)
  } catch (const std::exception& e) {
    emit failed(QString::fromStdString(e.what()));
    return;
  }
  emit modelChanged(QString::fromStdString(m_session->model_label()), true,
                    QString::fromStdString(rcnn::config_to_json_string(m_session->config())));
  for (;;) {
    std::optional<TraceRequest> req;
    std::optional<ExplainJob> explain;
    std::function<void()> next;
    {
      QMutexLocker lk(&m_mutex);
      while (!m_pending && !m_explain && !m_coverage && m_queued.empty() && !m_quit) {
        // Idle for 2 s after some work: give the memory it freed back to the
        // system (the allocator keeps it otherwise; see api::release_free_memory).
        if (!m_wake.wait(&m_mutex, QDeadlineTimer(2000)) && m_workedSinceTrim) {
          lk.unlock();
          rcnn::api::release_free_memory();
          lk.relock();
          m_workedSinceTrim = false;
        }
      }
      if (m_quit) return;
      m_workedSinceTrim = true;
      // Interactive work first: a pending trace runs before a queued evaluation.
      if (m_pending) {
        req = std::move(m_pending);
        m_pending.reset();
      } else if (m_explain) {
        explain = std::move(m_explain);
        m_explain.reset();
      } else if (m_coverage) {
        next = job<rcnn::api::CoverageReport>([r = *m_coverage] { return rcnn::api::run_coverage(r); },
                                              &JobRunner::covered, &JobRunner::coverageFailed);
        m_coverage.reset();
      } else {
        next = std::move(m_queued.front());
        m_queued.pop_front();
      }
    }
    if (req) runTrace(*req);
    if (explain) runExplain(*explain);
    if (next) next();
  }
}

void JobRunner::runTrace(const TraceRequest& req) {
  try {
    if (req.device) {
      m_session->set_device(*req.device);  // weights kept; throws (and nothing changes) for a bad device
      {
        QMutexLocker lk(&m_mutex);
        m_device = m_session->device_name();
      }
      emit deviceChanged(QString::fromStdString(m_session->device_name()));
    }
    if (req.precision) {
      m_session->set_precision(*req.precision);  // throws saying why (and nothing changes) where it cannot run
      {
        QMutexLocker lk(&m_mutex);
        m_precision = m_session->precision();
      }
      emit precisionChanged(QString::fromStdString(m_session->precision()));
    }
    auto& S = *m_session;
    if (req.checkpoint) {
      if (req.checkpoint->empty()) {
        S.reset_random_weights(0);
      } else {
        S.load_checkpoint(*req.checkpoint);
      }
      emit modelChanged(QString::fromStdString(S.model_label()), S.random_weights(),
                        QString::fromStdString(rcnn::config_to_json_string(S.config())));
    }
    if (req.classes_file) {
      S.load_class_names(*req.classes_file);
      emit modelChanged(QString::fromStdString(S.model_label()), S.random_weights(),
                        QString::fromStdString(rcnn::config_to_json_string(S.config())));
    }
    if (req.config) {
      auto c = *req.config;
      // The model's class count comes from the model, not the panel.
      c.num_classes = S.config().num_classes;
      c.class_names = S.config().class_names;
      const bool wasRandom = S.random_weights();
      S.set_config(c);
      if (S.random_weights() != wasRandom)  // a shape change rebuilt the model with random weights
        emit modelChanged(QString::fromStdString(S.model_label()), S.random_weights(),
                          QString::fromStdString(rcnn::config_to_json_string(S.config())));
    }
    if (req.sample_seed) S.set_sample_seed(*req.sample_seed);
    if (req.feature_channel) S.set_feature_channel(*req.feature_channel);
    if (req.train_view) S.set_train_view(m_trainView = *req.train_view);
    if (req.image_path) S.open_image(*req.image_path, req.gt, req.class_names);
    if (!S.has_image()) return;
    // Only the training step switched off: the trace as it is stays right, nothing to re-run.
    const bool onlyTrainViewOff = req.train_view && !*req.train_view && !req.config && !req.image_path &&
                                  !req.sample_seed && !req.feature_channel && !req.checkpoint && !req.device &&
                                  !req.precision && !req.classes_file;
    if (onlyTrainViewOff) return;
    QElapsedTimer t;
    t.start();
    auto trace = std::make_shared<const rcnn::api::PipelineTrace>(S.run());
    m_lastTrace = trace;
    emit traceReady(trace, double(t.nsecsElapsed()) / 1e6);
    if (!m_peaks.count(trace->precision)) {  // measured once, after the first trace shows
      const double peak = rcnn::api::measured_peak_gflops(trace->precision);
      m_peaks.insert(trace->precision);
      emit peakMeasured(QString::fromStdString(trace->precision), peak);
    }
  } catch (const std::exception& e) {
    emit failed(QString::fromStdString(e.what()));
  }
}

}  // namespace studio
