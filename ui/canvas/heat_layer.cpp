#include "canvas/heat_layer.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "explain/explain_controller.h"
#include "explain/explain_state.h"
#include "stages/draw_context.h"

namespace studio {
using rcnn::api::ExplainResult;
using rcnn::api::PipelineTrace;

void jetRgb(float v, unsigned char* rgb) {
  v = std::clamp(v, 0.f, 1.f);
  auto ch = [v](float c) { return (unsigned char)(255.f * std::clamp(1.5f - std::abs(4.f * v - c), 0.f, 1.f)); };
  rgb[0] = ch(3), rgb[1] = ch(2), rgb[2] = ch(1);
}

namespace {
ImU32 jet32(float v, int alpha) {
  unsigned char c[3];
  jetRgb(v, c);
  return IM_COL32(c[0], c[1], c[2], alpha);
}
// Original-image pixels -> model-input pixels (what the canvas draws in).
ImVec2 inputPoint(const PipelineTrace& t, float x, float y) {
  return {x * t.scale_x + t.pad_x, y * t.scale_y + t.pad_y};
}
}  // namespace

void HeatLayer::release() {
  if (m_tex) glDeleteTextures(1, &m_tex);
  m_tex = 0;
  m_uploaded.reset();
}

bool HeatLayer::belongs(const ExplainShown& s, const PipelineTrace& t, quint64 generation) {
  const auto& r = s.result;
  return r && s.generation == generation && s.imagePath.toStdString() == t.image_path && r->width == t.image_width &&
         r->height == t.image_height && r->map.size() == size_t(r->width) * size_t(r->height) && !r->map.empty();
}

void HeatLayer::upload(const std::shared_ptr<const ExplainResult>& r) {
  const auto [mn, mx] = std::minmax_element(r->map.begin(), r->map.end());
  m_min = *mn;
  m_max = *mx;
  const bool flat = !(m_max > m_min);
  const float span = flat ? 1.f : m_max - m_min;
  // Colour scaled from the minimum to the maximum; the unimportant pixels let the image through. A flat map
  // (Grad-CAM's ReLU can zero it all) says nothing: transparent, and the colour bar says so.
  std::vector<unsigned char> rgba(r->map.size() * 4);
  for (size_t i = 0; i < r->map.size(); ++i) {
    const float v = (r->map[i] - m_min) / span;
    jetRgb(v, &rgba[4 * i]);
    rgba[4 * i + 3] = flat ? 0 : (unsigned char)(210.f * std::sqrt(v));
  }
  if (!m_tex) glGenTextures(1, &m_tex);
  glBindTexture(GL_TEXTURE_2D, m_tex);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, r->width, r->height, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
  m_uploaded = r;
}

void HeatLayer::drawMap(DrawContext& dc, const PipelineTrace& t, const std::shared_ptr<const ExplainResult>& r) {
  if (r != m_uploaded) upload(r);
  const ImVec2 a = inputPoint(t, 0, 0), b = inputPoint(t, float(r->width), float(r->height));
  dc.dl->AddImage(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(m_tex)), dc.p(a.x, a.y), dc.p(b.x, b.y));
  // The value under the mouse: the original pixel it is over.
  m_hover.clear();
  if (dc.mouse.x() < 0) return;
  const int X = int(std::floor((dc.mouse.x() - t.pad_x) / t.scale_x));
  const int Y = int(std::floor((dc.mouse.y() - t.pad_y) / t.scale_y));
  if (X < 0 || Y < 0 || X >= r->width || Y >= r->height) return;
  const float v = r->map[size_t(Y) * size_t(r->width) + size_t(X)];
  m_hover = QString("map(%1, %2) = %3, %4 % of max")
                .arg(X)
                .arg(Y)
                .arg(double(v), 0, 'g', 4)
                .arg(m_max > 0 ? 100.0 * double(v) / double(m_max) : 0.0, 0, 'f', 1);
}

void HeatLayer::drawLegend(DrawContext& dc, const PipelineTrace& t, const ExplainResult& r, float canvasW,
                           float canvasH) {
  // The explained box (white) and, when it differs, the RoI whose score it is (grey).
  auto box = [&](const rcnn::api::Box& o) {
    const ImVec2 a = inputPoint(t, o.x1, o.y1), b = inputPoint(t, o.x2, o.y2);
    return rcnn::api::Box{a.x, a.y, b.x, b.y};
  };
  if (r.roi.width() > 0 && rcnn::api::box_iou(r.roi, r.box) < 0.999f)
    dc.rect(box(r.roi), IM_COL32(200, 200, 200, 200), 1.f);
  dc.rect(box(r.box), IM_COL32(255, 255, 255, 255), 3.f);
  // The colour bar.
  const QByteArray title = explainDescription(r).toUtf8();
  char lo[32], hi[32];
  std::snprintf(lo, sizeof lo, "%.3g", double(m_min));
  std::snprintf(hi, sizeof hi, "%.3g", double(m_max));
  const QByteArray hover = m_hover.toUtf8();
  const float barW = 200, barH = 12, pad = 6, line = ImGui::GetTextLineHeight();
  const float w =
      std::max({barW, ImGui::CalcTextSize(title.constData()).x, ImGui::CalcTextSize(hover.constData()).x}) + 2 * pad;
  const float h = 3 * line + barH + 4 * pad;
  const ImVec2 o(canvasW - w - 8, canvasH - h - 8);
  ImDrawList* dl = dc.dl;
  dl->AddRectFilled(o, ImVec2(o.x + w, o.y + h), IM_COL32(20, 20, 20, 215), 4.f);
  dl->AddText(ImVec2(o.x + pad, o.y + pad), IM_COL32(255, 255, 255, 255), title.constData());
  const float by = o.y + pad + line + pad;
  const int steps = 40;
  for (int i = 0; i < steps; ++i) {
    const float x0 = o.x + pad + barW * float(i) / steps, x1 = o.x + pad + barW * float(i + 1) / steps;
    dl->AddRectFilledMultiColor(ImVec2(x0, by), ImVec2(x1, by + barH), jet32(float(i) / steps, 255),
                                jet32(float(i + 1) / steps, 255), jet32(float(i + 1) / steps, 255),
                                jet32(float(i) / steps, 255));
  }
  if (m_max > m_min) {
    dl->AddText(ImVec2(o.x + pad, by + barH + 2), IM_COL32(220, 220, 220, 255), lo);
    dl->AddText(ImVec2(o.x + pad + barW - ImGui::CalcTextSize(hi).x, by + barH + 2), IM_COL32(220, 220, 220, 255), hi);
  } else {
    char flat[64];
    std::snprintf(flat, sizeof flat, "flat map: %s everywhere", lo);
    dl->AddText(ImVec2(o.x + pad, by + barH + 2), IM_COL32(255, 170, 60, 255), flat);
  }
  if (!m_hover.isEmpty())
    dl->AddText(ImVec2(o.x + pad, by + barH + 2 + line + pad), IM_COL32(255, 230, 120, 255), hover.constData());
}

}  // namespace studio
