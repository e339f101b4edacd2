#pragma once
// The image canvas: a QOpenGLWidget that draws the model-input image and the
// current stage's overlays (StageView::draw) with Dear ImGui draw lists (tens
// of thousands of boxes stay smooth). Zoom to cursor (wheel), pan (drag),
// fit; hover picks the smallest drawn box under the mouse and shows a tooltip.
#include <QElapsedTimer>
#include <QOpenGLFunctions>
#include <QOpenGLWidget>
#include <memory>
#include <vector>

#include "api/trace.h"
#include "canvas/heat_layer.h"
#include "stages/hit.h"

struct ImGuiContext;

namespace studio {

class StudioContext;
struct DrawContext;

class CanvasWidget : public QOpenGLWidget, protected QOpenGLFunctions {
  Q_OBJECT
 public:
  // Draws the context's trace with its current stage; repaints on its changes.
  explicit CanvasWidget(StudioContext& ctx, QWidget* parent = nullptr);
  ~CanvasWidget() override;

  void fit();
  void zoomBy(double factor);
  double lastFrameMs() const { return m_frameMs; }
  double averageFrameMs() const { return m_frames ? m_frameSum / m_frames : 0; }
  void resetFrameStats() {
    m_frameSum = 0;
    m_frames = 0;
  }
  int drawnPrimitives() const { return m_drawn; }
  // Model-input coordinates -> widget pixels (tests hover with it).
  QPointF toWidget(const QPointF& image) const { return {m_offX + image.x() * m_zoom, m_offY + image.y() * m_zoom}; }
  // Canvas as an image (for export and tests).
  QImage snapshot();
  // The explain map's value under the mouse in the last frame ("" when none; canvas/heat_layer.h).
  QString explainHoverText() const { return m_heat.hoverText(); }
  double zoom() const { return m_zoom; }
  QPointF offset() const { return {m_offX, m_offY}; }
  // Another canvas's zoom and pan (side by side): applied without re-emitting.
  void setViewTransform(double zoom, double offX, double offY);

 signals:
  void clicked(studio::Hit hit);
  // The user (or fit) changed zoom or pan.
  void viewTransformChanged(double zoom, double offX, double offY);

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
  void onTrace();
  void uploadImage();
  void drawOverlays();
  void drawLabelMark(DrawContext& dc, const rcnn::api::PipelineTrace& t);
  void drawCompareMarks(DrawContext& dc);
  void updateHover(const QPointF& pos);
  QPointF toImage(const QPointF& screen) const;

  StudioContext& m_studio;
  std::shared_ptr<const rcnn::api::PipelineTrace> m_trace;  // the one the texture and hit boxes belong to
  ImGuiContext* m_ctx = nullptr;
  unsigned m_tex = 0;
  HeatLayer m_heat;  // the explain map
  bool m_texDirty = false;
  double m_zoom = 1, m_offX = 0, m_offY = 0;
  bool m_fitPending = true;
  bool m_autoFit = true;
  QPointF m_mouse{-1, -1}, m_pressPos, m_pressOff;
  bool m_dragging = false, m_moved = false;
  std::vector<Hit> m_hits;
  bool m_rehover = false;  // recompute the hover from the next frame's boxes (stage, trace, view changed)
  QElapsedTimer m_clock;
  double m_frameMs = 0, m_frameSum = 0;
  int m_frames = 0, m_drawn = 0;
};

}  // namespace studio
