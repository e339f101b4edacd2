// Stage 2: anchors on every FPN level; the anchors of the hovered location.
#include <QCheckBox>
#include <QHBoxLayout>
#include <QVBoxLayout>
#include <cmath>

#include "stages/draw_context.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;
namespace {

ImU32 levelColor(size_t l, int alpha) {
  return l == 0   ? IM_COL32(255, 255, 255, alpha)
         : l == 1 ? IM_COL32(120, 220, 255, alpha)
                  : IM_COL32(255, 160, 60, alpha);
}

class AnchorsStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "Anchors"; }
  QString explanation(const PipelineTrace* t) const override {
    if (t && t->torchvision)
      return "torchvision's AnchorGenerator: every cell of each feature map ('0'–'3' = P2–P5, 'pool' = P6) holds one "
             "anchor per size and aspect ratio, centred on the cell's top-left corner (j·stride, i·stride), stride = "
             "padded input size // feature size. Hover the image to see the anchors of that location.";
    return "Every cell of each FPN level (p3/p4/p5, strides 8/16/32) is the centre of A anchors: one per aspect ratio "
           "(and scale), all with area (stride·stride_scale)². Hover the image to see the anchors of that location.";
  }
  bool showsGt() const override { return false; }

  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QVBoxLayout(w);
    m_levelBox = new QWidget(w);
    new QHBoxLayout(m_levelBox);
    m_shapeBox = new QWidget(w);
    new QHBoxLayout(m_shapeBox);
    l->addWidget(m_levelBox);
    l->addWidget(m_shapeBox);
    m_centres = new QCheckBox("Grid of centres (levels at least 8 px apart on screen)", w);
    m_centres->setChecked(true);
    m_all = new QCheckBox("Every anchor of the enabled levels/shapes", w);
    l->addWidget(m_centres);
    l->addWidget(m_all);
    for (auto* c : {m_centres, m_all}) QObject::connect(c, &QCheckBox::toggled, w, [this] { m_ctx.touch(); });
    l->addStretch();
    return w;
  }

  QString counts(const PipelineTrace& t) override {
    QString c;
    for (const auto& L : t.levels) {
      QStringList s;
      for (float z : L.sizes) s << f1(z);
      c += QString("%1: %2×%3 cells × %4 = %5 anchors (sizes %6)<br>")
               .arg(QString::fromStdString(L.name))
               .arg(L.height)
               .arg(L.width)
               .arg(L.anchors_per_location)
               .arg(L.count())
               .arg(s.join(", "));
    }
    rebuildToggles(t);
    return c + QString("Total: %1 anchors").arg(t.anchors.size());
  }

  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind != HitKind::Anchor)
      return t.torchvision ? "w = size / √r, h = size · √r, centred on the cell's corner  — hover the image"
                           : "w = √(area / r), h = area / w, area = (stride · stride_scale)²  — hover the image";
    const auto a = anchorPos(t, h.index);
    const auto& L = t.levels[size_t(a.level)];
    const float r = anchorRatio(L, a.shape), side = anchorSize(L, a.shape);
    const float w = std::sqrt(side * side / r), hh = side * side / w;
    const int i = a.location / L.width, j = a.location % L.width;
    if (t.torchvision) {
      // torchvision's AnchorGenerator: h_ratio = √r, w_ratio = 1 / h_ratio, base = round([-w, -h, w, h] / 2)
      // around (0, 0), shifted to the cell's corner.
      const double hr = std::sqrt(double(r)), tw = side / hr, th = side * hr;
      return QString(
                 "level %1, cell (i=%2, j=%3): shift = (j·%4, i·%5) = (%6, %7)<br>"
                 "w = size / √r = %8 / √%9 = %10 ; h = size · √r = %11<br>"
                 "base = round([−w, −h, w, h] / 2) = [%12, %13, %14, %15] ; anchor = base + shift = %16")
          .arg(QString::fromStdString(L.name))
          .arg(i)
          .arg(j)
          .arg(L.stride)
          .arg(L.sy())
          .arg(f1(L.centre_x(j)), f1(L.centre_y(i)), f1(side))
          .arg(r)
          .arg(f3(tw), f3(th))
          .arg(std::round(-tw / 2))
          .arg(std::round(-th / 2))
          .arg(std::round(tw / 2))
          .arg(std::round(th / 2))
          .arg(boxStr(t.anchors[size_t(h.index)]));
    }
    return QString(
               "level %1, cell (i=%2, j=%3): centre = ((j+0.5)·%4, (i+0.5)·%4) = (%5, %6)<br>"
               "area = (%7)² ; w = √(area / r) = √(%8 / %9) = %10 ; h = area / w = %11<br>anchor = %12")
        .arg(QString::fromStdString(L.name))
        .arg(i)
        .arg(j)
        .arg(L.stride)
        .arg(f1((j + 0.5) * L.stride), f1((i + 0.5) * L.stride), f1(side), f1(side * side))
        .arg(r)
        .arg(f1(w), f1(hh), boxStr(t.anchors[size_t(h.index)]));
  }

  void draw(DrawContext& dc, const PipelineTrace& t) override {
    const auto& v = m_ctx.view();
    for (size_t l = 0; l < t.levels.size(); ++l) {
      if (!v.levelOn(int(l))) continue;
      const auto& L = t.levels[l];
      // A level whose centres would sit under 8 screen pixels apart is left
      // out of the grid (zoom in to see it): it would only paint the image over.
      if (m_centres && m_centres->isChecked() && L.stride * dc.zoom >= 8)
        for (int i = 0; i < L.height; ++i)
          for (int j = 0; j < L.width; ++j)
            dc.dl->AddCircleFilled(dc.p(L.centre_x(j), L.centre_y(i)),
                                   std::min(1.5f + float(l), float(0.15 * L.stride * dc.zoom)),
                                   levelColor(l, 150 + 25 * int(l)), 6);
      if (m_all && m_all->isChecked())
        for (int k = L.offset; k < L.offset + L.count(); ++k)
          if (v.shapeOn((k - L.offset) % L.anchors_per_location))
            dc.rect(t.anchors[size_t(k)], IM_COL32(120, 200, 255, 40), 1.f);
    }
    if (dc.mouse.x() < 0) return;
    // Every anchor of the location under the mouse, on each enabled level.
    for (size_t l = 0; l < t.levels.size(); ++l) {
      if (!v.levelOn(int(l))) continue;
      const auto& L = t.levels[l];
      const int j = L.cell_x(float(dc.mouse.x())), i = L.cell_y(float(dc.mouse.y()));
      if (i < 0 || j < 0 || i >= L.height || j >= L.width) continue;
      const int base = L.offset + (i * L.width + j) * L.anchors_per_location;
      for (int a = 0; a < L.anchors_per_location; ++a) {
        if (!v.shapeOn(a)) continue;
        dc.rect(t.anchors[size_t(base + a)], levelColor(l, 230), 1.5f);
        dc.hit(HitKind::Anchor, base + a, t.anchors[size_t(base + a)]);
      }
      dc.dl->AddCircleFilled(dc.p(L.centre_x(j), L.centre_y(i)), 4.f, IM_COL32(255, 60, 60, 255));
    }
  }

 private:
  // Level and shape toggles follow the trace's levels and anchor shapes.
  void rebuildToggles(const PipelineTrace& t) {
    if (!m_levelBox || t.levels.empty()) return;
    const int L = int(t.levels.size()), A = t.levels[0].anchors_per_location;
    if (int(m_levels.size()) != L) {
      qDeleteAll(m_levels);
      m_levels.clear();
      for (const auto& lv : t.levels) m_levels.push_back(addToggle(m_levelBox, QString::fromStdString(lv.name)));
    }
    if (int(m_shapes.size()) != A) {
      qDeleteAll(m_shapes);
      m_shapes.clear();
      for (int a = 0; a < A; ++a)
        m_shapes.push_back(addToggle(
            m_shapeBox, QString("r%1·s%2").arg(anchorRatio(t.levels[0], a)).arg(t.levels[0].size_index(a))));
    }
  }
  QCheckBox* addToggle(QWidget* box, const QString& text) {
    auto* c = new QCheckBox(text, box);
    c->setChecked(true);
    box->layout()->addWidget(c);
    QObject::connect(c, &QCheckBox::toggled, box, [this] {
      ViewOptions v = m_ctx.view();
      v.levels.clear();
      v.shapes.clear();
      for (auto* b : m_levels) v.levels.push_back(b->isChecked());
      for (auto* b : m_shapes) v.shapes.push_back(b->isChecked());
      m_ctx.setView(v);
    });
    return c;
  }

  QWidget *m_levelBox = nullptr, *m_shapeBox = nullptr;
  std::vector<QCheckBox*> m_levels, m_shapes;
  QCheckBox *m_centres = nullptr, *m_all = nullptr;
};

}  // namespace

std::unique_ptr<StageView> makeAnchorsStage(StudioContext& ctx) {
  return std::make_unique<AnchorsStage>(ctx);
}

}  // namespace studio
