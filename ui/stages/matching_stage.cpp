// Stage 3: each anchor's best GT, IoU thresholds, the per-GT summary.
#include <QCheckBox>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;

QString anchorMatchFormula(const PipelineTrace& t, int i) {
  const auto& a = t.anchors[size_t(i)];
  const auto& g = t.gt[size_t(t.anchor_gt[size_t(i)])].box;
  const float iw = std::max(0.f, std::min(a.x2, g.x2) - std::max(a.x1, g.x1));
  const float ih = std::max(0.f, std::min(a.y2, g.y2) - std::max(a.y1, g.y1));
  const float inter = iw * ih, uni = a.width() * a.height() + g.width() * g.height() - inter;
  const float px = (a.x1 + a.x2) / 2, py = (a.y1 + a.y2) / 2, pw = a.width(), ph = a.height();
  const float bx = (g.x1 + g.x2) / 2, by = (g.y1 + g.y2) / 2, bw = g.width(), bh = g.height();
  const auto lab = t.anchor_label[size_t(i)];
  const QString name = lab == AnchorLabel::Positive ? "positive" : lab == AnchorLabel::Neutral ? "neutral" : "negative";
  return QString(
             "IoU = inter / union = %1 / %2 = %3 → %4 (lo %5, hi %6)<br>"
             "dx = (bx − px) / pw = (%7 − %8) / %9 = %10<br>dy = (by − py) / ph = (%11 − %12) / %13 = %14<br>"
             "dw = log(bw / pw) = log(%15 / %9) = %16<br>dh = log(bh / ph) = log(%17 / %13) = %18")
      .arg(f1(inter), f1(uni), f3(inter / uni), name)
      .arg(t.iou_lo)
      .arg(t.iou_hi)
      .arg(f1(bx), f1(px), f1(pw), f3((bx - px) / pw))
      .arg(f1(by), f1(py), f1(ph), f3((by - py) / ph))
      .arg(f1(bw), f3(std::log(bw / pw)), f1(bh), f3(std::log(bh / ph)));
}

namespace {

class MatchingStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Matching"; }
  QString explanation(const PipelineTrace* t) const override {
    if (t && t->torchvision)
      return "torchvision's Matcher: each anchor takes its highest-IoU GT box. IoU < rpn_bg_iou_thresh makes it "
             "background, IoU ≥ rpn_fg_iou_thresh a positive, anything between is neutral. Low-quality matches: each "
             "GT's best anchors are positive too, but keep their own highest-IoU GT (which may be another one).";
    return "Each anchor takes its highest-IoU GT box. IoU ≤ lo makes it background, IoU ≥ hi makes it a positive for "
           "that GT, anything between is neutral and never trained on.";
  }

  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QVBoxLayout(w);
    m_neutral = addCheck(l, "Neutral anchors", true);
    m_negative = addCheck(l, "Negative anchors", false);
    m_heatmap = addCheck(l, "IoU heatmap of the selected GT", true);
    m_table = new QTableWidget(w);
    m_table->setObjectName("gtTable");
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    l->addWidget(new QLabel("Per GT (click a row to select it; click again on the canvas GT):", w));
    l->addWidget(m_table, 1);
    QObject::connect(m_table, &QTableWidget::itemSelectionChanged, w, [this] {
      if (m_filling) return;
      auto rows = m_table->selectionModel()->selectedRows();
      m_ctx.setSelectedGt(rows.isEmpty() ? -1 : rows.first().row());
    });
    QObject::connect(&m_ctx, &StudioContext::selectionChanged, w, [this] { selectRow(); });
    return w;
  }

  QString counts(const PipelineTrace& t) override {
    int pos = 0, neu = 0, neg = 0;
    for (auto a : t.anchor_label) (a == AnchorLabel::Positive ? pos : a == AnchorLabel::Neutral ? neu : neg)++;
    QString c = QString(
                    "<span style='color:#3c3'>%1 positive</span> · <span style='color:#cb3'>%2 neutral</span> · "
                    "<span style='color:#d44'>%3 negative</span> anchors (thresholds %4 / %5%6)")
                    .arg(pos)
                    .arg(neu)
                    .arg(neg)
                    .arg(t.iou_lo)
                    .arg(t.iou_hi)
                    .arg(t.low_quality ? ", low-quality matches on" : "");
    fillTable(t);
    int missing = 0;
    for (const auto& gi : t.gt) missing += gi.positive_anchors == 0;
    if (missing)
      c += QString(
               "<br><b style='color:#f73'>⚠ %1 GT box(es) have no positive anchor</b> — hover the row for the "
               "reason.")
               .arg(missing);
    return c;
  }

  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind == HitKind::Anchor && t.anchor_gt[size_t(h.index)] >= 0) return anchorMatchFormula(t, h.index);
    if (t.torchvision)
      return "IoU &lt; bg → background · bg ≤ IoU &lt; fg → neutral · IoU ≥ fg → positive — hover an anchor";
    return "IoU ≤ lo → background · lo < IoU < hi → neutral · IoU ≥ hi → positive — hover an anchor";
  }

  void draw(DrawContext& dc, const PipelineTrace& t) override {
    const auto& v = m_ctx.view();
    const int M = int(t.gt.size()), sel = m_ctx.selectedGt();
    if (m_heatmap && m_heatmap->isChecked() && sel >= 0 && sel < M) {
      // Max IoU over the enabled anchor shapes at each location of each enabled level.
      for (size_t l = 0; l < t.levels.size(); ++l) {
        if (!v.levelOn(int(l))) continue;
        const auto& L = t.levels[l];
        for (int i = 0; i < L.height; ++i)
          for (int j = 0; j < L.width; ++j) {
            float best = 0;
            const int base = L.offset + (i * L.width + j) * L.anchors_per_location;
            for (int a = 0; a < L.anchors_per_location; ++a)
              if (v.shapeOn(a)) best = std::max(best, t.iou_matrix[size_t(base + a) * size_t(M) + size_t(sel)]);
            if (best <= 0.01f) continue;
            const Rgb c = heatRgb(best);
            dc.fill(L.centre_x(j) - 0.5f * float(L.stride), L.centre_y(i) - 0.5f * float(L.sy()),
                  L.centre_x(j) + 0.5f * float(L.stride), L.centre_y(i) + 0.5f * float(L.sy()),
                    IM_COL32(c.r, c.g, c.b, 70 + 30 * int(l)));
          }
      }
    }
    for (size_t k = 0; k < t.anchors.size(); ++k) {
      const auto a = anchorPos(t, int(k));
      if (!v.levelOn(a.level) || !v.shapeOn(a.shape)) continue;
      const auto lab = t.anchor_label[k];
      if (sel >= 0 && t.anchor_gt[k] != sel && lab != AnchorLabel::Negative) continue;
      if (lab == AnchorLabel::Positive) {
        dc.rect(t.anchors[k], IM_COL32(60, 230, 90, 220), 1.5f);
        dc.hit(HitKind::Anchor, int(k), t.anchors[k]);
        if (t.anchor_gt[k] >= 0) {
          const auto& b = t.anchors[k];
          const auto& g = t.gt[size_t(t.anchor_gt[k])].box;
          dc.line((b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, (g.x1 + g.x2) / 2, (g.y1 + g.y2) / 2,
                  IM_COL32(60, 230, 90, 120));
        }
      } else if (lab == AnchorLabel::Neutral && m_neutral && m_neutral->isChecked()) {
        dc.rect(t.anchors[k], IM_COL32(240, 200, 40, 110), 1.f);
        dc.hit(HitKind::Anchor, int(k), t.anchors[k]);
      } else if (lab == AnchorLabel::Negative && m_negative && m_negative->isChecked()) {
        dc.rect(t.anchors[k], IM_COL32(230, 60, 60, 30), 1.f);
      }
    }
  }

 private:
  QCheckBox* addCheck(QVBoxLayout* l, const QString& text, bool on) {
    auto* c = new QCheckBox(text);
    c->setChecked(on);
    l->addWidget(c);
    QObject::connect(c, &QCheckBox::toggled, c, [this] { m_ctx.touch(); });
    return c;
  }

  void fillTable(const PipelineTrace& t) {
    if (!m_table) return;
    m_filling = true;
    const int L = int(t.levels.size());
    const int A = L ? t.levels[0].anchors_per_location : 0;
    m_table->setColumnCount(3 + L);
    QStringList hdr{"GT", "#pos", "best IoU"};
    for (const auto& lv : t.levels) hdr << QString::fromStdString(lv.name);
    m_table->setHorizontalHeaderLabels(hdr);
    m_table->setRowCount(int(t.gt.size()));
    for (size_t g = 0; g < t.gt.size(); ++g) {
      const auto& gi = t.gt[g];
      auto* it0 = new QTableWidgetItem(QString("%1 %2").arg(g).arg(className(t, gi.label)));
      auto* it1 = new QTableWidgetItem(QString::number(gi.positive_anchors));
      if (gi.positive_anchors == 0) {
        it1->setText("0 ⚠");
        it1->setForeground(QColor(255, 120, 60));
        it0->setToolTip(QString::fromStdString(gi.no_positive_reason));
        it1->setToolTip(QString::fromStdString(gi.no_positive_reason));
      }
      m_table->setItem(int(g), 0, it0);
      m_table->setItem(int(g), 1, it1);
      m_table->setItem(int(g), 2, new QTableWidgetItem(f3(gi.best_iou)));
      for (int l = 0; l < L; ++l) {
        float b = 0;
        for (int a = 0; a < A; ++a) b = std::max(b, gi.best_iou_per_level_shape[size_t(l * A + a)]);
        m_table->setItem(int(g), 3 + l, new QTableWidgetItem(f3(b)));
      }
    }
    m_table->resizeColumnsToContents();
    m_filling = false;
    selectRow();
  }

  void selectRow() {
    if (!m_table) return;
    m_filling = true;
    const int g = m_ctx.selectedGt();
    if (g >= 0 && g < m_table->rowCount())
      m_table->selectRow(g);
    else
      m_table->clearSelection();
    m_filling = false;
  }

  QCheckBox *m_neutral = nullptr, *m_negative = nullptr, *m_heatmap = nullptr;
  QTableWidget* m_table = nullptr;
  bool m_filling = false;
};

}  // namespace

std::unique_ptr<StageView> makeMatchingStage(StudioContext& ctx) {
  return std::make_unique<MatchingStage>(ctx);
}

}  // namespace studio
