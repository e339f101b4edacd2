#include "stages/feature_map_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "stages/draw_context.h"
#include "stages/trace_helpers.h"

namespace studio {
using namespace rcnn::api;

const std::vector<float>& featureValues(const FeatureMap& m, FeatureMode mode) {
  return mode == FeatureMode::Max ? m.max : (mode == FeatureMode::Channel ? m.channel : m.mean);
}

void drawFeatureMap(DrawContext& dc, const FeatureMap& m, FeatureMode mode, float opacity) {
  const auto& v = featureValues(m, mode);
  if (mode == FeatureMode::Off || v.empty()) return;
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  const float lo = *mn, span = std::max(1e-6f, *mx - lo);
  const int block = std::max(1, int(std::ceil(std::sqrt(double(m.height) * m.width / 12000.0))));
  const int alpha = std::clamp(int(255 * opacity), 0, 255);
  for (int i = 0; i < m.height; i += block)
    for (int j = 0; j < m.width; j += block) {
      double sum = 0;
      int n = 0;
      for (int a = i; a < std::min(m.height, i + block); ++a)
        for (int b = j; b < std::min(m.width, j + block); ++b) sum += v[size_t(a * m.width + b)], ++n;
      const Rgb c = heatRgb(float((sum / n - lo) / span));
      // Cell (i, j) is feature point (j, i): its square of side `step` around input ((j + o)·step, (i + o)·step).
      const float bj = float(std::min(block, m.width - j)), bi = float(std::min(block, m.height - i));
      dc.fill(m.input_x(float(j) - 0.5f), m.input_y(float(i) - 0.5f), m.input_x(float(j) + bj - 0.5f),
              m.input_y(float(i) + bi - 0.5f), IM_COL32(c.r, c.g, c.b, alpha));
    }
}

void drawCellGrid(DrawContext& dc, const FeatureMap& m, const Box& b) {
  if (m.step * dc.zoom < 6) return;
  const int j0 = std::max(0, int(std::floor(m.feature_x(b.x1)))), j1 = std::min(m.width, int(std::ceil(m.feature_x(b.x2))) + 1);
  const int i0 = std::max(0, int(std::floor(m.feature_y(b.y1)))), i1 = std::min(m.height, int(std::ceil(m.feature_y(b.y2))) + 1);
  const ImU32 c = IM_COL32(255, 255, 255, 70);
  for (int j = j0; j <= j1; ++j)
    dc.line(m.input_x(j - 0.5f), m.input_y(i0 - 0.5f), m.input_x(j - 0.5f), m.input_y(i1 - 0.5f), c);
  for (int i = i0; i <= i1; ++i)
    dc.line(m.input_x(j0 - 0.5f), m.input_y(i - 0.5f), m.input_x(j1 - 0.5f), m.input_y(i - 0.5f), c);
  // Cell centres: where the feature values sit.
  for (int i = i0; i < i1; ++i)
    for (int j = j0; j < j1; ++j) dc.dl->AddCircleFilled(dc.p(m.input_x(float(j)), m.input_y(float(i))), 1.5f, c, 6);
}

int roiOfPoint(const PipelineTrace& t, int point, int* local) {
  const auto& off = t.roi_point_offset;
  const auto it = std::upper_bound(off.begin(), off.end(), 2 * point);
  const int r = int(it - off.begin()) - 1;
  if (local) *local = r >= 0 ? point - off[size_t(r)] / 2 : -1;
  return r < int(t.kept.size()) ? r : -1;
}

namespace {
const FeatureMap* mapOf(const PipelineTrace& t, int r) {
  if (r < 0 || size_t(r) >= t.roi_level.size()) return nullptr;
  const size_t l = size_t(t.roi_level[size_t(r)]);
  return l < t.feature_maps.size() ? &t.feature_maps[l] : nullptr;
}
}  // namespace

void drawTap(DrawContext& dc, const PipelineTrace& t, int point) {
  const FeatureMap* m = mapOf(t, roiOfPoint(t, point));
  if (!m) return;
  const float x = t.roi_points_fmap[size_t(2 * point)], y = t.roi_points_fmap[size_t(2 * point + 1)];
  const auto tap = roi_align_tap(m->height, m->width, x, y);
  if (!tap.inside) return;
  char buf[32];
  for (int q = 0; q < 4; ++q) {
    const int ci = tap.cell[q] / m->width, cj = tap.cell[q] % m->width;
    const Box cell{m->input_x(cj - 0.5f), m->input_y(ci - 0.5f), m->input_x(cj + 0.5f), m->input_y(ci + 0.5f)};
    dc.rect(cell, IM_COL32(255, 255, 255, 255), 2.f);
    dc.line(m->input_x(x), m->input_y(y), m->input_x(float(cj)), m->input_y(float(ci)), IM_COL32(255, 255, 255, 160));
    std::snprintf(buf, sizeof buf, "%.3f", tap.weight[q]);
    dc.dl->AddText(dc.p(m->input_x(float(cj)) + 2, m->input_y(float(ci)) + 1), IM_COL32(255, 255, 255, 255), buf);
  }
}

QString samplePointFormula(const PipelineTrace& t, int point, FeatureMode mode) {
  int local = 0;
  const int r = roiOfPoint(t, point, &local);
  const FeatureMap* m = mapOf(t, r);
  if (!m) return QString();
  const int S = t.roi_size, gh = t.roi_grid[size_t(2 * r)], gw = t.roi_grid[size_t(2 * r + 1)];
  // Points are ordered (bin row, sample row, bin column, sample column).
  const int ix = local % gw, pw = (local / gw) % S, iy = (local / (gw * S)) % gh, ph = local / (gw * S * gh);
  const Box& b = t.proposals[size_t(t.kept[size_t(r)])].box;
  const double s = 1.0 / m->step, o = m->offset;
  auto side = [&](double a1, double a2) {
    double size = (a2 * s - o) - (a1 * s - o);
    if (o == 0) size = std::max(size, 1.0);  // not aligned: at least one cell
    return size / S;
  };
  const double bw = side(b.x1, b.x2), bh = side(b.y1, b.y2);
  const float x = t.roi_points_fmap[size_t(2 * point)], y = t.roi_points_fmap[size_t(2 * point + 1)];
  QString f = QString("RoI %1 on %2 (s = 1/%3, o = %4): bin (%5, %6), sample (%7, %8) of %9×%10<br>"
                      "x = x1·s − o + pw·bin_w + (ix + 0.5)·bin_w/grid = %11·%12 − %4 + %6·%13 + %8.5·%13/%10 = %14<br>"
                      "y = %15·%12 − %4 + %5·%16 + %7.5·%16/%9 = %17")
                  .arg(r)
                  .arg(QString::fromStdString(t.levels[size_t(t.roi_level[size_t(r)])].name))
                  .arg(m->step)
                  .arg(o)
                  .arg(ph)
                  .arg(pw)
                  .arg(iy)
                  .arg(ix)
                  .arg(gh)
                  .arg(gw)
                  .arg(f1(b.x1), QString::number(s, 'g', 4), QString::number(bw, 'f', 4), QString::number(x, 'f', 3),
                       f1(b.y1), QString::number(bh, 'f', 4), QString::number(y, 'f', 3));
  const auto tap = roi_align_tap(m->height, m->width, x, y);
  if (!tap.inside) return f + "<br>outside [−1, H] × [−1, W]: contributes 0";
  const auto& v = featureValues(*m, mode == FeatureMode::Off ? FeatureMode::Channel : mode);
  const QString what = mode == FeatureMode::Mean ? "channel mean"
                       : mode == FeatureMode::Max ? "channel max"
                                                  : QString("channel %1").arg(t.feature_channel);
  double sum = 0;
  QString terms;
  for (int q = 0; q < 4; ++q) {
    const int ci = tap.cell[q] / m->width, cj = tap.cell[q] % m->width;
    const float val = v[size_t(tap.cell[q])];
    sum += tap.weight[q] * val;
    terms += QString("%1cell (%2, %3): w %4 · %5").arg(q ? "<br>" : "").arg(ci).arg(cj).arg(f3(tap.weight[q])).arg(f3(val));
  }
  return f + QString("<br>bilinear taps on %1 (w = (1 − |Δy|)(1 − |Δx|)):<br>").arg(what) + terms +
         QString("<br>sample value = Σ w·f = %1; the bin averages its %2 samples").arg(f3(sum)).arg(gh * gw);
}

}  // namespace studio
