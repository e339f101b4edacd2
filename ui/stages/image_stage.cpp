// Stage 1: the image as the model sees it, and the GT mapped onto it.
#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;
namespace {

class ImageStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Image+GT"; }
  QString explanation(const PipelineTrace* t) const override {
    return "The image is resized to the model's input and normalised (the seed's presets: a square; torchvision's: "
           "the aspect kept, short side to min_size, padded to a multiple of 32). Ground-truth boxes are mapped with "
           "the same scale, so every later stage works in input pixels.";
  }
  QString counts(const PipelineTrace& t) override {
    const QString crowd = t.crowd.empty() ? QString()
                                          : QString(", %1 crowd region(s) (grey: ignore regions, not GTs)").arg(t.crowd.size());
    return QString("%1×%2 → %3×%4 (%5), %6 GT boxes%7. Stages recomputed in %8 ms.")
        .arg(t.image_width)
        .arg(t.image_height)
        .arg(t.input_width)
        .arg(t.input_height)
        .arg(QString::fromStdString(t.input_note))
        .arg(t.gt.size())
        .arg(crowd)
        .arg(f1(m_ctx.traceMs()));
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind == HitKind::Gt) {
      const auto& g = t.gt[size_t(h.index)];
      return QString("x1' = x1·sx + pad = %1·%2 + %3 = %4<br>y2' = y2·sy + pad = %5·%6 + %7 = %8")
          .arg(f1(g.box_original.x1), f3(t.scale_x), f1(t.pad_x), f1(g.box.x1))
          .arg(f1(g.box_original.y2), f3(t.scale_y), f1(t.pad_y), f1(g.box.y2));
    }
    return QString("x' = x · sx + pad_x,  sx = %1,  y' = y · sy + pad_y,  sy = %2").arg(f3(t.scale_x), f3(t.scale_y));
  }
  void draw(DrawContext&, const PipelineTrace&) override {}
};

}  // namespace

std::unique_ptr<StageView> makeImageStage(StudioContext& ctx) {
  return std::make_unique<ImageStage>(ctx);
}

}  // namespace studio
