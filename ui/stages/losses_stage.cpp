// Stage 8: the four training losses of this image, each as the trainer
// computes it (trace.train: the trainer's own step) and per sample: hover a
// sampled anchor or RoI to see its term and its share of the loss.
#include <QButtonGroup>
#include <QFormLayout>
#include <QLabel>
#include <QRadioButton>
#include <algorithm>
#include <cmath>

#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;

QString roiTargetFormula(const PipelineTrace& t, int q);  // roi_sampling_stage.cpp

namespace {

const LossTerm* rpnTerm(const TrainView& v, int anchor) {
  for (const auto& s : v.rpn)
    if (s.index == anchor) return &s;
  return nullptr;
}

QString deltas(const float* d) {
  return QString("(%1, %2, %3, %4)").arg(f3(d[0]), f3(d[1]), f3(d[2]), f3(d[3]));
}

class LossesStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Losses"; }
  QString explanation(const PipelineTrace* t) const override {
    const bool smooth = t && t->train.rpn_smooth_l1;
    return QString("The four losses the trainer minimises on this image, from the samples of the Sampling and RoI "
                   "sampling stages. RPN: binary cross-entropy of every sampled anchor's objectness against 1 "
                   "(positive) or 0, and the ") +
           (smooth ? "smooth L1 (β = 1/9, as torchvision's RPN)" : "L1 distance") +
           " of each positive's predicted deltas to its GT's. Second stage: cross-entropy of each "
           "sampled RoI's class scores against its class target, and the smooth L1 (β = 1/9) of each positive's "
           "deltas for its target class. Each sum is divided by the number of samples; box losses are multiplied "
           "by their box_loss_weight. The colour of a box is its term, hottest = largest.";
  }
  bool showsGt() const override { return true; }
  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QFormLayout(w);
    const char* names[] = {"lossRpnObj", "lossRpnBox", "lossRoiCls", "lossRoiBox", "lossTotal"};
    const char* rows[] = {"RPN objectness", "RPN box", "RoI classification", "RoI box", "Total"};
    for (int i = 0; i < 5; ++i) {
      m_value[i] = new QLabel(w);
      m_value[i]->setObjectName(names[i]);
      m_value[i]->setTextInteractionFlags(Qt::TextSelectableByMouse);
      l->addRow(rows[i], m_value[i]);
    }
    auto* rpn = new QRadioButton("RPN samples (anchors)", w);
    auto* roi = new QRadioButton("RoI samples", w);
    rpn->setObjectName("lossShowRpn");
    roi->setObjectName("lossShowRoi");
    roi->setChecked(true);
    m_showRpn = rpn;
    auto* g = new QButtonGroup(w);
    g->addButton(rpn);
    g->addButton(roi);
    QObject::connect(rpn, &QRadioButton::toggled, w, [this] { m_ctx.touch(); });
    l->addRow("Draw", rpn);
    l->addRow("", roi);
    m_top = new QLabel(w);
    m_top->setObjectName("lossTopTerms");
    m_top->setWordWrap(true);
    l->addRow(m_top);
    return w;
  }
  QString counts(const PipelineTrace& t) override {
    const auto& v = t.train;
    if (m_value[0]) fillPage(t);
    if (!v.valid) return QString::fromStdString(v.note).toHtmlEscaped();
    QString s = QString("rpn_obj %1 + rpn_box %2 + roi_cls %3 + roi_box %4 = <b>%5</b> (seed %6; %7 anchor and %8 RoI "
                        "samples).")
                    .arg(num(v.rpn_obj), num(v.rpn_box), num(v.roi_cls), num(v.roi_box), num(v.total()))
                    .arg(v.seed)
                    .arg(v.rpn.size())
                    .arg(v.roi.size());
    if (v.batchnorm)
      s += " BatchNorm runs on its running statistics here; a training batch uses its own, so the trainer's "
           "numbers for this image differ by that.";
    return s;
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    const auto& v = t.train;
    if (!v.valid) return QString();
    if (h.kind == HitKind::Anchor) {
      if (const LossTerm* s = rpnTerm(v, h.index)) return anchorTerm(v, *s);
    }
    if (h.kind == HitKind::TrainRoi && v.rois[size_t(h.index)].sample >= 0)
      return roiTerm(t, v.roi[size_t(v.rois[size_t(h.index)].sample)]) + "<br>" + roiTargetFormula(t, h.index);
    double rpn_cls = 0, rpn_box = 0, roi_cls = 0, roi_box = 0;
    for (const auto& s : v.rpn) rpn_cls += s.cls, rpn_box += s.box;
    for (const auto& s : v.roi) roi_cls += s.cls, roi_box += s.box;
    return QString("L<sub>obj</sub> = Σ BCE / N = %1 / %2 = %3 &nbsp; L<sub>rpn box</sub> = %4 · Σ" +
                   QString(v.rpn_smooth_l1 ? "smoothL1<sub>β=1/9</sub>(t̂ − t)" : "|t̂ − t|₁") +
                   " / N = %4 · %5 / %2 = %6<br>L<sub>cls</sub> = Σ −ln p<sub>c*</sub> / R = %7 / %8 = %9 &nbsp; "
                   "L<sub>roi box</sub> = %10 · Σ smoothL1 / R = %10 · %11 / %8 = %12")
        .arg(num(rpn_cls))
        .arg(v.rpn_count)
        .arg(num(v.rpn_obj))
        .arg(v.rpn_box_weight)
        .arg(num(rpn_box))
        .arg(num(v.rpn_box))
        .arg(num(roi_cls))
        .arg(v.roi_count)
        .arg(num(v.roi_cls))
        .arg(v.roi_box_weight)
        .arg(num(roi_box))
        .arg(num(v.roi_box));
  }
  void draw(DrawContext& dc, const PipelineTrace& t) override {
    const auto& v = t.train;
    if (!v.valid) return;
    const bool rpn = m_showRpn && m_showRpn->isChecked();
    const auto& terms = rpn ? v.rpn : v.roi;
    float mx = 1e-6f;
    for (const auto& s : terms) mx = std::max(mx, s.cls + s.box);
    // Smallest terms first, so the largest are on top.
    std::vector<size_t> order(terms.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return terms[a].cls + terms[a].box < terms[b].cls + terms[b].box; });
    for (size_t i : order) {
      const auto& s = terms[i];
      const auto c = heatRgb((s.cls + s.box) / mx);
      const ImU32 col = IM_COL32(c.r, c.g, c.b, 235);
      const Box& b = rpn ? t.anchors[size_t(s.index)] : v.rois[size_t(s.index)].box;
      dc.rect(b, col, s.fg ? 2.2f : 1.2f);
      dc.hit(rpn ? HitKind::Anchor : HitKind::TrainRoi, s.index, b);
    }
  }

 private:
  static QString num(double x) { return QString::number(x, 'f', 4); }
  QString anchorTerm(const TrainView& v, const LossTerm& s) const {
    QString r = QString("anchor %1 (%2): BCE = −ln %3 = −ln %4 = %5 → %5 / %6 = %7 of rpn_obj")
                    .arg(s.index)
                    .arg(s.fg ? "positive, y = 1" : "negative, y = 0")
                    .arg(s.fg ? "σ(x)" : "(1 − σ(x))")
                    .arg(f3(s.fg ? s.prob : 1 - s.prob))
                    .arg(num(s.cls))
                    .arg(v.rpn_count)
                    .arg(num(s.cls / v.rpn_count));
    if (s.fg)
      r += QString(v.rpn_smooth_l1 ? "<br>box: Σ smoothL1<sub>β=1/9</sub>(%1 − %2) = %3 → %4 · %3 / %5 = %6 of "
                                     "rpn_box (GT %7)"
                                   : "<br>box: |t̂ − t|₁ = |%1 − %2|₁ = %3 → %4 · %3 / %5 = %6 of rpn_box (GT %7)")
               .arg(deltas(s.pred), deltas(s.target), num(s.box))
               .arg(v.rpn_box_weight)
               .arg(v.rpn_count)
               .arg(num(v.rpn_box_weight * s.box / v.rpn_count))
               .arg(s.gt);
    return r;
  }
  QString roiTerm(const PipelineTrace& t, const LossTerm& s) const {
    const auto& v = t.train;
    const QString cls = s.target_class > 0 ? className(t, s.target_class - 1) : QString("background");
    QString r = QString("CE = −ln p<sub>%1</sub> = −ln %2 = %3 → %3 / %4 = %5 of roi_cls")
                    .arg(cls)
                    .arg(f3(s.prob))
                    .arg(num(s.cls))
                    .arg(v.roi_count)
                    .arg(num(s.cls / std::max(1, v.roi_count)));
    if (s.fg && s.box > 0)
      r += QString("<br>box: Σ smoothL1<sub>β=1/9</sub>(%1 − %2) = %3 → %4 · %3 / %5 = %6 of roi_box")
               .arg(deltas(s.pred), deltas(s.target), num(s.box))
               .arg(v.roi_box_weight)
               .arg(v.roi_count)
               .arg(num(v.roi_box_weight * s.box / std::max(1, v.roi_count)));
    return r;
  }
  void fillPage(const PipelineTrace& t) {
    const auto& v = t.train;
    const double vals[] = {v.rpn_obj, v.rpn_box, v.roi_cls, v.roi_box, v.total()};
    for (int i = 0; i < 5; ++i) m_value[i]->setText(v.valid ? num(vals[i]) : QString("–"));
    if (!v.valid) {
      m_top->clear();
      return;
    }
    // The largest single contributions, in the losses' own units.
    struct Row {
      double share;
      QString text;
    };
    std::vector<Row> rows;
    for (const auto& s : v.rpn)
      rows.push_back({(s.cls + v.rpn_box_weight * s.box) / v.rpn_count,
                      QString("anchor %1 (%2)").arg(s.index).arg(s.fg ? "fg" : "bg")});
    for (const auto& s : v.roi)
      rows.push_back({(s.cls + v.roi_box_weight * s.box) / std::max(1, v.roi_count),
                      QString("RoI %1 (%2)").arg(s.index).arg(s.fg ? className(t, s.target_class - 1) : "bg")});
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.share > b.share; });
    QString s = "Largest terms of the total:";
    for (size_t i = 0; i < std::min<size_t>(5, rows.size()); ++i)
      s += QString("<br>%1: %2").arg(rows[i].text, num(rows[i].share));
    m_top->setText(s);
  }

  QLabel* m_value[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  QLabel* m_top = nullptr;
  QRadioButton* m_showRpn = nullptr;
};

}  // namespace

std::unique_ptr<StageView> makeLossesStage(StudioContext& ctx) {
  return std::make_unique<LossesStage>(ctx);
}

}  // namespace studio
