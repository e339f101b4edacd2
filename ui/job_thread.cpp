#include "job_thread.h"

#include <QElapsedTimer>

namespace studio {

JobThread::JobThread(const rcnn::DetectorConfig& cfg, QObject* parent) : QThread(parent), m_cfg(cfg) {}

JobThread::~JobThread() {
  shutdown();
}

void JobThread::shutdown() {
  {
    QMutexLocker lk(&m_mutex);
    m_quit = true;
  }
  m_wake.wakeAll();
  wait();
}

void JobThread::post(const TraceRequest& r) {
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
  if (r.checkpoint) p.checkpoint = r.checkpoint;
  if (r.device) p.device = r.device;
  m_wake.wakeAll();
}

std::vector<float> JobThread::samplingPoints(int r, int* gh, int* gw) {
  QMutexLocker lk(&m_sessionMutex);
  if (!m_session) return {};
  return m_session->sampling_points(r, gh, gw);
}

void JobThread::run() {
  try {
    QMutexLocker lk(&m_sessionMutex);
    m_session = std::make_unique<rcnn::api::Session>(m_cfg, "cpu");
  } catch (const std::exception& e) {
    emit failed(QString::fromStdString(e.what()));
    return;
  }
  emit modelChanged(QString::fromStdString(m_session->model_label()), true,
                    QString::fromStdString(rcnn::config_to_json_string(m_session->config())));
  for (;;) {
    TraceRequest req;
    {
      QMutexLocker lk(&m_mutex);
      while (!m_pending && !m_quit) m_wake.wait(&m_mutex);
      if (m_quit) return;
      req = *m_pending;
      m_pending.reset();
    }
    QMutexLocker lk(&m_sessionMutex);
    try {
      if (req.device) {
        auto cfg = m_session->config();
        m_session = std::make_unique<rcnn::api::Session>(cfg, *req.device);
        emit modelChanged(QString::fromStdString(m_session->model_label()), true,
                          QString::fromStdString(rcnn::config_to_json_string(cfg)));
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
      if (req.config) {
        auto c = *req.config;
        // The model's class count comes from the model, not the panel.
        c.num_classes = S.config().num_classes;
        c.class_names = S.config().class_names;
        S.set_config(c);
      }
      if (req.sample_seed) S.set_sample_seed(*req.sample_seed);
      if (req.image_path) S.open_image(*req.image_path, req.gt, req.class_names);
      if (!S.has_image()) continue;
      QElapsedTimer t;
      t.start();
      auto trace = std::make_shared<const rcnn::api::PipelineTrace>(S.run());
      emit traceReady(trace, double(t.nsecsElapsed()) / 1e6);
    } catch (const std::exception& e) {
      emit failed(QString::fromStdString(e.what()));
    }
  }
}

}  // namespace studio
