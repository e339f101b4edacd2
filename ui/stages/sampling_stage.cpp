// Stage 4: the seeded fg/bg sample of anchors used by the RPN losses.
#include <QFormLayout>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSpinBox>

#include "stages/draw_context.h"
#include "stages/seed_controls.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;
namespace {

class SamplingStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Sampling"; }
  QString explanation(const PipelineTrace* t) const override {
    return "Training uses only a few anchors per image: up to fg_fraction of them positive, the rest background, "
           "drawn at random without repeats. Neutral anchors are never sampled. Re-roll to draw again.";
  }
  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QFormLayout(w);
    m_seed.add(l, w, m_ctx, "sampleSeed", "rerollButton");
    return w;
  }
  QString counts(const PipelineTrace& t) override {
    m_seed.show(t.sample_seed);
    return QString("Sampled %1 positives (target %2) and %3 negatives (target %4) of %5 per image; seed %6.")
        .arg(t.sampled_fg.size())
        .arg(t.target_fg)
        .arg(t.sampled_bg.size())
        .arg(t.target_bg)
        .arg(t.num_samples)
        .arg(t.sample_seed);
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind == HitKind::Anchor && t.anchor_gt[size_t(h.index)] >= 0)
      return QString("num_fg = min(int(%1 · %2), #fg)  num_bg = %1 − num_fg<br>")
                 .arg(t.num_samples)
                 .arg(double(t.target_fg) / std::max(1, t.num_samples)) +
             anchorMatchFormula(t, h.index);
    int nfg = 0;
    for (auto l : t.anchor_label) nfg += l == AnchorLabel::Positive;
    return QString("num_fg = min(int(N · fg_fraction), #fg) = min(%1, %2) = %3<br>num_bg = N − num_fg = %4 − %3 = %5")
        .arg(t.target_fg)
        .arg(nfg)
        .arg(std::min(t.target_fg, nfg))
        .arg(t.num_samples)
        .arg(t.num_samples - std::min(t.target_fg, nfg));
  }
  void draw(DrawContext& dc, const PipelineTrace& t) override {
    for (int k : t.sampled_bg) {
      dc.rect(t.anchors[size_t(k)], IM_COL32(240, 70, 70, 230), 1.5f);
      dc.hit(HitKind::Anchor, k, t.anchors[size_t(k)]);
    }
    for (int k : t.sampled_fg) {
      dc.rect(t.anchors[size_t(k)], IM_COL32(60, 230, 90, 255), 2.f);
      dc.hit(HitKind::Anchor, k, t.anchors[size_t(k)]);
    }
  }

 private:
  SeedControls m_seed;
};

}  // namespace

std::unique_ptr<StageView> makeSamplingStage(StudioContext& ctx) {
  return std::make_unique<SamplingStage>(ctx);
}

}  // namespace studio
