// Stage 5: RPN proposals per level: top-k, decode, NMS with suppressors.
#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QSlider>
#include <QSpinBox>
#include <cmath>

#include "explain/explain_controls.h"
#include "stages/box_refinement.h"
#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;
namespace {

class ProposalsStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Proposals"; }
  QString explanation(const PipelineTrace* t) const override {
    if (t && t->torchvision)
      return "torchvision's RPN: per level, the rpn_pre_nms_top_n_test anchors by objectness are decoded (weights 1, "
             "dw/dh clamped at log(1000/16)), clipped, boxes under 1e-3 px and scores below rpn_score_thresh dropped, "
             "NMS runs per level, and the rpn_post_nms_top_n_test best of all levels are the proposals.";
    return "The RPN scores every anchor and predicts deltas. Per level, the top-k anchors by objectness are decoded "
           "into boxes, clipped, and greedy NMS removes boxes overlapping a better one by more than the threshold.";
  }
  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QFormLayout(w);
    m_scoreMin = new QSlider(Qt::Horizontal, w);
    m_scoreMin->setRange(0, 100);
    m_preNms = new QCheckBox("Pre-NMS candidates", w);
    m_suppressed = new QCheckBox("Suppressed boxes (hover one to see its suppressor)", w);
    m_heat = new QCheckBox("Objectness heatmap", w);
    m_arrows = new QCheckBox("Refinement: positive anchor → decoded box", w);
    m_arrows->setObjectName("rpnRefineArrows");
    m_heatLevel = new QComboBox(w);
    m_heatShape = new QSpinBox(w);
    m_funnel = new QLabel(w);
    m_funnel->setWordWrap(true);
    l->addRow("Min objectness", m_scoreMin);
    l->addRow(m_preNms);
    l->addRow(m_suppressed);
    l->addRow(m_heat);
    l->addRow(m_arrows);
    l->addRow("Heatmap level", m_heatLevel);
    l->addRow("Heatmap anchor shape", m_heatShape);
    l->addRow("GT recall", m_funnel);
    l->addRow(new ExplainControls(m_ctx, "Proposals", w));
    auto touch = [this] { m_ctx.touch(); };
    QObject::connect(m_scoreMin, &QSlider::valueChanged, w, touch);
    for (auto* c : {m_preNms, m_suppressed, m_heat, m_arrows}) QObject::connect(c, &QCheckBox::toggled, w, touch);
    QObject::connect(m_heatLevel, qOverload<int>(&QComboBox::currentIndexChanged), w, touch);
    QObject::connect(m_heatShape, qOverload<int>(&QSpinBox::valueChanged), w, touch);
    return w;
  }
  // Explain: the clicked proposal (or anchor, with the refinement arrows on); until one is clicked, the
  // proposal of the selected RoI (the RoIAlign stage's kept proposal).
  ExplainTarget explainTarget(const PipelineTrace& t) const override {
    if (m_targetImage == t.image_path) {
      if (m_target.kind == "proposal" && m_target.index < int(t.proposals.size())) return m_target;
      if (m_target.kind == "anchor" && m_target.index < int(t.anchors.size())) return m_target;
    }
    const int r = m_ctx.selectedRoi();
    return r >= 0 && r < int(t.kept.size()) ? ExplainTarget{"proposal", t.kept[size_t(r)]} : ExplainTarget{};
  }
  bool clicked(const Hit& h) override {
    const auto& t = m_ctx.trace();
    if (!t || (h.kind != HitKind::Proposal && h.kind != HitKind::Anchor)) return false;
    m_target = {h.kind == HitKind::Proposal ? "proposal" : "anchor", h.index};
    m_targetImage = t->image_path;
    m_ctx.touchExplainTarget();
    return false;  // a kept proposal's click still selects its RoI
  }
  QString counts(const PipelineTrace& t) override {
    int kept = 0, sup = 0, cut = 0, small = 0, low = 0;
    for (const auto& p : t.proposals)
      (p.state == ProposalState::Kept            ? kept
       : p.state == ProposalState::Suppressed    ? sup
       : p.state == ProposalState::CutByPostTopk ? cut
       : p.state == ProposalState::BelowScore    ? low
                                                 : small)++;
    if (m_funnel) {
      // GTs still alive after each RPN step, in pipeline order.
      int lost[kNumFunnel] = {0};
      for (const auto& g : t.gt) lost[int(g.funnel)]++;
      const int n = int(t.gt.size());
      int remaining = n;
      QStringList steps;
      const std::pair<Funnel, const char*> order[] = {{Funnel::NoPositiveAnchor, "matching"},
                                                      {Funnel::CutByPreNmsTopk, "pre-NMS top-k"},
                                                      {Funnel::TooSmall, "min size"},
                                                      {Funnel::BelowRpnScore, "score threshold"},
                                                      {Funnel::SuppressedByNms, "NMS"},
                                                      {Funnel::CutByPostNmsTopk, "post-NMS top-k"}};
      for (const auto& [f, name] : order) {
        if ((f == Funnel::TooSmall || f == Funnel::BelowRpnScore) && lost[int(f)] == 0) continue;
        remaining -= lost[int(f)];
        steps << QString("%1: %2/%3").arg(name).arg(remaining).arg(n);
      }
      m_funnel->setText(steps.join("<br>"));
      m_heatShape->setMaximum(t.levels.empty() ? 0 : t.levels[0].anchors_per_location - 1);
      if (m_heatLevel->count() != int(t.levels.size())) {
        m_heatLevel->clear();
        for (const auto& L : t.levels) m_heatLevel->addItem(QString::fromStdString(L.name));
      }
    }
    return QString(
               "%1 candidates (pre-NMS top-k) → %2 too small, %3 below the score threshold, %4 suppressed by NMS, "
               "%5 cut by post-NMS top-k → %6 kept.")
        .arg(t.proposals.size())
        .arg(small)
        .arg(low)
        .arg(sup)
        .arg(cut)
        .arg(kept);
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    const QString clamp = f3(t.rpn_scale_clamp);
    if (h.kind == HitKind::Anchor) return rpnDecodeFormula(t, h.index);
    if (h.kind != HitKind::Proposal)
      return "bx = px + pw·dx, by = py + ph·dy, bw = pw·e^dw, bh = ph·e^dh (dw, dh ≤ " + clamp + ") — hover a proposal";
    const auto& p = t.proposals[size_t(h.index)];
    const auto& a = t.anchors[size_t(p.anchor)];
    const float* d = &t.deltas[size_t(p.anchor) * 4];
    const float px = (a.x1 + a.x2) / 2, pw = a.width();
    QString f = QString(
                    "bx = px + pw·dx = %1 + %2·%3 = %4<br>bw = pw·exp(min(dw, %8)) = %2·exp(%5) = %6<br>objectness "
                    "σ(logit) = %7")
                    .arg(f1(px), f1(pw), f3(d[0]), f1(px + pw * d[0]), f3(d[2]),
                         f1(pw * std::exp(std::min(double(d[2]), t.rpn_scale_clamp))), f3(p.objectness), clamp);
    if (p.suppressed_by >= 0)
      f += QString("<br>suppressed: IoU with #%1 = %2 > NMS threshold")
               .arg(p.suppressed_by)
               .arg(f3(box_iou(p.box, t.proposals[size_t(p.suppressed_by)].box)));
    return f;
  }
  void draw(DrawContext& dc, const PipelineTrace& t) override {
    const auto& v = m_ctx.view();
    const int hl = m_heatLevel ? m_heatLevel->currentIndex() : -1;
    if (m_heat && m_heat->isChecked() && hl >= 0 && hl < int(t.levels.size())) {
      const auto& L = t.levels[size_t(hl)];
      for (int i = 0; i < L.height; ++i)
        for (int j = 0; j < L.width; ++j) {
          const int k = L.offset + (i * L.width + j) * L.anchors_per_location +
                        std::min(m_heatShape->value(), L.anchors_per_location - 1);
          const Rgb c = heatRgb(t.objectness[size_t(k)]);
          dc.fill(L.centre_x(j) - 0.5f * float(L.stride), L.centre_y(i) - 0.5f * float(L.sy()),
                  L.centre_x(j) + 0.5f * float(L.stride), L.centre_y(i) + 0.5f * float(L.sy()),
                  IM_COL32(c.r, c.g, c.b, 120));
        }
    }
    const float minScore = m_scoreMin ? float(m_scoreMin->value() / 100.0) : 0.f;
    const bool pre = m_preNms && m_preNms->isChecked(), sup = m_suppressed && m_suppressed->isChecked();
    const bool arrows = m_arrows && m_arrows->isChecked();
    // With the refinement arrows on, the anchors and their decoded boxes take the canvas.
    for (size_t i = 0; i < t.proposals.size() && !arrows; ++i) {
      const auto& p = t.proposals[i];
      if (!v.levelOn(p.level) || p.objectness < minScore) continue;
      if (p.state == ProposalState::Kept) {
        dc.rect(p.box, IM_COL32(80, 200, 255, 60 + int(180 * p.objectness)), 1.5f);
        dc.hit(HitKind::Proposal, int(i), p.box);
      } else if (p.state == ProposalState::Suppressed && sup) {
        dc.rect(p.box, IM_COL32(255, 90, 200, 110), 1.f);
        dc.hit(HitKind::Proposal, int(i), p.box);
      } else if (pre) {
        dc.rect(p.box, IM_COL32(200, 200, 200, 50), 1.f);
        dc.hit(HitKind::Proposal, int(i), p.box);
      }
    }
    if (arrows) {
      // Every positive anchor (the RPN's regression targets) and where its own deltas move it.
      for (size_t k = 0; k < t.anchors.size(); ++k) {
        if (t.anchor_label[k] != AnchorLabel::Positive || !v.levelOn(t.anchor_pos(int(k)).level)) continue;
        const Box to = rpnDecoded(t, int(k));
        const bool hot = dc.hover.kind == HitKind::Anchor && dc.hover.index == int(k);
        dc.rect(t.anchors[k], IM_COL32(160, 160, 160, hot ? 255 : 120), hot ? 2.f : 1.f);
        dc.rect(to, IM_COL32(255, 220, 60, hot ? 255 : 170), hot ? 2.5f : 1.2f);
        drawRefineArrow(dc, t.anchors[k], to, IM_COL32(255, 220, 60, 230));
        dc.hit(HitKind::Anchor, int(k), t.anchors[k]);
      }
    }
    if (dc.hover.kind == HitKind::Proposal) {
      const auto& p = t.proposals[size_t(dc.hover.index)];
      dc.rect(p.box, IM_COL32(255, 255, 255, 255), 2.5f);
      if (p.suppressed_by >= 0) {
        const auto& q = t.proposals[size_t(p.suppressed_by)];
        dc.rect(q.box, IM_COL32(255, 60, 60, 255), 2.5f);
        dc.line((p.box.x1 + p.box.x2) / 2, (p.box.y1 + p.box.y2) / 2, (q.box.x1 + q.box.x2) / 2,
                (q.box.y1 + q.box.y2) / 2, IM_COL32(255, 60, 60, 255), 2.f);
      }
    }
  }

 private:
  QSlider* m_scoreMin = nullptr;
  QCheckBox *m_preNms = nullptr, *m_suppressed = nullptr, *m_heat = nullptr, *m_arrows = nullptr;
  QComboBox* m_heatLevel = nullptr;
  QSpinBox* m_heatShape = nullptr;
  QLabel* m_funnel = nullptr;
  ExplainTarget m_target;     // what the user pointed Explain at
  std::string m_targetImage;  // on this image
};

}  // namespace

std::unique_ptr<StageView> makeProposalsStage(StudioContext& ctx) {
  return std::make_unique<ProposalsStage>(ctx);
}

}  // namespace studio
