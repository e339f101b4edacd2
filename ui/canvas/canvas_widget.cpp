// QOpenGLWidget <-> Dear ImGui adapter: size, device-pixel ratio and mouse go
// into ImGuiIO; Debian's libimgui.a renders with its OpenGL3 backend.
#include "canvas_widget.h"

#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <QMouseEvent>
#include <QWheelEvent>
#include <cmath>

#include "studio_context.h"

namespace studio {

CanvasWidget::CanvasWidget(StudioContext& ctx, QWidget* parent) : QOpenGLWidget(parent), m_studio(ctx) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(320, 240);
  qRegisterMetaType<studio::Hit>("studio::Hit");
  connect(&ctx, &StudioContext::traceChanged, this, &CanvasWidget::onTrace);
  // The hover is recomputed from the boxes the next frame draws: the hit list still holds the previous stage's
  // (or trace's) boxes, and a hover picked from them would show another stage's tooltip.
  auto repaint = [this] {
    m_hits.clear();
    m_rehover = true;
    update();
  };
  connect(&ctx, &StudioContext::stageChanged, this, repaint);
  connect(&ctx, &StudioContext::viewChanged, this, repaint);
  connect(&ctx, &StudioContext::selectionChanged, this, repaint);
  connect(&ctx, &StudioContext::explainShownChanged, this, qOverload<>(&CanvasWidget::update));
}

CanvasWidget::~CanvasWidget() {
  if (!m_ctx) return;
  makeCurrent();
  ImGui::SetCurrentContext(m_ctx);
  if (m_tex) glDeleteTextures(1, &m_tex);
  m_heat.release();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui::DestroyContext(m_ctx);
  doneCurrent();
}

void CanvasWidget::initializeGL() {
  initializeOpenGLFunctions();
  m_heat.init();
  m_ctx = ImGui::CreateContext();
  ImGui::SetCurrentContext(m_ctx);
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.ConfigFlags |= ImGuiConfigFlags_NoMouseCursorChange;
  ImGui::StyleColorsDark();
  ImGui_ImplOpenGL3_Init("#version 130");
  m_clock.start();
}

void CanvasWidget::resizeGL(int, int) {
  // Keep the image fitted while the user has not zoomed or panned.
  if (m_fitPending || m_autoFit) fit();
}

void CanvasWidget::onTrace() {
  const auto& t = m_studio.trace();
  const bool newImage = !m_trace || !t || m_trace->input_rgb != t->input_rgb;
  const bool sizeChanged =
      !m_trace || !t || m_trace->input_width != t->input_width || m_trace->input_height != t->input_height;
  m_trace = t;
  if (newImage) m_texDirty = true;
  if (sizeChanged) fit();
  // Hit boxes belong to the previous trace; the context already dropped a stale hover, and the next frame's
  // boxes pick the new one.
  m_hits.clear();
  m_rehover = true;
  update();
}

void CanvasWidget::fit() {
  const double W = m_trace ? m_trace->input_width : 224, H = m_trace ? m_trace->input_height : 224;
  if (width() <= 0 || height() <= 0) {
    m_fitPending = true;
    return;
  }
  m_zoom = std::min(width() / W, height() / H) * 0.96;
  m_offX = (width() - W * m_zoom) / 2;
  m_offY = (height() - H * m_zoom) / 2;
  m_fitPending = false;
  m_autoFit = true;
  update();
  emit viewTransformChanged(m_zoom, m_offX, m_offY);
}

void CanvasWidget::setViewTransform(double zoom, double offX, double offY) {
  if (zoom == m_zoom && offX == m_offX && offY == m_offY) return;
  m_zoom = zoom;
  m_offX = offX;
  m_offY = offY;
  m_autoFit = false;
  m_fitPending = false;
  update();
}

void CanvasWidget::zoomBy(double f) {
  const QPointF c = m_mouse.x() >= 0 ? m_mouse : QPointF(width() / 2.0, height() / 2.0);
  const QPointF p = toImage(c);
  m_zoom = std::clamp(m_zoom * f, 0.1, 200.0);
  m_autoFit = false;
  m_offX = c.x() - p.x() * m_zoom;
  m_offY = c.y() - p.y() * m_zoom;
  emit viewTransformChanged(m_zoom, m_offX, m_offY);
  update();
}

QPointF CanvasWidget::toImage(const QPointF& s) const {
  return {(s.x() - m_offX) / m_zoom, (s.y() - m_offY) / m_zoom};
}

void CanvasWidget::uploadImage() {
  m_texDirty = false;
  if (!m_trace || m_trace->input_rgb.empty()) return;
  if (!m_tex) glGenTextures(1, &m_tex);
  glBindTexture(GL_TEXTURE_2D, m_tex);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB, m_trace->input_width, m_trace->input_height, 0, GL_RGB, GL_UNSIGNED_BYTE,
               m_trace->input_rgb.data());
}

void CanvasWidget::paintGL() {
  QElapsedTimer t;
  t.start();
  ImGui::SetCurrentContext(m_ctx);
  if (m_texDirty) uploadImage();
  ImGuiIO& io = ImGui::GetIO();
  const qreal dpr = devicePixelRatioF();
  io.DisplaySize = ImVec2(float(width()), float(height()));
  io.DisplayFramebufferScale = ImVec2(float(dpr), float(dpr));
  const double now = m_clock.nsecsElapsed() / 1e9;
  static double last = 0;
  io.DeltaTime = float(std::max(1e-4, now - last));
  last = now;
  io.MousePos = m_mouse.x() >= 0 ? ImVec2(float(m_mouse.x()), float(m_mouse.y())) : ImVec2(-FLT_MAX, -FLT_MAX);
  ImGui_ImplOpenGL3_NewFrame();
  ImGui::NewFrame();
  ImDrawList* dl = ImGui::GetBackgroundDrawList();
  const float W = m_trace ? float(m_trace->input_width) : 224.f, H = m_trace ? float(m_trace->input_height) : 224.f;
  const ImVec2 a{float(m_offX), float(m_offY)}, b{float(m_offX + W * m_zoom), float(m_offY + H * m_zoom)};
  if (m_tex && m_trace)
    dl->AddImage(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(m_tex)), a, b);
  else
    dl->AddRectFilled(a, b, IM_COL32(40, 40, 40, 255));
  dl->AddRect(a, b, IM_COL32(128, 128, 128, 255));
  m_hits.clear();
  m_drawn = 0;
  if (m_trace) drawOverlays();
  if (!m_trace) {
    const char* msg = "Open a dataset or an image (File menu, or drop it here)";
    dl->AddText(ImVec2(a.x + 10, a.y + 10), IM_COL32(220, 220, 220, 255), msg);
  }
  ImGui::Render();
  const int fw = int(width() * dpr), fh = int(height() * dpr);
  glViewport(0, 0, fw, fh);
  glClearColor(0.12f, 0.12f, 0.13f, 1.f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  if (m_rehover) {
    // This frame drew the current stage's boxes: the mouse, resting, now hovers one of them (or none); a
    // change repaints with its tooltip.
    m_rehover = false;
    const Hit before = m_studio.hover();
    updateHover(m_mouse);
    if (m_studio.hover().kind != before.kind || m_studio.hover().index != before.index) update();
  }
  m_frameMs = double(t.nsecsElapsed()) / 1e6;
  m_frameSum += m_frameMs;
  m_frames++;
}

QImage CanvasWidget::snapshot() {
  return grabFramebuffer();
}

void CanvasWidget::mousePressEvent(QMouseEvent* e) {
  m_pressPos = e->position();
  m_pressOff = QPointF(m_offX, m_offY);
  m_dragging = true;
  m_moved = false;
}

void CanvasWidget::mouseMoveEvent(QMouseEvent* e) {
  m_mouse = e->position();
  if (m_dragging && (e->buttons() & (Qt::LeftButton | Qt::MiddleButton))) {
    const QPointF d = e->position() - m_pressPos;
    if (std::abs(d.x()) + std::abs(d.y()) > 3) m_moved = true;
    if (m_moved) {
      m_autoFit = false;
      m_offX = m_pressOff.x() + d.x();
      m_offY = m_pressOff.y() + d.y();
      emit viewTransformChanged(m_zoom, m_offX, m_offY);
    }
  }
  updateHover(m_mouse);
  update();
}

void CanvasWidget::mouseReleaseEvent(QMouseEvent* e) {
  m_dragging = false;
  if (!m_moved && e->button() == Qt::LeftButton) emit clicked(m_studio.hover());
}

void CanvasWidget::wheelEvent(QWheelEvent* e) {
  m_mouse = e->position();
  zoomBy(std::pow(1.15, e->angleDelta().y() / 120.0));
}

void CanvasWidget::leaveEvent(QEvent*) {
  m_mouse = QPointF(-1, -1);
  updateHover(m_mouse);
  update();
}

void CanvasWidget::updateHover(const QPointF& pos) {
  Hit h;
  if (pos.x() >= 0) {
    const QPointF p = toImage(pos);
    float best = 1e30f;
    for (const auto& c : m_hits) {
      if (p.x() < c.box.x1 || p.x() > c.box.x2 || p.y() < c.box.y1 || p.y() > c.box.y2) continue;
      const float area = c.box.width() * c.box.height();
      if (area < best) best = area, h = c;
    }
  }
  const Hit& cur = m_studio.hover();
  if (h.kind != cur.kind || h.index != cur.index) m_studio.setHover(h);
}

}  // namespace studio
