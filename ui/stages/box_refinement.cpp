#include "stages/box_refinement.h"

#include <cmath>

#include "stages/draw_context.h"
#include "stages/trace_helpers.h"

namespace studio {
using namespace rcnn::api;

void drawRefineArrow(DrawContext& dc, const Box& from, const Box& to, unsigned colour) {
  const ImVec2 a = dc.p(0.5f * (from.x1 + from.x2), 0.5f * (from.y1 + from.y2));
  const ImVec2 b = dc.p(0.5f * (to.x1 + to.x2), 0.5f * (to.y1 + to.y2));
  dc.dl->AddLine(a, b, colour, 1.5f);
  const float dx = b.x - a.x, dy = b.y - a.y, len = std::sqrt(dx * dx + dy * dy);
  if (len < 3) {
    dc.dl->AddCircleFilled(b, 2.5f, colour);  // the box barely moved
    return;
  }
  const float ux = dx / len, uy = dy / len, s = std::min(8.f, 0.5f * len);
  dc.dl->AddTriangleFilled(b, ImVec2(b.x - s * ux + 0.5f * s * uy, b.y - s * uy - 0.5f * s * ux),
                           ImVec2(b.x - s * ux - 0.5f * s * uy, b.y - s * uy + 0.5f * s * ux), colour);
}

Box rpnDecoded(const PipelineTrace& t, int k) {
  static const float one[4] = {1, 1, 1, 1};
  return apply_deltas(t.anchors[size_t(k)], &t.deltas[size_t(k) * 4], one, t.rpn_scale_clamp, t.clip_width,
                      t.clip_height);
}

namespace {
// The decode of box p by deltas d under weights w, every step with numbers.
QString decodeFormula(const Box& p, const float* d, const float* w, double clamp, const Box& out) {
  const double pw = p.width(), ph = p.height(), px = p.x1 + 0.5 * pw, py = p.y1 + 0.5 * ph;
  const double dw = std::min(double(d[2] / w[2]), clamp), dh = std::min(double(d[3] / w[3]), clamp);
  const auto wt = [&](int i) { return w[i] == 1.f ? QString() : QString("/%1").arg(w[i]); };
  return QString("deltas (dx, dy, dw, dh) = (%1, %2, %3, %4)<br>"
                 "x̂ = px + pw·dx%5 = %6 + %7·%1%5 = %8 &nbsp; ŷ = py + ph·dy%9 = %10 + %11·%2%9 = %12<br>"
                 "ŵ = pw·exp(min(dw%13, %14)) = %7·exp(%15) = %16 &nbsp; ĥ = %11·exp(%17) = %18<br>"
                 "box (x̂ ∓ ŵ/2, ŷ ∓ ĥ/2), clipped: %19")
      .arg(f3(d[0]), f3(d[1]), f3(d[2]), f3(d[3]), wt(0), f1(px), f1(pw), f1(px + pw * d[0] / w[0]), wt(1))
      .arg(f1(py), f1(ph), f1(py + ph * d[1] / w[1]), wt(2), f3(clamp), f3(dw), f1(pw * std::exp(dw)), f3(dh),
           f1(ph * std::exp(dh)))
      .arg(boxStr(out));
}
}  // namespace

QString rpnDecodeFormula(const PipelineTrace& t, int k) {
  static const float one[4] = {1, 1, 1, 1};
  return QString("anchor %1 %2: ").arg(k).arg(boxStr(t.anchors[size_t(k)])) +
         decodeFormula(t.anchors[size_t(k)], &t.deltas[size_t(k) * 4], one, t.rpn_scale_clamp, rpnDecoded(t, k));
}

QString roiDecodeFormula(const PipelineTrace& t, int r, int c) {
  const int C = t.num_classes();
  if (t.roi_deltas.size() < (size_t(r) * size_t(C) + size_t(c) + 1) * 4) return "box regression is off: the box is the RoI's";
  const Box& p = t.proposals[size_t(t.kept[size_t(r)])].box;
  return QString("RoI %1 %2, class %3: ").arg(r).arg(boxStr(p)).arg(className(t, c)) +
         decodeFormula(p, &t.roi_deltas[(size_t(r) * size_t(C) + size_t(c)) * 4], t.roi_box_weights,
                       t.roi_scale_clamp, t.roi_class_box(r, c));
}

}  // namespace studio
