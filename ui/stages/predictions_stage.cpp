// Stage 7: final detections, TP/FP/FN against the GT, the missed GTs.
#include <QCheckBox>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QTableWidget>
#include <cmath>
#include <cstdio>

#include "canvas/palette.h"
#include "explain/explain_controls.h"
#include "stages/box_refinement.h"
#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;
namespace {

class PredictionsStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Predictions"; }
  QString explanation(const PipelineTrace* t) const override {
    if (t && t->torchvision)
      return "torchvision's RoIHeads: softmax over C+1 classes (0 = background), class-specific boxes decoded with "
             "weights (10, 10, 5, 5) and clipped; every class score above box_score_thresh makes a candidate, boxes "
             "under 0.01 px are dropped, per-class NMS, and the box_detections_per_img best are reported.";
    return "The second stage classifies every RoI over C+1 classes (0 = background). A box is reported for each "
           "class whose probability passes the score threshold, then per-class NMS removes duplicates.";
  }
  bool showsGt() const override { return false; }
  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QFormLayout(w);
    m_score = slider(w, "predScore", "roi.score_thresh", "torchvision.box_score_thresh");
    m_nms = slider(w, "predNms", "roi.nms_thresh", "torchvision.box_nms_thresh");
    m_scoreLabel = new QLabel(w);
    m_nmsLabel = new QLabel(w);
    l->addRow("Score threshold", m_score);
    l->addRow("", m_scoreLabel);
    l->addRow("NMS threshold", m_nms);
    l->addRow("", m_nmsLabel);
    m_arrows = new QCheckBox("Refinement: RoI → detection box", w);
    m_arrows->setObjectName("roiRefineArrows");
    QObject::connect(m_arrows, &QCheckBox::toggled, w, [this] { m_ctx.touch(); });
    l->addRow(m_arrows);
    m_misses = new QTableWidget(w);
    m_misses->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_misses->verticalHeader()->hide();
    l->addRow(new QLabel("Missed GT and the stage that lost them:", w));
    l->addRow(m_misses);
    l->addRow(new ExplainControls(m_ctx, "Predictions", w));
    return w;
  }
  // Explain: the clicked detection or missed GT (a missed GT's row: its Explain button); the best
  // detection until one is clicked.
  ExplainTarget explainTarget(const PipelineTrace& t) const override {
    if (m_targetImage == t.image_path) {
      if (m_target.kind == "det" && m_target.index < int(t.detections.size())) return m_target;
      if (m_target.kind == "gt" && m_target.index < int(t.gt.size())) return m_target;
    }
    return t.detections.empty() ? ExplainTarget{} : ExplainTarget{"det", 0};
  }
  bool clicked(const Hit& h) override {
    const auto& t = m_ctx.trace();
    if (!t || (h.kind != HitKind::Detection && h.kind != HitKind::Gt)) return false;
    explain({h.kind == HitKind::Detection ? "det" : "gt", h.index}, *t, false);
    return h.kind == HitKind::Detection;  // a GT click still selects the GT
  }
  QString counts(const PipelineTrace& t) override {
    // Counts from the accounting engine's one-to-one verdicts (VOC's rule; difficult GTs ignored).
    int tp = 0, fp = 0, fn = 0;
    for (const auto& v : t.verdicts)
      tp += v.outcome == DetOutcome::TruePositive, fp += v.outcome == DetOutcome::FalsePositive;
    for (const auto& g : t.gt) fn += g.funnel != Funnel::Detected && g.funnel != Funnel::Ignored;
    if (m_score) {
      m_filling = true;
      m_score->setValue(int(std::lround(t.score_thresh * 100)));
      m_nms->setValue(int(std::lround(t.nms_thresh * 100)));
      m_scoreLabel->setText(QString::number(t.score_thresh, 'f', 2));
      m_nmsLabel->setText(QString::number(t.nms_thresh, 'f', 2));
      m_filling = false;
      fillMisses(t);
    }
    return QString(
               "%1 detections: <span style='color:#3c3'>%2 TP</span>, <span style='color:#f55'>%3 FP</span>, "
               "<span style='color:#fa3'>%4 FN</span> at IoU 0.5 (score threshold %5).")
        .arg(t.detections.size())
        .arg(tp)
        .arg(fp)
        .arg(fn)
        .arg(t.score_thresh);
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind == HitKind::Detection) {
      const auto& d = t.detections[size_t(h.index)];
      const float* pr = &t.class_probs[size_t(d.proposal) * size_t(t.num_classes() + 1)];
      QString verdict;
      if (size_t(h.index) < t.verdicts.size()) {
        const auto& v = t.verdicts[size_t(h.index)];
        verdict = v.outcome == DetOutcome::TruePositive
                      ? QString("<br><b>TP</b>: GT #%1 (IoU %2)").arg(v.gt).arg(f3(v.iou))
                  : v.outcome == DetOutcome::Ignored && v.crowd >= 0
                      ? QString("<br>ignored: on crowd region #%1 (IoU %2), an ignore region").arg(v.crowd).arg(f3(v.iou))
                  : v.outcome == DetOutcome::Ignored
                      ? QString("<br>ignored: matches difficult GT #%1").arg(v.gt)
                      : QString("<br><b>FP, %1 error</b>%2")
                            .arg(error_name(v.error))
                            .arg(v.gt >= 0 ? QString(" (GT #%1, IoU %2)").arg(v.gt).arg(f3(v.iou)) : QString());
      }
      return QString("p = softmax(logits): background %1, %2 %3 > threshold %4 → kept by per-class NMS")
                 .arg(f3(pr[0]))
                 .arg(className(t, d.label))
                 .arg(f3(pr[d.label + 1]))
                 .arg(t.score_thresh) +
             verdict + "<br>" + roiDecodeFormula(t, d.proposal, d.label);
    }
    if (h.kind == HitKind::Gt)
      return QString("GT %1: <b>%2</b><br>%3")
          .arg(h.index)
          .arg(funnel_name(t.gt[size_t(h.index)].funnel))
          .arg(QString::fromStdString(t.gt[size_t(h.index)].funnel_reason).toHtmlEscaped());
    return "score_c = softmax(logits)_c ; keep if score_c > threshold ; per-class NMS ; at most N per image";
  }
  void draw(DrawContext& dc, const PipelineTrace& t) override {
    char buf[128];
    if (m_arrows && m_arrows->isChecked())
      for (const auto& det : t.detections) {
        const Box& from = t.proposals[size_t(t.kept[size_t(det.proposal)])].box;
        dc.rect(from, IM_COL32(180, 180, 180, 150), 1.f);
        drawRefineArrow(dc, from, det.box, IM_COL32(255, 220, 60, 230));
      }
    for (size_t d = 0; d < t.detections.size(); ++d) {
      const auto& det = t.detections[d];
      const bool tp = d < t.verdicts.size() && t.verdicts[d].outcome == DetOutcome::TruePositive;
      const ImU32 c = tp ? IM_COL32(60, 230, 90, 255) : IM_COL32(255, 80, 80, 255);
      dc.rect(det.box, c, 2.f);
      std::snprintf(buf, sizeof buf, "%s %.2f", className(t, det.label).toUtf8().constData(), det.score);
      dc.label(det.box, c, buf);
      dc.hit(HitKind::Detection, int(d), det.box);
    }
    const ImU32 orange = IM_COL32(255, 170, 40, 255);
    for (size_t g = 0; g < t.gt.size(); ++g) {
      const auto& gi = t.gt[g];
      if (gi.funnel == Funnel::Detected || gi.funnel == Funnel::Ignored) continue;
      // Missed GT: dashed orange outline and the funnel stage that lost it.
      const ImVec2 a = dc.p(gi.box.x1, gi.box.y1), b = dc.p(gi.box.x2, gi.box.y2);
      for (float x = a.x; x < b.x; x += 8) {
        dc.dl->AddLine(ImVec2(x, a.y), ImVec2(std::min(x + 4, b.x), a.y), orange, 2.f);
        dc.dl->AddLine(ImVec2(x, b.y), ImVec2(std::min(x + 4, b.x), b.y), orange, 2.f);
      }
      for (float y = a.y; y < b.y; y += 8) {
        dc.dl->AddLine(ImVec2(a.x, y), ImVec2(a.x, std::min(y + 4, b.y)), orange, 2.f);
        dc.dl->AddLine(ImVec2(b.x, y), ImVec2(b.x, std::min(y + 4, b.y)), orange, 2.f);
      }
      std::snprintf(buf, sizeof buf, "FN %s: %s", className(t, gi.label).toUtf8().constData(), funnel_name(gi.funnel));
      dc.dl->AddText(ImVec2(a.x + 2, b.y + 2), orange, buf);
      dc.hit(HitKind::Gt, int(g), gi.box);
    }
  }

 private:
  // key: the seed's option, tvKey: the same option of a torchvision preset.
  QSlider* slider(QWidget* w, const char* name, const char* key, const char* tvKey) {
    auto* s = new QSlider(Qt::Horizontal, w);
    s->setObjectName(name);
    s->setRange(0, 100);
    QObject::connect(s, &QSlider::valueChanged, w, [this, key, tvKey](int v) {
      const bool tv = m_ctx.trace() && m_ctx.trace()->torchvision;
      if (!m_filling) m_ctx.requestConfigValue(tv ? tvKey : key, QString::number(v / 100.0));
    });
    return s;
  }
  // Points Explain at `target`; `enable` turns it on (a missed GT's Explain button).
  void explain(const ExplainTarget& target, const PipelineTrace& t, bool enable) {
    m_target = target;
    m_targetImage = t.image_path;
    if (enable) {
      auto s = m_ctx.explainSettings();
      s.enabled = true;
      m_ctx.setExplainSettings(s);
    }
    m_ctx.touchExplainTarget();
  }
  void fillMisses(const PipelineTrace& t) {
    m_misses->setColumnCount(4);
    m_misses->setHorizontalHeaderLabels({"", "GT", "lost at", "why"});
    int rows = 0;
    auto missed = [](const GtInfo& g) { return g.funnel != Funnel::Detected && g.funnel != Funnel::Ignored; };
    for (const auto& g : t.gt) rows += missed(g);
    m_misses->setRowCount(rows);
    int row = 0;
    for (size_t g = 0; g < t.gt.size(); ++g) {
      if (!missed(t.gt[g])) continue;
      m_misses->setItem(row, 1, new QTableWidgetItem(QString("%1 %2").arg(g).arg(className(t, t.gt[g].label))));
      m_misses->setItem(row, 2, new QTableWidgetItem(funnel_name(t.gt[g].funnel)));
      auto* why = new QTableWidgetItem(QString::fromStdString(t.gt[g].funnel_reason));
      why->setToolTip(why->text());
      m_misses->setItem(row, 3, why);
      auto* ex = new QPushButton("Explain", m_misses);
      ex->setObjectName(QString("explainGt%1").arg(g));
      ex->setToolTip("The heat map of what this GT's best RoI sees (the score of the GT's class)");
      QObject::connect(ex, &QPushButton::clicked, m_misses, [this, g] {
        if (m_ctx.trace() && g < m_ctx.trace()->gt.size()) explain({"gt", int(g)}, *m_ctx.trace(), true);
      });
      m_misses->setCellWidget(row, 0, ex);  // first: the reasons are long
      ++row;
    }
    m_misses->resizeColumnsToContents();
  }

  QSlider *m_score = nullptr, *m_nms = nullptr;
  QLabel *m_scoreLabel = nullptr, *m_nmsLabel = nullptr;
  QTableWidget* m_misses = nullptr;
  QCheckBox* m_arrows = nullptr;
  bool m_filling = false;
  ExplainTarget m_target;     // what the user pointed Explain at
  std::string m_targetImage;  // on this image
};

}  // namespace

std::unique_ptr<StageView> makePredictionsStage(StudioContext& ctx) {
  return std::make_unique<PredictionsStage>(ctx);
}

}  // namespace studio
