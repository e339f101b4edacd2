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
  QString explanation() const override {
    return "The image is resized to the model's square input and normalised. Ground-truth boxes are mapped with "
           "the same scale, so every later stage works in input pixels.";
  }
  QString counts(const PipelineTrace& t) override {
    return QString("%1×%2 → %3×%3, %4 GT boxes. Stages recomputed in %5 ms.")
        .arg(t.image_width)
        .arg(t.image_height)
        .arg(t.input_size)
        .arg(t.gt.size())
        .arg(f1(m_ctx.traceMs()));
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind == HitKind::Gt) {
      const auto& g = t.gt[size_t(h.index)];
      return QString("x1' = x1·sx + pad = %1·%2 + %3 = %4<br>y2' = y2·sy + pad = %5·%6 + %7 = %8")
          .arg(f1(g.box_original.x1), f3(t.scale_x), f1(t.pad_x), f1(g.box.x1))
          .arg(f1(g.box_original.y2), f3(t.scale_y), f1(t.pad_y), f1(g.box.y2));
    }
    return QString("x' = x · sx + pad_x,  sx = %1 / %2 = %3").arg(t.input_size).arg(t.image_width).arg(f3(t.scale_x));
  }
  void draw(DrawContext&, const PipelineTrace&) override {}
};

}  // namespace

std::unique_ptr<StageView> makeImageStage(StudioContext& ctx) {
  return std::make_unique<ImageStage>(ctx);
}

}  // namespace studio
