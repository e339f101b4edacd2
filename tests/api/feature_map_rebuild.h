#pragma once
// The feature-map view's claim, checked the same way for every model: kept
// RoI r's sampling points in feature-map coordinates (trace.roi_points_fmap),
// read through RoIAlign's bilinear taps (api::roi_align_tap) from its level's
// channel image (trace.feature_maps, channel trace.feature_channel) and
// averaged per bin, give the pooled features RoIAlign produced.
#include <vector>

#include "api/trace.h"

// The S x S bin values of RoI r rebuilt from the drawn points, row-major.
inline std::vector<double> rebuild_pooled_bins(const rcnn::api::PipelineTrace& t, int r) {
  const int S = t.roi_size;
  const auto& m = t.feature_maps[size_t(t.roi_level[size_t(r)])];
  const int gh = t.roi_grid[size_t(2 * r)], gw = t.roi_grid[size_t(2 * r + 1)];
  const float* pts = &t.roi_points_fmap[size_t(t.roi_point_offset[size_t(r)])];
  std::vector<double> bins(size_t(S * S), 0.0);
  for (int ph = 0; ph < S; ++ph)
    for (int pw = 0; pw < S; ++pw) {
      double sum = 0;
      for (int iy = 0; iy < gh; ++iy)
        for (int ix = 0; ix < gw; ++ix) {
          // Points are ordered (bin row, sample row, bin column, sample column).
          const size_t k = size_t(((ph * gh + iy) * S + pw) * gw + ix) * 2;
          const auto tap = rcnn::api::roi_align_tap(m.height, m.width, pts[k], pts[k + 1]);
          for (int q = 0; q < 4; ++q) sum += tap.weight[q] * m.channel[size_t(tap.cell[q])];
        }
      bins[size_t(ph * S + pw)] = sum / (gh * gw);
    }
  return bins;
}

// What RoIAlign pooled for RoI r, bin (ph, pw), in the trace's channel.
inline float pooled_bin(const rcnn::api::PipelineTrace& t, int r, int ph, int pw) {
  const size_t S = size_t(t.roi_size), F = size_t(t.feature_channels);
  return t.roi_features[((size_t(r) * F + size_t(t.feature_channel)) * S + size_t(ph)) * S + size_t(pw)];
}
