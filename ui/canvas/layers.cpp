// The canvas overlays: the GT boxes (when the stage shows them), the current
// stage's own drawing (ui/stages/), and the tooltip of the hovered box.
#include <imgui.h>

#include <algorithm>
#include <cstdio>

#include "canvas_widget.h"
#include "palette.h"
#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;

namespace {
// One tooltip per kind of box, whatever the stage.
void tooltip(const PipelineTrace& t, const Hit& h) {
  char buf[512];
  int n = 0;
  const int i = h.index;
  auto cls = [&](int label) { return className(t, label).toUtf8(); };
  if (h.kind == HitKind::Gt) {
    const auto& g = t.gt[size_t(i)];
    n = std::snprintf(buf, sizeof buf, "GT #%d %s\n%d positive anchors, best IoU %.3f\nfunnel: %s", i,
                      cls(g.label).constData(), g.positive_anchors, g.best_iou, funnel_name(g.funnel));
  } else if (h.kind == HitKind::Anchor) {
    const auto a = anchorPos(t, i);
    const auto& L = t.levels[size_t(a.level)];
    const auto lab = t.anchor_label[size_t(i)];
    n = std::snprintf(buf, sizeof buf,
                      "anchor #%d  %s  ratio %.2f size %.0f\nIoU %.3f with GT %d (%s)\nobjectness %.3f\ndeltas "
                      "(%.3f, %.3f, %.3f, %.3f)",
                      i, L.name.c_str(), anchorRatio(L, a.shape), anchorSize(L, a.shape), t.anchor_iou[size_t(i)],
                      t.anchor_gt[size_t(i)],
                      lab == AnchorLabel::Positive  ? "positive"
                      : lab == AnchorLabel::Neutral ? "neutral"
                                                    : "negative",
                      t.objectness[size_t(i)], t.deltas[size_t(i) * 4], t.deltas[size_t(i) * 4 + 1],
                      t.deltas[size_t(i) * 4 + 2], t.deltas[size_t(i) * 4 + 3]);
  } else if (h.kind == HitKind::Proposal) {
    const auto& p = t.proposals[size_t(i)];
    static const char* st[] = {"kept", "suppressed by NMS", "cut by post-NMS top-k", "too small",
                               "below rpn_score_thresh"};
    n = std::snprintf(buf, sizeof buf, "proposal #%d  %s  (anchor #%d)\nobjectness %.3f  %s", i,
                      t.levels[size_t(p.level)].name.c_str(), p.anchor, p.objectness, st[int(p.state)]);
    if (p.suppressed_by >= 0)
      n += std::snprintf(buf + n, sizeof buf - size_t(n), "\nsuppressed by #%d (IoU %.3f)", p.suppressed_by,
                         box_iou(p.box, t.proposals[size_t(p.suppressed_by)].box));
  } else if (h.kind == HitKind::SamplePoint) {
    n = std::snprintf(buf, sizeof buf, "RoIAlign sample point %d\nfeature map (x, y) = (%.3f, %.3f)", i,
                      t.roi_points_fmap[size_t(2 * i)], t.roi_points_fmap[size_t(2 * i + 1)]);
  } else if (h.kind == HitKind::TrainRoi) {
    const auto& v = t.train;
    const auto& r = v.rois[size_t(i)];
    n = std::snprintf(buf, sizeof buf, "training RoI #%d  %s\nIoU %.3f with GT %d: %s, class target %d", i,
                      r.from_gt ? "GT box added to the proposals" : "training proposal", r.iou, r.gt,
                      r.label == AnchorLabel::Positive   ? "positive"
                      : r.label == AnchorLabel::Negative ? "negative"
                                                         : "neutral",
                      r.class_target);
    if (r.sample >= 0) {
      const auto& s = v.roi[size_t(r.sample)];
      n += std::snprintf(buf + n, sizeof buf - size_t(n), "\nsample %d: CE %.4f (p %.3f)", r.sample, s.cls, s.prob);
      if (s.fg) n += std::snprintf(buf + n, sizeof buf - size_t(n), ", box smooth L1 %.4f", s.box);
    }
  } else {
    const auto& d = t.detections[size_t(i)];
    n = std::snprintf(buf, sizeof buf, "detection #%d %s %.3f\nfrom proposal %d", i, cls(d.label).constData(), d.score,
                      d.proposal);
  }
  const Box& b = h.box;
  std::snprintf(buf + n, sizeof buf - size_t(n), "\nbox (%.1f, %.1f, %.1f, %.1f)  %.1f x %.1f", b.x1, b.y1, b.x2, b.y2,
                b.width(), b.height());
  ImGui::BeginTooltip();
  ImGui::TextUnformatted(buf);
  ImGui::EndTooltip();
}
}  // namespace

void CanvasWidget::drawOverlays() {
  const auto& t = *m_trace;
  DrawContext dc;
  dc.dl = ImGui::GetBackgroundDrawList();
  dc.zoom = m_zoom;
  dc.ox = m_offX;
  dc.oy = m_offY;
  dc.mouse = m_mouse.x() >= 0 ? toImage(m_mouse) : QPointF(-1, -1);
  dc.hits = &m_hits;
  const Hit& hv = m_studio.hover();
  if (hitValid(hv, t)) dc.hover = hv;
  if (m_studio.view().hideOverlays) return m_heat.clearHover();
  // The explain map first: under every box.
  const ExplainShown& ex = m_studio.explainShown();
  const bool heat = HeatLayer::belongs(ex, t, m_studio.traceGeneration());
  if (heat)
    m_heat.drawMap(dc, t, ex.result);
  else
    m_heat.clearHover();
  StageView& stage = m_studio.currentView();
  if (stage.showsGt()) {
    const int sel = m_studio.selectedGt();
    for (size_t g = 0; g < t.gt.size(); ++g) {
      const auto& gi = t.gt[g];
      const ImU32 c = classColor(gi.label);
      dc.rect(gi.box, c, int(g) == sel ? 3.5f : 2.f);
      dc.label(gi.box, c, className(t, gi.label).toUtf8().constData());
      dc.hit(HitKind::Gt, int(g), gi.box);
    }
    // COCO crowd boxes: ignore regions (greyed, not a GT: no anchor matches them, the evaluation ignores a
    // detection of their class on them).
    for (const auto& c : t.crowd) {
      const ImU32 grey = IM_COL32(200, 200, 200, 230);
      dc.fill(c.box.x1, c.box.y1, c.box.x2, c.box.y2, IM_COL32(160, 160, 160, 60));
      dc.rect(c.box, grey, 1.5f);
      dc.label(c.box, grey, ("crowd " + className(t, c.label) + " (ignore region)").toUtf8().constData());
    }
  }
  stage.draw(dc, t);
  drawLabelMark(dc, t);
  drawCompareMarks(dc);
  if (heat) m_heat.drawLegend(dc, t, *ex.result, float(width()), float(height()));
  m_drawn = dc.drawn;
  if (t.random_weights && m_studio.stage() >= Stage::Proposals)
    dc.dl->AddText(ImGui::GetFont(), 18.f, ImVec2(float(m_offX) + 8, float(m_offY) + 6), IM_COL32(255, 70, 70, 255),
                   "RANDOM WEIGHTS: proposals and predictions are noise");
  if (dc.hover.kind != HitKind::None && m_mouse.x() >= 0) tooltip(t, dc.hover);
}

// The label doctor's issue: the object as labelled (red, dashed by corners) and the suggested fix (green).
void CanvasWidget::drawLabelMark(DrawContext& dc, const rcnn::api::PipelineTrace& t) {
  const LabelMark& m = m_studio.labelMark();
  // Only over its own image: the previous image's trace may still be showing while this one's is computed.
  if (m.path.isEmpty() || m.path.toStdString() != t.image_path) return;
  auto input = [&](const rcnn::api::Box& b) {
    return rcnn::api::Box{b.x1 * t.scale_x + t.pad_x, b.y1 * t.scale_y + t.pad_y, b.x2 * t.scale_x + t.pad_x,
                          b.y2 * t.scale_y + t.pad_y};
  };
  const ImU32 red = IM_COL32(255, 40, 40, 255), green = IM_COL32(40, 255, 90, 255);
  std::optional<rcnn::api::Box> at;
  if (m.box) {
    at = input(*m.box);
    dc.rect(*at, red, 3.f);
  }
  if (m.fix) {
    const auto f = input(*m.fix);
    dc.rect(f, green, 3.f);
    if (!at) at = f;
  }
  if (at) {
    const QByteArray text = m.caption.toUtf8();
    const ImVec2 sz = ImGui::CalcTextSize(text.constData());
    ImVec2 q = dc.p(at->x1, at->y2);
    q.x = std::max(2.f, std::min(q.x, float(width()) - sz.x - 8));  // the whole caption inside the canvas
    q.y = std::min(q.y, float(height()) - sz.y - 8);
    dc.dl->AddRectFilled(ImVec2(q.x, q.y + 2), ImVec2(q.x + sz.x + 6, q.y + sz.y + 6), IM_COL32(20, 20, 20, 220));
    dc.dl->AddText(ImVec2(q.x + 3, q.y + 4), IM_COL32(255, 255, 255, 255), text.constData());
  }
}

// View → Compare captures: B's changes against A, on the stage each belongs to.
void CanvasWidget::drawCompareMarks(DrawContext& dc) {
  const CaptureCompare& c = m_studio.captureCompare();
  if (c.b.isEmpty() || c.b != m_studio.captureSource()) return;
  const ImU32 green = IM_COL32(40, 255, 90, 255), red = IM_COL32(255, 50, 50, 255), yellow = IM_COL32(255, 220, 0, 255);
  // Captions while they stay readable: every GT's, and the stage's boxes' when there are at most 20.
  const auto here = std::count_if(c.marks.begin(), c.marks.end(),
                                  [&](const DiffMark& m) { return !m.gt && m.stage == m_studio.stage(); });
  for (const auto& m : c.marks) {
    if (!m.gt && m.stage != m_studio.stage()) continue;
    const ImU32 col = m.gt ? yellow : m.added ? green : red;
    dc.rect(m.box, col, m.gt ? 3.f : 2.f);
    if (m.caption.isEmpty() || (!m.gt && here > 20)) continue;
    const QByteArray text = m.caption.toUtf8();
    ImVec2 q = dc.p(m.box.x1, m.box.y1);
    const ImVec2 sz = ImGui::CalcTextSize(text.constData());
    q.x = std::max(2.f, std::min(q.x, float(width()) - sz.x - 8));  // the whole caption inside the canvas
    q.y = std::max(q.y, sz.y + 6);
    dc.dl->AddRectFilled(ImVec2(q.x, q.y - sz.y - 4), ImVec2(q.x + sz.x + 6, q.y), IM_COL32(20, 20, 20, 220));
    dc.dl->AddText(ImVec2(q.x + 3, q.y - sz.y - 2), col, text.constData());
  }
}

}  // namespace studio
