#pragma once
// The single thread that owns the model (api::Session). The GUI posts
// requests; a newer request replaces a queued older one, so dragging a
// slider never queues a backlog. Results come back as queued signals.
#include <QMutex>
#include <QThread>
#include <QWaitCondition>
#include <memory>
#include <optional>

#include "api/session.h"

namespace studio {

struct TraceRequest {
  std::optional<rcnn::DetectorConfig> config;
  std::optional<std::string> image_path;
  std::vector<rcnn::api::GtObject> gt;
  std::vector<std::string> class_names;
  std::optional<uint64_t> sample_seed;
  std::optional<std::string> checkpoint;  // "" = random weights
  std::optional<std::string> device;
};

class JobThread : public QThread {
  Q_OBJECT
 public:
  explicit JobThread(const rcnn::DetectorConfig& cfg, QObject* parent = nullptr);
  ~JobThread() override;
  // Merges into the pending request (later fields win) and wakes the thread.
  void post(const TraceRequest& r);
  void shutdown();
  // Sampling points of kept proposal r of the last trace (computed here so
  // the GUI never touches the session).
  std::vector<float> samplingPoints(int r, int* gh, int* gw);

 signals:
  void traceReady(std::shared_ptr<const rcnn::api::PipelineTrace> trace, double ms);
  void failed(QString message);
  void modelChanged(QString label, bool random, QString configJson);

 protected:
  void run() override;

 private:
  QMutex m_mutex;
  QWaitCondition m_wake;
  std::optional<TraceRequest> m_pending;
  bool m_quit = false;
  rcnn::DetectorConfig m_cfg;
  std::unique_ptr<rcnn::api::Session> m_session;
  QMutex m_sessionMutex;
};

}  // namespace studio
