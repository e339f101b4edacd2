#pragma once
// The image canvas: a QOpenGLWidget that draws the model-input image and the
// current stage's overlays with Dear ImGui draw lists (tens of thousands of
// boxes stay smooth). Zoom to cursor (wheel), pan (drag), fit; hover picks
// the smallest drawn box under the mouse and shows a tooltip.
#include <QElapsedTimer>
#include <QOpenGLFunctions>
#include <QOpenGLWidget>
#include <memory>
#include <vector>

#include "api/trace.h"

struct ImGuiContext;

namespace studio {

enum class HitKind { None, Gt, Anchor, Proposal, Detection };

struct Hit {
  HitKind kind = HitKind::None;
  int index = -1;
  rcnn::api::Box box;
};

// Whether a hit's index addresses an item of this trace (a hit can outlive
// the trace it was made on while a newer trace arrives).
inline bool hitValid(const Hit& h, const rcnn::api::PipelineTrace& t) {
  const int i = h.index;
  switch (h.kind) {
    case HitKind::Gt:
      return i >= 0 && i < int(t.gt.size());
    case HitKind::Anchor:
      return i >= 0 && i < int(t.anchors.size());
    case HitKind::Proposal:
      return i >= 0 && i < int(t.proposals.size());
    case HitKind::Detection:
      return i >= 0 && i < int(t.detections.size()) && t.detections[size_t(i)].label < t.num_classes() &&
             size_t(t.detections[size_t(i)].proposal + 1) * size_t(t.num_classes() + 1) <= t.class_probs.size();
    default:
      return false;
  }
}

struct CanvasOptions {
  rcnn::api::Stage stage = rcnn::api::Stage::Image;
  bool hideOverlays = false;
  bool levels[3] = {true, true, true};
  std::vector<bool> shapes;  // per anchor shape (scale x ratio); empty = all
  bool showAllAnchors = false;
  bool showCentres = true;
  bool showNeutral = true, showNegative = false, showMatchLines = true;
  int selectedGt = -1;
  bool iouHeatmap = true;
  float proposalScoreMin = 0.f;
  bool showPreNms = false, showSuppressed = false;
  bool objectnessHeatmap = false;
  int heatLevel = 0, heatShape = 0;
  int selectedRoi = 0;
  std::vector<float> roiPoints;  // (x, y) pairs, input coordinates
  bool tpFpFn = true;
};

class CanvasWidget : public QOpenGLWidget, protected QOpenGLFunctions {
  Q_OBJECT
 public:
  explicit CanvasWidget(QWidget* parent = nullptr);
  ~CanvasWidget() override;

  void setTrace(std::shared_ptr<const rcnn::api::PipelineTrace> t);
  void setOptions(const CanvasOptions& o);
  const CanvasOptions& options() const { return m_opt; }
  std::shared_ptr<const rcnn::api::PipelineTrace> trace() const { return m_trace; }
  void fit();
  void zoomBy(double factor);
  double lastFrameMs() const { return m_frameMs; }
  double averageFrameMs() const { return m_frames ? m_frameSum / m_frames : 0; }
  void resetFrameStats() {
    m_frameSum = 0;
    m_frames = 0;
  }
  const Hit& hovered() const { return m_hover; }
  int drawnPrimitives() const { return m_drawn; }
  // Canvas as an image (for export and tests).
  QImage snapshot();

 signals:
  void hoverChanged(studio::Hit hit);
  void clicked(studio::Hit hit);

 protected:
  void initializeGL() override;
  void paintGL() override;
  void resizeGL(int w, int h) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void leaveEvent(QEvent* e) override;

 private:
  void uploadImage();
  void drawOverlays();
  void updateHover(const QPointF& pos);
  QPointF toImage(const QPointF& screen) const;

  std::shared_ptr<const rcnn::api::PipelineTrace> m_trace;
  CanvasOptions m_opt;
  ImGuiContext* m_ctx = nullptr;
  unsigned m_tex = 0;
  int m_texSize = 0;
  bool m_texDirty = false;
  double m_zoom = 1, m_offX = 0, m_offY = 0;
  bool m_fitPending = true;
  QPointF m_mouse{-1, -1}, m_pressPos, m_pressOff;
  bool m_dragging = false, m_moved = false;
  std::vector<Hit> m_hits;
  Hit m_hover;
  QElapsedTimer m_clock;
  double m_frameMs = 0, m_frameSum = 0;
  int m_frames = 0, m_drawn = 0;
};

}  // namespace studio

Q_DECLARE_METATYPE(studio::Hit)
