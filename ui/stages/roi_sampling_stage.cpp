// Stage 7: the second stage's training side on this image: the training
// proposals (and the GT boxes added to them) matched to the GT at the RoI
// thresholds, and the seeded fg/bg sample with each RoI's class and box
// targets. The numbers are the trainer's own step (trace.train).
#include <QCheckBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSpinBox>
#include <QTableWidget>
#include <cmath>
#include <cstdio>

#include "panels/table_util.h"
#include "stages/draw_context.h"
#include "stages/seed_controls.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;

// Shared with the Losses stage (losses_stage.cpp).
QString roiTargetFormula(const PipelineTrace& t, int q);
QString labelWord(AnchorLabel l);

namespace {

class RoiSamplingStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "RoI sampling"; }
  QString explanation(const PipelineTrace* t) const override {
    if (t && t->torchvision)
      return "Training the second stage: the training proposals and the GT boxes are matched to the GT and sampled "
             "for the RoI losses. This view covers the seed's detectors; a torchvision model is fine-tuned with "
             "torchvision's own step (rcnn train --checkpoint).";
    return "Training the second stage (the trainer's own step on this image): the RPN's proposals with the training "
           "top-k (pre_nms_topk_train, post_nms_topk_train per level) and, when roi.add_gt_to_proposals is on, the "
           "GT boxes themselves are matched to the GT at roi.iou_lo / roi.iou_hi (no low-quality rule). Then "
           "roi.batch_size_per_image RoIs are drawn, at most fg_fraction positive, from the same seeded generator "
           "right after the RPN's draws. A positive RoI learns its GT's class and the deltas to its GT box "
           "(weights 10, 10, 5, 5); a negative one learns background (class 0).";
  }
  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QFormLayout(w);
    m_seed.add(l, w, m_ctx, "roiSampleSeed", "roiRerollButton");
    m_unsampled = new QCheckBox("Show unsampled candidates", w);
    m_unsampled->setObjectName("roiShowUnsampled");
    QObject::connect(m_unsampled, &QCheckBox::toggled, w, [this] { m_ctx.touch(); });
    l->addRow(m_unsampled);
    m_table = makeTable(w, {"RoI", "from", "IoU", "GT", "target", "box target (dx, dy, dw, dh)"}, "roiSampleTable");
    l->addRow(new QLabel("Sampled RoIs (positives first):", w));
    l->addRow(m_table);
    return w;
  }
  QString counts(const PipelineTrace& t) override {
    const auto& v = t.train;
    m_seed.show(t.sample_seed);
    if (m_table) fillTable(t);
    if (!v.valid) return QString::fromStdString(v.note).toHtmlEscaped();
    int fg = 0, bg = 0;
    for (const auto& r : v.rois) fg += r.label == AnchorLabel::Positive, bg += r.label == AnchorLabel::Negative;
    const int target = int(v.roi_batch * v.roi_fg_fraction);
    return QString(
               "%1 candidates (%2 training proposals + %3 GT boxes): %4 positive (IoU ≥ %5), %6 negative (IoU ≤ %7), "
               "%8 neutral. Sampled %9 positives (target %10) and %11 negatives of %12; seed %13.")
        .arg(v.rois.size())
        .arg(v.num_proposals)
        .arg(int(v.rois.size()) - v.num_proposals)
        .arg(fg)
        .arg(v.roi_iou_hi)
        .arg(bg)
        .arg(v.roi_iou_lo)
        .arg(int(v.rois.size()) - fg - bg)
        .arg(v.roi_fg)
        .arg(target)
        .arg(int(v.roi.size()) - v.roi_fg)
        .arg(v.roi_batch)
        .arg(v.seed);
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    const auto& v = t.train;
    if (h.kind == HitKind::TrainRoi) return roiTargetFormula(t, h.index);
    int fg = 0, bg = 0;
    for (const auto& r : v.rois) fg += r.label == AnchorLabel::Positive, bg += r.label == AnchorLabel::Negative;
    const int target = int(v.roi_batch * v.roi_fg_fraction), nfg = std::min(target, fg);
    return QString("num_fg = min(int(N · fg_fraction), #fg) = min(int(%1 · %2), %3) = %4<br>"
                   "num_bg = min(N − num_fg, #bg) = min(%1 − %4, %5) = %6")
        .arg(v.roi_batch)
        .arg(v.roi_fg_fraction)
        .arg(fg)
        .arg(nfg)
        .arg(bg)
        .arg(std::min(v.roi_batch - nfg, bg));
  }
  void draw(DrawContext& dc, const PipelineTrace& t) override {
    const auto& v = t.train;
    if (!v.valid) return;
    if (m_unsampled && m_unsampled->isChecked())
      for (size_t q = 0; q < v.rois.size(); ++q)
        if (v.rois[q].sample < 0) dc.rect(v.rois[q].box, IM_COL32(200, 200, 200, 70), 1.f);
    char buf[96];
    // Negatives under positives; a GT box that joined the proposals is drawn thicker in cyan.
    for (int pass = 0; pass < 2; ++pass)
      for (const auto& s : v.roi) {
        if (s.fg != (pass == 1)) continue;
        const auto& r = v.rois[size_t(s.index)];
        const ImU32 c = r.from_gt ? IM_COL32(70, 220, 255, 255)
                                  : (s.fg ? IM_COL32(60, 230, 90, 255) : IM_COL32(240, 70, 70, 200));
        dc.rect(r.box, c, s.fg ? 2.f : 1.2f);
        if (s.fg) {
          std::snprintf(buf, sizeof buf, "%s %.2f", className(t, r.class_target - 1).toUtf8().constData(), r.iou);
          dc.label(r.box, c, buf);
        }
        dc.hit(HitKind::TrainRoi, s.index, r.box);
      }
  }

 private:
  void fillTable(const PipelineTrace& t) {
    const auto& v = t.train;
    m_table->setRowCount(int(v.roi.size()));
    for (size_t i = 0; i < v.roi.size(); ++i) {
      const auto& s = v.roi[i];
      const auto& r = v.rois[size_t(s.index)];
      const int row = int(i);
      m_table->setItem(row, 0, new QTableWidgetItem(QString::number(s.index)));
      m_table->setItem(row, 1, new QTableWidgetItem(r.from_gt ? "GT box" : t.levels.size() > size_t(r.level)
                                                                               ? QString::fromStdString(
                                                                                     t.levels[size_t(r.level)].name)
                                                                               : QString("?")));
      m_table->setItem(row, 2, new QTableWidgetItem(f3(r.iou)));
      m_table->setItem(row, 3, new QTableWidgetItem(r.gt >= 0 ? QString::number(r.gt) : "–"));
      m_table->setItem(row, 4,
                       new QTableWidgetItem(s.fg ? QString("%1 %2").arg(s.target_class).arg(
                                                       className(t, s.target_class - 1))
                                                 : QString("0 background")));
      m_table->setItem(row, 5,
                       new QTableWidgetItem(s.fg ? QString("(%1, %2, %3, %4)")
                                                       .arg(f3(s.target[0]), f3(s.target[1]), f3(s.target[2]),
                                                            f3(s.target[3]))
                                                 : QString("–")));
    }
    m_table->resizeColumnsToContents();
  }

  SeedControls m_seed;
  QCheckBox* m_unsampled = nullptr;
  QTableWidget* m_table = nullptr;
};

}  // namespace

QString labelWord(AnchorLabel l) {
  return l == AnchorLabel::Positive ? "positive" : (l == AnchorLabel::Negative ? "negative" : "neutral");
}

QString roiTargetFormula(const PipelineTrace& t, int q) {
  const auto& v = t.train;
  const auto& r = v.rois[size_t(q)];
  QString s = QString("RoI %1 %2: best IoU %3 with GT %4 → %5 (positive if IoU ≥ %6, negative if ≤ %7)")
                  .arg(q)
                  .arg(r.from_gt ? "(a GT box added to the proposals)" : "(a training proposal)")
                  .arg(f3(r.iou))
                  .arg(r.gt)
                  .arg(labelWord(r.label))
                  .arg(v.roi_iou_hi)
                  .arg(v.roi_iou_lo);
  if (r.sample < 0) return s + "<br>not sampled";
  const auto& x = v.roi[size_t(r.sample)];
  s += QString("<br>sample %1: class target %2 (%3)")
           .arg(r.sample)
           .arg(x.target_class)
           .arg(x.fg ? className(t, x.target_class - 1) : QString("background"));
  if (!x.fg || r.gt < 0 || r.gt >= int(t.gt.size())) return s;
  const Box& p = r.box;
  const Box& g = t.gt[size_t(r.gt)].box;
  const double pw = p.width(), ph = p.height(), gw = g.width(), gh = g.height();
  const double pcx = p.x1 + 0.5 * pw, pcy = p.y1 + 0.5 * ph, gcx = g.x1 + 0.5 * gw, gcy = g.y1 + 0.5 * gh;
  s += QString("<br>t<sub>x</sub> = 10·(%1 − %2)/%3 = %4 &nbsp; t<sub>y</sub> = 10·(%5 − %6)/%7 = %8"
               "<br>t<sub>w</sub> = 5·ln(%9/%3) = %10 &nbsp; t<sub>h</sub> = 5·ln(%11/%7) = %12")
           .arg(f1(gcx), f1(pcx), f1(pw), f3(x.target[0]), f1(gcy), f1(pcy), f1(ph), f3(x.target[1]), f1(gw))
           .arg(f3(x.target[2]), f1(gh), f3(x.target[3]));
  return s;
}

std::unique_ptr<StageView> makeRoiSamplingStage(StudioContext& ctx) {
  return std::make_unique<RoiSamplingStage>(ctx);
}

}  // namespace studio
