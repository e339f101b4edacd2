#pragma once
// What a stage draws with: the ImGui draw list, the image->screen mapping of
// the canvas and the list of hoverable boxes.
#include <imgui.h>

#include <QPointF>
#include <vector>

#include "api/types.h"
#include "stages/hit.h"

namespace studio {

struct DrawContext {
  ImDrawList* dl = nullptr;
  double zoom = 1, ox = 0, oy = 0;
  QPointF mouse{-1, -1};  // in image coordinates; x < 0 when outside
  Hit hover;              // the hovered item (already validated against the trace)
  std::vector<Hit>* hits = nullptr;
  int drawn = 0;

  ImVec2 p(float x, float y) const { return ImVec2(float(ox + x * zoom), float(oy + y * zoom)); }
  void rect(const rcnn::api::Box& b, ImU32 c, float th = 1.5f) {
    dl->AddRect(p(b.x1, b.y1), p(b.x2, b.y2), c, 0.f, 0, th);
    ++drawn;
  }
  void fill(float x1, float y1, float x2, float y2, ImU32 c) { dl->AddRectFilled(p(x1, y1), p(x2, y2), c); }
  void line(float x1, float y1, float x2, float y2, ImU32 c, float th = 1.f) {
    dl->AddLine(p(x1, y1), p(x2, y2), c, th);
  }
  void label(const rcnn::api::Box& b, ImU32 c, const char* text) {
    const ImVec2 q = p(b.x1, b.y1);
    const ImVec2 sz = ImGui::CalcTextSize(text);
    dl->AddRectFilled(ImVec2(q.x, q.y - sz.y - 2), ImVec2(q.x + sz.x + 4, q.y), c);
    dl->AddText(ImVec2(q.x + 2, q.y - sz.y - 1), IM_COL32(0, 0, 0, 255), text);
  }
  void hit(HitKind k, int i, const rcnn::api::Box& b) { hits->push_back({k, i, b}); }
};

}  // namespace studio
