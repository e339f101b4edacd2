#include "evaluation/coco_eval.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <sstream>

namespace rcnn::evaluation {
namespace {

constexpr int kT = 10;   // IoU thresholds 0.50:0.05:0.95
constexpr int kR = 101;  // recall thresholds 0:0.01:1
constexpr int kA = 4;    // all, small, medium, large
constexpr int kM = 3;    // maxDets 1, 10, 100
constexpr int kMaxDets[kM] = {1, 10, 100};
constexpr double kAreas[kA][2] = {{0, 1e10}, {0, 32.0 * 32}, {32.0 * 32, 96.0 * 96}, {96.0 * 96, 1e10}};

// The thresholds exactly as numpy's linspace computes them (start + i * step, last = stop).
double iou_thr(int t) {
  return t == kT - 1 ? 0.95 : t * ((0.95 - 0.5) / 9) + 0.5;
}
double recall_thr(int r) {
  return r == kR - 1 ? 1.0 : r * (1.0 / 100) + 0.0;
}
double area(const EvalBox& b) {
  return double(b.x2 - b.x1) * double(b.y2 - b.y1);
}
// The area a GT's range test uses: its annotation's area, as pycocotools, else its box's.
double range_area(const EvalBox& g) {
  return g.area >= 0 ? double(g.area) : area(g);
}
// pycocotools' bbox IoU; for a crowd GT the union is the detection's area.
double iou(const EvalBox& d, const EvalBox& g) {
  const double iw = std::min(d.x2, g.x2) - std::max(d.x1, g.x1);
  const double ih = std::min(d.y2, g.y2) - std::max(d.y1, g.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const double in = iw * ih;
  const double u = g.difficult ? area(d) : area(d) + area(g) - in;
  return u > 0 ? in / u : 0;
}

// One (image, category, area range) evaluation: per detection (in score
// order, first maxDets[last]) and threshold, matched or not, and ignored or not.
struct ImageEval {
  std::vector<float> scores;
  std::vector<std::array<char, kT>> matched, ignored;
  int num_gt = 0;  // GTs that count (not ignored)
};

ImageEval evaluate_img(const std::vector<const EvalBox*>& dts_all, const std::vector<const EvalBox*>& gts_all, int a) {
  ImageEval e;
  // GTs: not-ignored first (stable), as pycocotools sorts by gtIgnore.
  std::vector<const EvalBox*> gts = gts_all;
  std::vector<char> ig;
  auto is_ignored = [&](const EvalBox* g) {
    const double ar = range_area(*g);
    return g->difficult || ar < kAreas[a][0] || ar > kAreas[a][1];
  };
  std::stable_sort(gts.begin(), gts.end(), [&](const EvalBox* x, const EvalBox* y) { return !is_ignored(x) && is_ignored(y); });
  for (auto* g : gts) ig.push_back(is_ignored(g)), e.num_gt += !ig.back();
  std::vector<const EvalBox*> dts = dts_all;
  std::stable_sort(dts.begin(), dts.end(), [](const EvalBox* x, const EvalBox* y) { return x->score > y->score; });
  if (dts.size() > size_t(kMaxDets[kM - 1])) dts.resize(size_t(kMaxDets[kM - 1]));
  const size_t D = dts.size(), G = gts.size();
  e.scores.resize(D);
  e.matched.assign(D, {});
  e.ignored.assign(D, {});
  std::vector<std::array<char, kT>> gt_taken(G, std::array<char, kT>{});
  for (size_t d = 0; d < D; ++d) {
    e.scores[d] = dts[d]->score;
    for (int t = 0; t < kT; ++t) {
      double best = std::min(iou_thr(t), 1 - 1e-10);
      int m = -1;
      for (size_t g = 0; g < G; ++g) {
        if (gt_taken[g][t] && !gts[g]->difficult) continue;  // a crowd region can take several
        if (m > -1 && !ig[size_t(m)] && ig[g]) break;        // a real match beats any ignored GT
        const double v = iou(*dts[d], *gts[g]);
        if (v < best) continue;
        best = v;
        m = int(g);
      }
      if (m == -1) continue;
      e.matched[d][t] = 1;
      e.ignored[d][t] = ig[size_t(m)];
      gt_taken[size_t(m)][t] = 1;
    }
    // An unmatched detection outside the area range is ignored.
    const double ar = area(*dts[d]);
    const bool outside = ar < kAreas[a][0] || ar > kAreas[a][1];
    for (int t = 0; t < kT; ++t)
      if (!e.matched[d][t] && outside) e.ignored[d][t] = 1;
  }
  return e;
}

}  // namespace

CocoSummary coco_evaluate(const std::vector<std::vector<EvalBox>>& detections,
                          const std::vector<std::vector<EvalBox>>& ground_truth, int num_classes) {
  const size_t N = std::min(detections.size(), ground_truth.size());
  // precision[t][r][k][a][m] and recall[t][k][a][m], -1 where undefined.
  const int K = num_classes;
  std::vector<double> precision(size_t(kT) * kR * size_t(K) * kA * kM, -1.0);
  std::vector<double> recall(size_t(kT) * size_t(K) * kA * kM, -1.0);
  auto P = [&](int t, int r, int k, int a, int m) -> double& {
    return precision[(((size_t(t) * kR + size_t(r)) * size_t(K) + size_t(k)) * kA + size_t(a)) * kM + size_t(m)];
  };
  auto Rc = [&](int t, int k, int a, int m) -> double& {
    return recall[((size_t(t) * size_t(K) + size_t(k)) * kA + size_t(a)) * kM + size_t(m)];
  };
  for (int k = 0; k < K; ++k) {
    // Per image, this category's boxes.
    std::vector<std::vector<const EvalBox*>> dk(N), gk(N);
    for (size_t i = 0; i < N; ++i) {
      for (const auto& d : detections[i])
        if (d.label == k) dk[i].push_back(&d);
      for (const auto& g : ground_truth[i])
        if (g.label == k) gk[i].push_back(&g);
    }
    for (int a = 0; a < kA; ++a) {
      std::vector<ImageEval> ev;
      int npig = 0;
      for (size_t i = 0; i < N; ++i) {
        if (dk[i].empty() && gk[i].empty()) continue;
        ev.push_back(evaluate_img(dk[i], gk[i], a));
        npig += ev.back().num_gt;
      }
      if (npig == 0) continue;
      for (int m = 0; m < kM; ++m) {
        // Concatenate every image's first maxDets detections, then sort stably by score.
        struct Row {
          float score;
          const ImageEval* e;
          size_t d;
        };
        std::vector<Row> rows;
        for (const auto& e : ev)
          for (size_t d = 0; d < std::min(e.scores.size(), size_t(kMaxDets[m])); ++d)
            rows.push_back({e.scores[d], &e, d});
        std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.score > y.score; });
        for (int t = 0; t < kT; ++t) {
          std::vector<double> rc, pr;
          double tp = 0, fp = 0;
          for (const auto& row : rows) {
            if (row.e->ignored[row.d][t]) continue;
            (row.e->matched[row.d][t] ? tp : fp) += 1;
            rc.push_back(tp / npig);
            pr.push_back(tp / (tp + fp + 2.220446049250313e-16));
          }
          Rc(t, k, a, m) = rc.empty() ? 0 : rc.back();
          for (size_t i = pr.size(); i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
          for (int r = 0; r < kR; ++r) {
            const double thr = recall_thr(r);
            const size_t pi = size_t(std::lower_bound(rc.begin(), rc.end(), thr) - rc.begin());
            P(t, r, k, a, m) = pi < pr.size() ? pr[pi] : 0.0;
          }
        }
      }
    }
  }
  auto mean_ap = [&](int t_only, int a, int m) {
    double s = 0;
    int n = 0;
    for (int t = 0; t < kT; ++t) {
      if (t_only >= 0 && t != t_only) continue;
      for (int r = 0; r < kR; ++r)
        for (int k = 0; k < K; ++k)
          if (const double v = P(t, r, k, a, m); v > -1) s += v, ++n;
    }
    return n ? s / n : -1.0;
  };
  auto mean_ar = [&](int a, int m) {
    double s = 0;
    int n = 0;
    for (int t = 0; t < kT; ++t)
      for (int k = 0; k < K; ++k)
        if (const double v = Rc(t, k, a, m); v > -1) s += v, ++n;
    return n ? s / n : -1.0;
  };
  CocoSummary c;
  for (size_t i = 0; i < N; ++i)
    for (const auto& g : ground_truth[i]) (g.area >= 0 ? c.gt_area_annotation : c.gt_area_box)++;
  c.AP = mean_ap(-1, 0, 2);
  c.AP50 = mean_ap(0, 0, 2);
  c.AP75 = mean_ap(5, 0, 2);
  c.APs = mean_ap(-1, 1, 2);
  c.APm = mean_ap(-1, 2, 2);
  c.APl = mean_ap(-1, 3, 2);
  c.AR1 = mean_ar(0, 0);
  c.AR10 = mean_ar(0, 1);
  c.AR100 = mean_ar(0, 2);
  c.ARs = mean_ar(1, 2);
  c.ARm = mean_ar(2, 2);
  c.ARl = mean_ar(3, 2);
  return c;
}

std::string CocoSummary::area_rule() const {
  if (gt_area_box == 0 && gt_area_annotation > 0) return "annotation";
  if (gt_area_annotation == 0) return "box";
  return "annotation where given, else box";
}

std::string coco_to_json(const CocoSummary& s) {
  std::ostringstream os;
  os.precision(17);
  os << "{\"AP\": " << s.AP << ", \"AP50\": " << s.AP50 << ", \"AP75\": " << s.AP75 << ", \"APs\": " << s.APs
     << ", \"APm\": " << s.APm << ", \"APl\": " << s.APl << ", \"AR1\": " << s.AR1 << ", \"AR10\": " << s.AR10
     << ", \"AR100\": " << s.AR100 << ", \"ARs\": " << s.ARs << ", \"ARm\": " << s.ARm << ", \"ARl\": " << s.ARl
     << ", \"area\": \"" << s.area_rule() << "\"}";
  return os.str();
}

}  // namespace rcnn::evaluation
