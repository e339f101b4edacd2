#pragma once
// Side by side: a second model (B) beside the studio's (A) on the same image.
// B has its own JobRunner (its own Session and thread) and StudioContext; its
// canvas follows A's stage, selection, view options, zoom and pan, and A's
// image, sample-seed and feature-channel requests are mirrored to it. The
// header says, for the current image, which GTs one model detects and the
// other loses, and at which stage (from the two traces' funnels).
#include <QWidget>
#include <memory>

#include "config/detector_config.h"
#include "job_runner.h"

class QLabel;

namespace studio {

class StudioContext;
class CanvasWidget;

class SideBySide : public QWidget {
  Q_OBJECT
 public:
  SideBySide(StudioContext& a, CanvasWidget& canvasA, QWidget* parent = nullptr);
  ~SideBySide() override;
  // Model B: a checkpoint file, or "" for random weights of `cfg`. Starts
  // B's thread on first use; `image` is A's current image request.
  void open(const QString& checkpoint, const rcnn::DetectorConfig& cfg, const TraceRequest& image);
  // A request A's model received that B must follow (image, seed, channel).
  void mirror(const TraceRequest& r);
  StudioContext& context() { return *m_ctx; }
  CanvasWidget* canvas() const { return m_canvas; }
  QString headerText() const;
  int tracesReceived() const { return m_traces; }

 signals:
  void failed(QString message);

 private:
  void updateHeader();

  StudioContext& m_a;
  StudioContext* m_ctx;
  CanvasWidget* m_canvas;
  QLabel* m_header;
  JobRunner* m_job = nullptr;
  QString m_label;
  int m_traces = 0;
};

}  // namespace studio
