#pragma once
// The explain map on the canvas (issue #31): the shown ExplainResult's map as
// a semi-transparent JET image under the stage's overlays, in the original
// image's pixels mapped to the model input (scale, pad); the explained box;
// a colour bar with the map's range and method; and the value under the mouse.
// Drawn only over the image and the trace it was computed on.
#include <QOpenGLFunctions>
#include <QPointF>
#include <QString>
#include <memory>

#include "api/explain.h"
#include "api/trace.h"

struct ImDrawList;

namespace studio {

struct DrawContext;
struct ExplainShown;

// The colour scale of the map, v in [0, 1]: JET (blue, cyan, yellow, red).
void jetRgb(float v, unsigned char* rgb);

class HeatLayer : protected QOpenGLFunctions {
 public:
  void init() { initializeOpenGLFunctions(); }
  void release();  // with the GL context current
  // Whether `s` is a map of this trace's image (generation: StudioContext::traceGeneration).
  static bool belongs(const ExplainShown& s, const rcnn::api::PipelineTrace& t, quint64 generation);
  // The map, under the overlays (uploads it once per result).
  void drawMap(DrawContext& dc, const rcnn::api::PipelineTrace& t,
               const std::shared_ptr<const rcnn::api::ExplainResult>& r);
  // The explained box, the colour bar in the canvas's bottom-right corner and the hovered pixel's value.
  void drawLegend(DrawContext& dc, const rcnn::api::PipelineTrace& t, const rcnn::api::ExplainResult& r, float canvasW,
                  float canvasH);
  // "map(x, y) = v, f % of max" for the last frame's mouse (empty: off the image or no map).
  const QString& hoverText() const { return m_hover; }
  void clearHover() { m_hover.clear(); }

 private:
  void upload(const std::shared_ptr<const rcnn::api::ExplainResult>& r);

  unsigned m_tex = 0;
  std::shared_ptr<const rcnn::api::ExplainResult> m_uploaded;  // what the texture holds (kept alive: no reuse)
  float m_min = 0, m_max = 0;
  QString m_hover;
};

}  // namespace studio
