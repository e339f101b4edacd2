#pragma once
// The plots of an anchor-coverage report, as data (the studio draws them with
// QtCharts) and as SVG files (`rcnn anchors --plots DIR`, the studio's SVG
// export), so every view shows the same numbers.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "api/coverage_job.h"

namespace rcnn::api {

struct Histogram {
  std::vector<double> edges;  // bins [edges[i], edges[i + 1])
  std::vector<int> counts;    // edges.size() - 1
};

struct Marker {
  double x;
  int level;  // colour by FPN level (-1: none)
  std::string label;
};

struct CoveragePlots {
  Histogram side;       // GT sqrt(area) in input pixels, 8-px bins
  Histogram aspect;     // log2(h / w), 0.25-wide bins
  Histogram positives;  // positive anchors per GT
  std::vector<Marker> side_markers;    // every anchor size of every level
  std::vector<Marker> aspect_markers;  // every anchor ratio (log2)
  std::array<double, 3> bpr_by_size{}, bpr_no_lq_by_size{};
};

CoveragePlots coverage_plots(const CoverageReport& r);
// (file name, SVG text) of each plot: gt_sizes.svg, gt_aspects.svg, positives_per_gt.svg, bpr_by_size.svg.
std::vector<std::pair<std::string, std::string>> coverage_svgs(const CoveragePlots& p);

}  // namespace rcnn::api
