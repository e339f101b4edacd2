#include "api/coverage_plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace rcnn::api {
namespace {

Histogram histogram(const std::vector<double>& values, double lo, double width, int max_bins) {
  Histogram h;
  double hi = lo + width;
  for (double v : values) hi = std::max(hi, v + width);
  const int bins = std::min(max_bins, int(std::ceil((hi - lo) / width)));
  for (int b = 0; b <= bins; ++b) h.edges.push_back(lo + b * width);
  h.counts.assign(size_t(bins), 0);
  for (double v : values) h.counts[size_t(std::clamp(int((v - lo) / width), 0, bins - 1))]++;
  return h;
}

const char* level_color(int l) {
  static const char* c[] = {"#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
  return l < 0 ? "#444" : c[l % 5];
}

// A bar chart of a histogram with vertical markers, 640 x 360.
std::string svg_histogram(const std::string& title, const std::string& xlabel, const Histogram& h,
                          const std::vector<Marker>& markers) {
  const double W = 640, H = 360, L = 50, R = 20, T = 30, B = 45;
  const double x0 = h.edges.front(), x1 = h.edges.back();
  int top = 1;
  for (int c : h.counts) top = std::max(top, c);
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return H - B - y / top * (H - T - B); };
  std::ostringstream s;
  s.precision(4);
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif'>"
    << "<rect width='100%' height='100%' fill='white'/><text x='" << W / 2 << "' y='20' text-anchor='middle'>" << title
    << "</text>";
  for (size_t b = 0; b < h.counts.size(); ++b)
    s << "<rect x='" << X(h.edges[b]) << "' y='" << Y(h.counts[b]) << "' width='"
      << std::max(0.5, X(h.edges[b + 1]) - X(h.edges[b]) - 1) << "' height='" << Y(0) - Y(h.counts[b])
      << "' fill='#999'/>";
  for (const auto& m : markers) {
    if (m.x < x0 || m.x > x1) continue;
    s << "<line x1='" << X(m.x) << "' x2='" << X(m.x) << "' y1='" << T << "' y2='" << H - B << "' stroke='"
      << level_color(m.level) << "' stroke-width='1.5'><title>" << m.label << "</title></line>";
  }
  s << "<line x1='" << L << "' x2='" << W - R << "' y1='" << H - B << "' y2='" << H - B << "' stroke='black'/>";
  for (int k = 0; k <= 4; ++k) {
    const double x = x0 + (x1 - x0) * k / 4;
    s << "<text x='" << X(x) << "' y='" << H - B + 15 << "' font-size='11' text-anchor='middle'>" << x << "</text>";
  }
  s << "<text x='" << W / 2 << "' y='" << H - 8 << "' text-anchor='middle' font-size='12'>" << xlabel << "</text>"
    << "<text x='12' y='" << T + 10 << "' font-size='11'>" << top << "</text></svg>\n";
  return s.str();
}

}  // namespace

CoveragePlots coverage_plots(const CoverageReport& r) {
  CoveragePlots p;
  std::vector<double> side, aspect, pos;
  for (const auto& g : r.gts) {
    side.push_back(g.side);
    if (g.aspect > 0) aspect.push_back(std::log2(g.aspect));
    pos.push_back(g.positives);
  }
  p.side = histogram(side, 0, 8, 64);
  p.aspect = histogram(aspect, -3, 0.25, 24);
  p.positives = histogram(pos, 0, 1, 40);
  for (size_t l = 0; l < r.levels.size(); ++l) {
    for (float s : r.levels[l].sizes) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s anchor size %.1f px", r.levels[l].name.c_str(), s);
      p.side_markers.push_back({s, int(l), buf});
    }
  }
  if (!r.levels.empty())
    for (float a : r.levels[0].ratios) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "anchor ratio h/w %.2f", a);
      p.aspect_markers.push_back({std::log2(a), -1, buf});
    }
  for (int b = 0; b < 3; ++b) p.bpr_by_size[size_t(b)] = r.by_size[size_t(b)].bpr(),
                              p.bpr_no_lq_by_size[size_t(b)] = r.by_size[size_t(b)].bpr_no_lq();
  return p;
}

std::vector<std::pair<std::string, std::string>> coverage_svgs(const CoveragePlots& p) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("gt_sizes.svg", svg_histogram("GT sqrt(area) with the anchor sizes of each level",
                                                 "sqrt(area), model-input px", p.side, p.side_markers));
  out.emplace_back("gt_aspects.svg",
                   svg_histogram("GT aspect ratio with the anchor ratios", "log2(h / w)", p.aspect, p.aspect_markers));
  out.emplace_back("positives_per_gt.svg",
                   svg_histogram("Positive anchors per GT", "positive anchors", p.positives, {}));
  // BPR by size bucket: two bars per bucket.
  std::ostringstream s;
  s.precision(3);
  const char* names[] = {"small (&lt; 32)", "medium", "large (&#8805; 96)"};
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='480' height='300' font-family='sans-serif'>"
    << "<rect width='100%' height='100%' fill='white'/><text x='240' y='20' text-anchor='middle'>Best possible recall "
       "by GT size</text>";
  for (int b = 0; b < 3; ++b) {
    const double x = 60 + b * 140, base = 250, hgt = 200;
    s << "<rect x='" << x << "' y='" << base - p.bpr_by_size[size_t(b)] * hgt << "' width='50' height='"
      << p.bpr_by_size[size_t(b)] * hgt << "' fill='#1f77b4'><title>BPR " << p.bpr_by_size[size_t(b)]
      << "</title></rect><rect x='" << x + 55 << "' y='" << base - p.bpr_no_lq_by_size[size_t(b)] * hgt
      << "' width='50' height='" << p.bpr_no_lq_by_size[size_t(b)] * hgt
      << "' fill='#ff7f0e'><title>BPR without low-quality " << p.bpr_no_lq_by_size[size_t(b)] << "</title></rect>"
      << "<text x='" << x + 52 << "' y='270' text-anchor='middle' font-size='12'>" << names[b] << "</text>"
      << "<text x='" << x + 25 << "' y='" << base - p.bpr_by_size[size_t(b)] * hgt - 4
      << "' text-anchor='middle' font-size='10'>" << p.bpr_by_size[size_t(b)] << "</text>";
  }
  s << "<text x='60' y='292' font-size='11' fill='#1f77b4'>as configured</text><text x='200' y='292' font-size='11' "
       "fill='#ff7f0e'>without the low-quality rule</text></svg>\n";
  out.emplace_back("bpr_by_size.svg", s.str());
  return out;
}

}  // namespace rcnn::api
