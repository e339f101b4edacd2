// The canvas layer of each stage. Everything is drawn in model-input
// coordinates mapped by the current zoom/pan.
#include <imgui.h>

#include <cmath>
#include <cstdio>

#include "canvas_widget.h"
#include "palette.h"

namespace studio {
using namespace rcnn::api;

namespace {
struct View {
  double zoom, ox, oy;
  ImVec2 p(float x, float y) const { return ImVec2(float(ox + x * zoom), float(oy + y * zoom)); }
};

ImU32 heat(float v, int alpha) {
  v = std::clamp(v, 0.f, 1.f);
  // Dark blue -> red -> yellow.
  const int r = int(255 * std::min(1.f, 2 * v)), g = int(255 * std::max(0.f, 2 * v - 1)), b = int(160 * (1 - v));
  return IM_COL32(r, g, b, alpha);
}

int shapeOf(const PipelineTrace& t, int anchor, int* level) {
  int l = 0;
  while (l + 1 < int(t.levels.size()) && anchor >= t.levels[size_t(l + 1)].offset) ++l;
  if (level) *level = l;
  return (anchor - t.levels[size_t(l)].offset) % t.levels[size_t(l)].anchors_per_location;
}
}  // namespace

void CanvasWidget::drawOverlays() {
  const auto& t = *m_trace;
  ImDrawList* dl = ImGui::GetBackgroundDrawList();
  const View v{m_zoom, m_offX, m_offY};
  const auto& o = m_opt;
  auto hoverValid = [&] { return hitValid(m_hover, t); };
  auto rect = [&](const Box& b, ImU32 c, float th = 1.5f) {
    dl->AddRect(v.p(b.x1, b.y1), v.p(b.x2, b.y2), c, 0.f, 0, th);
    ++m_drawn;
  };
  auto label = [&](const Box& b, ImU32 c, const char* text) {
    const ImVec2 p = v.p(b.x1, b.y1);
    const ImVec2 sz = ImGui::CalcTextSize(text);
    dl->AddRectFilled(ImVec2(p.x, p.y - sz.y - 2), ImVec2(p.x + sz.x + 4, p.y), c);
    dl->AddText(ImVec2(p.x + 2, p.y - sz.y - 1), IM_COL32(0, 0, 0, 255), text);
  };
  auto levelOn = [&](int l) { return l >= 0 && l < 3 && o.levels[l]; };
  auto shapeOn = [&](int s) { return o.shapes.empty() || (s < int(o.shapes.size()) && o.shapes[size_t(s)]); };
  auto addHit = [&](HitKind k, int i, const Box& b) { m_hits.push_back({k, i, b}); };
  auto className = [&](int label) {
    return label >= 0 && label < t.num_classes() ? t.class_names[size_t(label)].c_str() : "?";
  };

  const bool showGt = o.stage != Stage::Anchors;
  if (!o.hideOverlays && showGt && o.stage != Stage::Predictions) {
    for (size_t g = 0; g < t.gt.size(); ++g) {
      const auto& gi = t.gt[g];
      const ImU32 c = classColor(gi.label);
      rect(gi.box, c, int(g) == o.selectedGt ? 3.5f : 2.f);
      label(gi.box, c, className(gi.label));
      addHit(HitKind::Gt, int(g), gi.box);
    }
  }
  if (o.hideOverlays) return;

  switch (o.stage) {
    case Stage::Image:
      break;
    case Stage::Anchors: {
      for (size_t l = 0; l < t.levels.size(); ++l) {
        if (!levelOn(int(l))) continue;
        const auto& L = t.levels[l];
        if (o.showCentres) {
          const ImU32 c = l == 0   ? IM_COL32(255, 255, 255, 150)
                          : l == 1 ? IM_COL32(120, 220, 255, 180)
                                   : IM_COL32(255, 160, 60, 200);
          for (int i = 0; i < L.height; ++i)
            for (int j = 0; j < L.width; ++j)
              dl->AddCircleFilled(v.p((j + 0.5f) * L.stride, (i + 0.5f) * L.stride), 1.5f + float(l), c, 6);
        }
        if (o.showAllAnchors)
          for (int k = L.offset; k < L.offset + L.count(); ++k)
            if (shapeOn((k - L.offset) % L.anchors_per_location))
              rect(t.anchors[size_t(k)], IM_COL32(120, 200, 255, 40), 1.f);
      }
      // Every anchor of the location under the mouse, on each enabled level.
      if (m_mouse.x() >= 0) {
        const QPointF p = toImage(m_mouse);
        for (size_t l = 0; l < t.levels.size(); ++l) {
          if (!levelOn(int(l))) continue;
          const auto& L = t.levels[l];
          const int j = int(p.x() / L.stride), i = int(p.y() / L.stride);
          if (i < 0 || j < 0 || i >= L.height || j >= L.width) continue;
          const int base = L.offset + (i * L.width + j) * L.anchors_per_location;
          for (int a = 0; a < L.anchors_per_location; ++a) {
            if (!shapeOn(a)) continue;
            const ImU32 c = l == 0   ? IM_COL32(255, 255, 255, 230)
                            : l == 1 ? IM_COL32(120, 220, 255, 230)
                                     : IM_COL32(255, 160, 60, 230);
            rect(t.anchors[size_t(base + a)], c, 1.5f);
            addHit(HitKind::Anchor, base + a, t.anchors[size_t(base + a)]);
          }
          dl->AddCircleFilled(v.p((j + 0.5f) * L.stride, (i + 0.5f) * L.stride), 4.f, IM_COL32(255, 60, 60, 255));
        }
      }
      break;
    }
    case Stage::Matching: {
      const int M = int(t.gt.size());
      if (o.iouHeatmap && o.selectedGt >= 0 && o.selectedGt < M) {
        // Max IoU over anchor shapes at each location of each enabled level.
        for (size_t l = 0; l < t.levels.size(); ++l) {
          if (!levelOn(int(l))) continue;
          const auto& L = t.levels[l];
          for (int i = 0; i < L.height; ++i)
            for (int j = 0; j < L.width; ++j) {
              float best = 0;
              const int base = L.offset + (i * L.width + j) * L.anchors_per_location;
              for (int a = 0; a < L.anchors_per_location; ++a)
                if (shapeOn(a))
                  best = std::max(best, t.iou_matrix[size_t(base + a) * size_t(M) + size_t(o.selectedGt)]);
              if (best <= 0.01f) continue;
              dl->AddRectFilled(v.p(j * float(L.stride), i * float(L.stride)),
                                v.p((j + 1) * float(L.stride), (i + 1) * float(L.stride)),
                                heat(best, 70 + 30 * int(l)));
            }
        }
      }
      for (size_t k = 0; k < t.anchors.size(); ++k) {
        int l = 0;
        const int s = shapeOf(t, int(k), &l);
        if (!levelOn(l) || !shapeOn(s)) continue;
        const auto lab = t.anchor_label[k];
        if (o.selectedGt >= 0 && t.anchor_gt[k] != o.selectedGt && lab != AnchorLabel::Negative) continue;
        if (lab == AnchorLabel::Positive) {
          rect(t.anchors[k], IM_COL32(60, 230, 90, 220), 1.5f);
          addHit(HitKind::Anchor, int(k), t.anchors[k]);
          if (o.showMatchLines && t.anchor_gt[k] >= 0) {
            const auto& a = t.anchors[k];
            const auto& g = t.gt[size_t(t.anchor_gt[k])].box;
            dl->AddLine(v.p((a.x1 + a.x2) / 2, (a.y1 + a.y2) / 2), v.p((g.x1 + g.x2) / 2, (g.y1 + g.y2) / 2),
                        IM_COL32(60, 230, 90, 120));
          }
        } else if (lab == AnchorLabel::Neutral && o.showNeutral) {
          rect(t.anchors[k], IM_COL32(240, 200, 40, 110), 1.f);
          addHit(HitKind::Anchor, int(k), t.anchors[k]);
        } else if (lab == AnchorLabel::Negative && o.showNegative) {
          rect(t.anchors[k], IM_COL32(230, 60, 60, 30), 1.f);
        }
      }
      break;
    }
    case Stage::Sampling: {
      for (int k : t.sampled_bg) {
        rect(t.anchors[size_t(k)], IM_COL32(240, 70, 70, 230), 1.5f);
        addHit(HitKind::Anchor, k, t.anchors[size_t(k)]);
      }
      for (int k : t.sampled_fg) {
        rect(t.anchors[size_t(k)], IM_COL32(60, 230, 90, 255), 2.f);
        addHit(HitKind::Anchor, k, t.anchors[size_t(k)]);
      }
      break;
    }
    case Stage::Proposals: {
      if (o.objectnessHeatmap && o.heatLevel < int(t.levels.size())) {
        const auto& L = t.levels[size_t(o.heatLevel)];
        for (int i = 0; i < L.height; ++i)
          for (int j = 0; j < L.width; ++j) {
            const int k = L.offset + (i * L.width + j) * L.anchors_per_location +
                          std::min(o.heatShape, L.anchors_per_location - 1);
            dl->AddRectFilled(v.p(j * float(L.stride), i * float(L.stride)),
                              v.p((j + 1) * float(L.stride), (i + 1) * float(L.stride)),
                              heat(t.objectness[size_t(k)], 120));
          }
      }
      for (size_t i = 0; i < t.proposals.size(); ++i) {
        const auto& p = t.proposals[i];
        if (!levelOn(p.level) || p.objectness < o.proposalScoreMin) continue;
        if (p.state == ProposalState::Kept) {
          rect(p.box, IM_COL32(80, 200, 255, 60 + int(180 * p.objectness)), 1.5f);
          addHit(HitKind::Proposal, int(i), p.box);
        } else if (p.state == ProposalState::Suppressed && o.showSuppressed) {
          rect(p.box, IM_COL32(255, 90, 200, 110), 1.f);
          addHit(HitKind::Proposal, int(i), p.box);
        } else if (o.showPreNms) {
          rect(p.box, IM_COL32(200, 200, 200, 50), 1.f);
          addHit(HitKind::Proposal, int(i), p.box);
        }
      }
      if (m_hover.kind == HitKind::Proposal && hoverValid()) {
        const auto& p = t.proposals[size_t(m_hover.index)];
        rect(p.box, IM_COL32(255, 255, 255, 255), 2.5f);
        if (p.suppressed_by >= 0) {
          const auto& q = t.proposals[size_t(p.suppressed_by)];
          rect(q.box, IM_COL32(255, 60, 60, 255), 2.5f);
          dl->AddLine(v.p((p.box.x1 + p.box.x2) / 2, (p.box.y1 + p.box.y2) / 2),
                      v.p((q.box.x1 + q.box.x2) / 2, (q.box.y1 + q.box.y2) / 2), IM_COL32(255, 60, 60, 255), 2.f);
        }
      }
      break;
    }
    case Stage::RoIAlign: {
      for (size_t r = 0; r < t.kept.size(); ++r) {
        const auto& p = t.proposals[size_t(t.kept[r])];
        if (!levelOn(p.level)) continue;
        const bool sel = int(r) == o.selectedRoi;
        if (!sel) rect(p.box, IM_COL32(80, 200, 255, 50), 1.f);
        addHit(HitKind::Proposal, t.kept[r], p.box);
      }
      if (o.selectedRoi >= 0 && o.selectedRoi < int(t.kept.size())) {
        const auto& p = t.proposals[size_t(t.kept[size_t(o.selectedRoi)])];
        rect(p.box, IM_COL32(255, 230, 60, 255), 2.5f);
        const int S = t.roi_size;
        for (int i = 1; i < S; ++i) {  // bin grid
          const float x = p.box.x1 + p.box.width() * i / S, y = p.box.y1 + p.box.height() * i / S;
          dl->AddLine(v.p(x, p.box.y1), v.p(x, p.box.y2), IM_COL32(255, 230, 60, 110));
          dl->AddLine(v.p(p.box.x1, y), v.p(p.box.x2, y), IM_COL32(255, 230, 60, 110));
        }
        for (size_t k = 0; k + 1 < o.roiPoints.size(); k += 2)
          dl->AddCircleFilled(v.p(o.roiPoints[k], o.roiPoints[k + 1]), std::max(1.5f, float(m_zoom) * 0.4f),
                              IM_COL32(255, 60, 60, 230), 8);
      }
      break;
    }
    case Stage::Predictions: {
      // TP / FP / FN against GT at IoU 0.5.
      std::vector<char> gtHit(t.gt.size(), 0);
      for (size_t g = 0; g < t.gt.size(); ++g)
        if (t.gt[g].matched_detection >= 0) gtHit[g] = 1;
      for (size_t d = 0; d < t.detections.size(); ++d) {
        const auto& det = t.detections[d];
        bool tp = false;
        for (size_t g = 0; g < t.gt.size(); ++g) tp |= t.gt[g].matched_detection == int(d);
        const ImU32 c = !o.tpFpFn ? classColor(det.label)
                        : tp      ? IM_COL32(60, 230, 90, 255)
                                  : IM_COL32(255, 80, 80, 255);
        rect(det.box, c, 2.f);
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s %.2f", className(det.label), det.score);
        label(det.box, c, buf);
        addHit(HitKind::Detection, int(d), det.box);
      }
      for (size_t g = 0; g < t.gt.size(); ++g) {
        if (gtHit[g]) continue;
        const auto& gi = t.gt[g];
        const ImVec2 a = v.p(gi.box.x1, gi.box.y1), b = v.p(gi.box.x2, gi.box.y2);
        // Missed GT: dashed orange outline and the funnel stage that lost it.
        for (float x = a.x; x < b.x; x += 8) {
          dl->AddLine(ImVec2(x, a.y), ImVec2(std::min(x + 4, b.x), a.y), IM_COL32(255, 170, 40, 255), 2.f);
          dl->AddLine(ImVec2(x, b.y), ImVec2(std::min(x + 4, b.x), b.y), IM_COL32(255, 170, 40, 255), 2.f);
        }
        for (float y = a.y; y < b.y; y += 8) {
          dl->AddLine(ImVec2(a.x, y), ImVec2(a.x, std::min(y + 4, b.y)), IM_COL32(255, 170, 40, 255), 2.f);
          dl->AddLine(ImVec2(b.x, y), ImVec2(b.x, std::min(y + 4, b.y)), IM_COL32(255, 170, 40, 255), 2.f);
        }
        char buf[128];
        std::snprintf(buf, sizeof buf, "FN %s: %s", className(gi.label), funnel_name(gi.funnel));
        dl->AddText(ImVec2(a.x + 2, b.y + 2), IM_COL32(255, 170, 40, 255), buf);
        addHit(HitKind::Gt, int(g), gi.box);
      }
      break;
    }
  }

  // Tooltip of the hovered box.
  if (m_hover.kind != HitKind::None && m_mouse.x() >= 0 && hoverValid()) {
    const Box& b = m_hover.box;
    char buf[512];
    int n = 0;
    const int i = m_hover.index;
    if (m_hover.kind == HitKind::Gt) {
      const auto& g = t.gt[size_t(i)];
      n = std::snprintf(buf, sizeof buf, "GT #%d %s\n%d positive anchors, best IoU %.3f\nfunnel: %s", i,
                        className(g.label), g.positive_anchors, g.best_iou, funnel_name(g.funnel));
    } else if (m_hover.kind == HitKind::Anchor) {
      int l = 0;
      const int s = shapeOf(t, i, &l);
      const auto& L = t.levels[size_t(l)];
      const int nr = int(L.ratios.size());
      n = std::snprintf(buf, sizeof buf,
                        "anchor #%d  %s  ratio %.2f size %.0f\nIoU %.3f with GT %d (%s)\nobjectness %.3f\ndeltas "
                        "(%.3f, %.3f, %.3f, %.3f)",
                        i, L.name.c_str(), L.ratios[size_t(s % nr)], L.sizes[size_t(s / nr)], t.anchor_iou[size_t(i)],
                        t.anchor_gt[size_t(i)],
                        t.anchor_label[size_t(i)] == AnchorLabel::Positive  ? "positive"
                        : t.anchor_label[size_t(i)] == AnchorLabel::Neutral ? "neutral"
                                                                            : "negative",
                        t.objectness[size_t(i)], t.deltas[size_t(i) * 4], t.deltas[size_t(i) * 4 + 1],
                        t.deltas[size_t(i) * 4 + 2], t.deltas[size_t(i) * 4 + 3]);
    } else if (m_hover.kind == HitKind::Proposal) {
      const auto& p = t.proposals[size_t(i)];
      static const char* st[] = {"kept", "suppressed by NMS", "cut by post-NMS top-k", "too small"};
      n = std::snprintf(buf, sizeof buf, "proposal #%d  %s  (anchor #%d)\nobjectness %.3f  %s", i,
                        t.levels[size_t(p.level)].name.c_str(), p.anchor, p.objectness, st[int(p.state)]);
      if (p.suppressed_by >= 0)
        n += std::snprintf(buf + n, sizeof buf - size_t(n), "\nsuppressed by #%d (IoU %.3f)", p.suppressed_by,
                           box_iou(p.box, t.proposals[size_t(p.suppressed_by)].box));
    } else {
      const auto& d = t.detections[size_t(i)];
      n = std::snprintf(buf, sizeof buf, "detection #%d %s %.3f\nfrom proposal %d", i, className(d.label), d.score,
                        d.proposal);
    }
    std::snprintf(buf + n, sizeof buf - size_t(n), "\nbox (%.1f, %.1f, %.1f, %.1f)  %.1f x %.1f", b.x1, b.y1, b.x2,
                  b.y2, b.width(), b.height());
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(buf);
    ImGui::EndTooltip();
  }
}

}  // namespace studio
