// Stage 6: RoIAlign of each kept proposal: bins, sampling points, crops and
// pooled features.
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QPixmap>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

#include "explain/explain_controls.h"
#include "image_list.h"
#include "stages/draw_context.h"
#include "stages/feature_map_view.h"
#include "stages/stage_view.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;
namespace {

QImage roiCrop(const PipelineTrace& t, int r) {
  const int cs = t.crop_size;
  QImage img(cs, cs, QImage::Format_RGB888);
  const float* p = t.roi_crops.data() + size_t(r) * 3 * size_t(cs * cs);
  for (int y = 0; y < cs; ++y)
    for (int x = 0; x < cs; ++x) {
      const auto px = [&](int c) { return std::clamp(int(p[size_t(c * cs * cs + y * cs + x)] * 255), 0, 255); };
      img.setPixel(x, y, qRgb(px(0), px(1), px(2)));
    }
  return img;
}

QImage roiHeatmap(const PipelineTrace& t, int r, int channel) {
  const int S = t.roi_size, C = t.feature_channels;
  QImage img(S, S, QImage::Format_RGB888);
  const float* p = t.roi_features.data() + size_t(r) * size_t(C * S * S);
  std::vector<float> v(size_t(S * S), 0.f);
  for (int i = 0; i < S * S; ++i) {
    if (channel >= 0 && channel < C) {
      v[size_t(i)] = p[size_t(channel * S * S + i)];
    } else {
      for (int c = 0; c < C; ++c) v[size_t(i)] += p[size_t(c * S * S + i)] / float(C);
    }
  }
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  const float lo = *mn, span = std::max(1e-6f, *mx - lo);
  for (int i = 0; i < S * S; ++i) {
    const Rgb c = heatRgb((v[size_t(i)] - lo) / span);
    img.setPixel(i % S, i / S, qRgb(c.r, c.g, c.b));
  }
  return img;
}

class RoiAlignStage : public StageView {
 public:
  using StageView::StageView;
  QString title() const override { return "RoIAlign"; }
  QString explanation(const PipelineTrace* t) const override {
    if (t && t->torchvision)
      return "torchvision's MultiScaleRoIAlign: each proposal goes to level k = ⌊4 + log2(√area / 224) + 1e-6⌋ "
             "clamped to 2–5 ('0'–'3'), and RoIAlign (aligned = False, sampling_ratio 2) cuts it into S×S bins that "
             "average bilinear samples of that feature map.";
    return "Each kept proposal is cut out of its FPN level with RoIAlign: the box is divided into S×S bins and each "
           "bin averages bilinear samples of the feature map (no rounding, aligned = half-pixel shift).";
  }
  QWidget* buildPage(QWidget* parent) override {
    auto* w = new QWidget(parent);
    auto* l = new QVBoxLayout(w);
    auto* f = new QFormLayout;
    m_roi = new QSpinBox(w);
    m_roi->setObjectName("roiIndex");
    m_channel = new QSpinBox(w);
    m_channel->setRange(-1, 1023);
    m_channel->setSpecialValueText("mean");
    m_channel->setValue(-1);
    f->addRow("Kept proposal", m_roi);
    f->addRow("Pooled channel", m_channel);
    m_fmode = new QComboBox(w);
    m_fmode->setObjectName("fmapMode");
    m_fmode->addItems({"off", "channel mean", "channel max", "one channel"});
    m_fchannel = new QSpinBox(w);
    m_fchannel->setObjectName("fmapChannel");
    m_fchannel->setRange(0, 4095);
    m_flevel = new QComboBox(w);
    m_flevel->setObjectName("fmapLevel");
    m_fopacity = new QSlider(Qt::Horizontal, w);
    m_fopacity->setRange(10, 100);
    m_fopacity->setValue(75);
    f->addRow("Feature map", m_fmode);
    f->addRow("Map channel", m_fchannel);
    f->addRow("Map level", m_flevel);
    f->addRow("Map opacity", m_fopacity);
    auto touch = [this] { m_ctx.touch(); };
    QObject::connect(m_fmode, qOverload<int>(&QComboBox::currentIndexChanged), w, touch);
    QObject::connect(m_flevel, qOverload<int>(&QComboBox::currentIndexChanged), w, touch);
    QObject::connect(m_fopacity, &QSlider::valueChanged, w, touch);
    QObject::connect(m_fchannel, qOverload<int>(&QSpinBox::valueChanged), w, [this](int c) {
      if (!m_filling) m_ctx.requestFeatureChannel(c);
    });
    l->addLayout(f);
    auto* imgs = new QHBoxLayout;
    m_crop = new QLabel(w);
    m_pooled = new QLabel(w);
    m_crop->setFixedSize(112, 112);
    m_pooled->setFixedSize(112, 112);
    imgs->addWidget(m_crop);
    imgs->addWidget(m_pooled);
    l->addWidget(new QLabel("Image crop (RoIAlign of the input)  |  pooled S×S features:", w));
    l->addLayout(imgs);
    m_gallery = new ImageList(QSize(40, 40), w);
    m_gallery->setObjectName("roiGallery");
    l->addWidget(new QLabel("All kept proposals:", w));
    l->addWidget(m_gallery, 1);
    l->addWidget(new ExplainControls(m_ctx, "RoIAlign", w));
    QObject::connect(m_roi, qOverload<int>(&QSpinBox::valueChanged), w, [this](int v) {
      if (!m_filling) m_ctx.setSelectedRoi(v);
    });
    QObject::connect(m_channel, qOverload<int>(&QSpinBox::valueChanged), w, [this] { refreshImages(); });
    QObject::connect(m_gallery, &QListWidget::currentRowChanged, w, [this](int r) {
      if (!m_filling && r >= 0) m_ctx.setSelectedRoi(r);
    });
    QObject::connect(&m_ctx, &StudioContext::selectionChanged, w, [this] {
      m_filling = true;
      m_roi->setValue(m_ctx.selectedRoi());
      m_filling = false;
      refreshImages();
    });
    return w;
  }
  // Explain: the selected RoI, its most probable class (roi:K: what the RoI head saw in it, detection or not).
  ExplainTarget explainTarget(const PipelineTrace& t) const override {
    const int r = m_ctx.selectedRoi();
    if (r < 0 || r >= int(t.kept.size())) return {};
    return ExplainTarget{"roi", r};
  }
  QString counts(const PipelineTrace& t) override {
    const int R = int(t.kept.size());
    if (m_roi) {
      m_filling = true;
      if (m_flevel->count() != int(t.levels.size()) + 1) {
        m_flevel->clear();
        m_flevel->addItem("the RoI's level");
        for (const auto& L : t.levels) m_flevel->addItem(QString::fromStdString(L.name));
      }
      if (!t.feature_maps.empty()) {
        m_fchannel->setMaximum(t.feature_maps[0].channels - 1);
        m_fchannel->setValue(t.feature_channel);
      }
      m_roi->setMaximum(std::max(0, R - 1));
      m_roi->setValue(m_ctx.selectedRoi());
      if (m_gallery->count() != R || m_galleryTrace != &t) {
        std::vector<std::pair<QImage, QString>> crops;
        for (int k = 0; k < R && !t.roi_crops.empty(); ++k)
          crops.emplace_back(roiCrop(t, k).scaled(40, 40), QString::number(k));
        m_gallery->setImages(crops);
        m_galleryTrace = &t;
      }
      m_filling = false;
      refreshImages();
    }
    return QString("%1 RoIs pooled to %2×%3×%4 (level by %5).")
        .arg(R)
        .arg(t.feature_channels)
        .arg(t.roi_size)
        .arg(t.roi_size)
        .arg(t.level_assignment == "size"
                 ? QString("size: k = ⌊%1 + log2(√(wh) / %2)⌋").arg(t.canonical_level).arg(t.canonical_size)
                 : QString("the proposal's own level"));
  }
  QString formula(const PipelineTrace& t, const Hit& h) const override {
    if (h.kind == HitKind::SamplePoint) return samplePointFormula(t, h.index, mode());
    const int r = m_ctx.selectedRoi();
    if (r < 0 || r >= int(t.kept.size())) return "";
    const auto& p = t.proposals[size_t(t.kept[size_t(r)])];
    const int lv = t.roi_level.empty() ? p.level : t.roi_level[size_t(r)];
    const int s = t.levels[size_t(lv)].stride;
    const int gh = size_t(2 * r + 1) < t.roi_grid.size() ? t.roi_grid[size_t(2 * r)] : 0;
    const int gw = size_t(2 * r + 1) < t.roi_grid.size() ? t.roi_grid[size_t(2 * r + 1)] : 0;
    return QString(
               "level %1, spatial_scale = 1/%2; box on the map = %3·(1/%2) − %9<br>bin = (x2 − x1)/(S·stride) = %4 / "
               "(%5·%2) = %6 cells; %7×%8 samples per bin")
        .arg(QString::fromStdString(t.levels[size_t(lv)].name))
        .arg(s)
        .arg(boxStr(p.box))
        .arg(f1(p.box.width()))
        .arg(t.roi_size)
        .arg(f3(p.box.width() / (t.roi_size * s)))
        .arg(gh)
        .arg(gw)
        .arg(t.aligned ? "0.5" : "0");
  }
  void draw(DrawContext& dc, const PipelineTrace& t) override {
    const auto& v = m_ctx.view();
    const int sel = m_ctx.selectedRoi();
    const FeatureMap* fm = shownMap(t, sel);
    if (fm) drawFeatureMap(dc, *fm, mode(), float(m_fopacity->value()) / 100.f);
    for (size_t r = 0; r < t.kept.size(); ++r) {
      const auto& p = t.proposals[size_t(t.kept[r])];
      if (!v.levelOn(p.level)) continue;
      if (int(r) != sel) dc.rect(p.box, IM_COL32(80, 200, 255, 50), 1.f);
      dc.hit(HitKind::Proposal, t.kept[r], p.box);
    }
    if (sel < 0 || sel >= int(t.kept.size())) return;
    const auto& p = t.proposals[size_t(t.kept[size_t(sel)])];
    dc.rect(p.box, IM_COL32(255, 230, 60, 255), 2.5f);
    const int S = t.roi_size;
    for (int i = 1; i < S; ++i) {  // bin grid
      const float x = p.box.x1 + p.box.width() * i / S, y = p.box.y1 + p.box.height() * i / S;
      dc.line(x, p.box.y1, x, p.box.y2, IM_COL32(255, 230, 60, 110));
      dc.line(p.box.x1, y, p.box.x2, y, IM_COL32(255, 230, 60, 110));
    }
    if (size_t(sel + 1) >= t.roi_point_offset.size()) return;
    // On the feature map the RoI's cells show, each sample point is hoverable (its taps and weights).
    const bool onMap =
        fm && size_t(sel) < t.roi_level.size() && fm == &t.feature_maps[size_t(t.roi_level[size_t(sel)])];
    if (onMap) drawCellGrid(dc, *fm, p.box);
    const float radius = std::max(1.5f, float(dc.zoom) * 0.4f);
    const float hit = std::max(0.75f, 4.f / float(dc.zoom));
    for (int k = t.roi_point_offset[size_t(sel)]; k + 1 < t.roi_point_offset[size_t(sel + 1)]; k += 2) {
      const float x = t.roi_points[size_t(k)], y = t.roi_points[size_t(k + 1)];
      dc.dl->AddCircleFilled(dc.p(x, y), radius, IM_COL32(255, 60, 60, 230), 8);
      if (onMap && t.roi_points_fmap.size() == t.roi_points.size())
        dc.hit(HitKind::SamplePoint, k / 2, Box{x - hit, y - hit, x + hit, y + hit});
    }
    if (dc.hover.kind == HitKind::SamplePoint) drawTap(dc, t, dc.hover.index);
  }

 private:
  void refreshImages() {
    const auto& tr = m_ctx.trace();
    if (!m_crop || !tr) return;
    const int r = std::min(m_ctx.selectedRoi(), int(tr->kept.size()) - 1);
    if (r < 0 || tr->roi_crops.empty()) return;
    m_crop->setPixmap(QPixmap::fromImage(roiCrop(*tr, r).scaled(112, 112)));
    m_pooled->setPixmap(QPixmap::fromImage(roiHeatmap(*tr, r, m_channel->value()).scaled(112, 112)));
  }

  FeatureMode mode() const { return m_fmode ? FeatureMode(m_fmode->currentIndex()) : FeatureMode::Off; }
  // The level the feature-map view shows: the chosen one, or the selected RoI's.
  const FeatureMap* shownMap(const PipelineTrace& t, int sel) const {
    if (mode() == FeatureMode::Off || t.feature_maps.empty()) return nullptr;
    int l = m_flevel->currentIndex() - 1;
    if (l < 0) l = sel >= 0 && size_t(sel) < t.roi_level.size() ? t.roi_level[size_t(sel)] : 0;
    return size_t(l) < t.feature_maps.size() ? &t.feature_maps[size_t(l)] : nullptr;
  }

  QSpinBox *m_roi = nullptr, *m_channel = nullptr, *m_fchannel = nullptr;
  QComboBox *m_fmode = nullptr, *m_flevel = nullptr;
  QSlider* m_fopacity = nullptr;
  QLabel *m_crop = nullptr, *m_pooled = nullptr;
  ImageList* m_gallery = nullptr;
  const PipelineTrace* m_galleryTrace = nullptr;
  bool m_filling = false;
};

}  // namespace

std::unique_ptr<StageView> makeRoIAlignStage(StudioContext& ctx) {
  return std::make_unique<RoiAlignStage>(ctx);
}

}  // namespace studio
