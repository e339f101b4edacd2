#include "analysis/tide.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace rcnn::analysis::tide {

const char* error_key(Error e) {
  static const char* k[] = {"cls", "loc", "both", "dupe", "bkg", "miss"};
  return e == Error::None ? "none" : k[int(e)];
}

double coco_iou(const DetBox& d, const GtBox& g, bool crowd) {
  const double w = std::min(d.x2, g.x2) - std::max(d.x1, g.x1);
  if (w <= 0) return 0;
  const double h = std::min(d.y2, g.y2) - std::max(d.y1, g.y1);
  if (h <= 0) return 0;
  const double i = w * h, da = (d.x2 - d.x1) * (d.y2 - d.y1), ga = (g.x2 - g.x1) * (g.y2 - g.y1);
  return i / (crowd ? da : da + ga - i);
}

namespace {

// One AP data point (ap.py's (score, is_true)); `id` orders nothing, it names the detection.
struct Point {
  double score = 0;
  bool correct = false;
};

// ClassedAPDataObject: per class, its points in push order and its GT count. Classes are kept in the order
// they first appear, as Python's dict does.
struct ApData {
  std::vector<int> order;
  std::map<int, std::vector<Point>> points;
  std::map<int, long> num_gt;
  void touch(int c) {
    if (!points.count(c)) order.push_back(c), points[c], num_gt[c] = 0;
  }
  void push(int c, Point p) { touch(c), points[c].push_back(p); }
  void add_gt(int c, long n) { touch(c), num_gt[c] += n; }

  // APDataObject.get_ap: stable sort by descending score, precision smoothed from the right, 101 recall
  // points (searchsorted side 'left'), the mean in points.
  static double ap(std::vector<Point> pts, long n_gt) {
    if (n_gt == 0) return 0;
    std::stable_sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.score > b.score; });
    std::vector<double> precision, recall;
    long tp = 0, fp = 0;
    for (const auto& p : pts) {
      (p.correct ? tp : fp)++;
      precision.push_back(double(tp) / double(tp + fp));
      recall.push_back(double(tp) / double(n_gt));
    }
    for (size_t i = precision.size(); i-- > 1;)
      if (precision[i] > precision[i - 1]) precision[i - 1] = precision[i];
    double sum = 0;
    for (int x = 0; x <= 100; ++x) {
      const double r = double(x) / 100;
      const size_t idx = size_t(std::lower_bound(recall.begin(), recall.end(), r) - recall.begin());
      sum += idx < precision.size() ? precision[idx] : 0.0;
    }
    return sum / 101 * 100;
  }
  // get_mAP: the mean over classes that have a point or a GT.
  double map() const {
    double sum = 0;
    int n = 0;
    for (int c : order) {
      const auto& p = points.at(c);
      const long g = num_gt.at(c);
      if (p.empty() && g == 0) continue;
      sum += ap(p, g), ++n;
    }
    return n ? sum / n : 0;
  }
};

// An error as quantify.py records it: the data point it stands for now (`original`) and once fixed.
struct ErrorRecord {
  Error type = Error::None;
  int image = -1, det = -1, gt = -1;
  bool has_original = false;  // an ignored detection has no data point of its own
  int original_class = 0;
  Point original;
  // Fixed: a true positive of fixed_class, removed, or (Miss) one GT less.
  enum class Fix { Point, Removed, OneGtLess } fix = Fix::Removed;
  int fixed_class = 0;
  Point fixed;
};

struct GtState {
  bool used = false, usable = false;
  double best_score = -1;
  int best_error = -1;  // index into the error list
};

}  // namespace

Report evaluate(const std::vector<std::vector<GtBox>>& gts, const std::vector<std::vector<DetBox>>& detections,
                const Options& o) {
  const size_t N = gts.size();  // TIDE walks the GT's images; detections of other images are not evaluated
  static const std::vector<GtBox> kNoGt;
  static const std::vector<DetBox> kNoDet;
  Report rep;
  rep.detections.resize(N);
  rep.gts.resize(N);
  ApData base;
  std::vector<ErrorRecord> errors;
  std::vector<std::vector<GtState>> state(N);
  std::map<int, long> false_negatives;  // per class: unmatched GTs
  for (size_t i = 0; i < N; ++i) {
    const auto& G = i < gts.size() ? gts[i] : kNoGt;
    const auto& D = i < detections.size() ? detections[i] : kNoDet;
    rep.detections[i].assign(D.size(), {});
    rep.gts[i].assign(G.size(), {});
    state[i].assign(G.size(), {});
    std::vector<int> real, ignore;
    for (int g = 0; g < int(G.size()); ++g) (G[size_t(g)].ignore ? ignore : real).push_back(g);
    for (int g : real) base.add_gt(G[size_t(g)].label, 1);
    auto miss = [&](int g) {
      false_negatives[G[size_t(g)].label]++;
      if (state[i][size_t(g)].usable) return;
      ErrorRecord e;
      e.type = Error::Miss, e.image = int(i), e.gt = g, e.fix = ErrorRecord::Fix::OneGtLess;
      e.fixed_class = G[size_t(g)].label;
      errors.push_back(e);
      rep.gts[i][size_t(g)].missed = true;
    };
    if (D.empty()) {
      for (int g : real) miss(g);
      continue;
    }
    std::vector<int> order(D.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return D[size_t(a)].score > D[size_t(b)].score; });
    if (int(order.size()) > o.max_dets) order.resize(size_t(std::max(0, o.max_dets)));
    const size_t P = order.size(), R = real.size();
    // IoU with the real GTs: (P, R).
    std::vector<double> iou(P * R);
    for (size_t p = 0; p < P; ++p)
      for (size_t r = 0; r < R; ++r) iou[p * R + r] = coco_iou(D[size_t(order[p])], G[size_t(real[r])], false);
    auto same = [&](size_t p, size_t r) { return D[size_t(order[p])].label == G[size_t(real[r])].label; };
    // 1 true, 0 false, -1 ignored (Python's None).
    std::vector<int> used(P, 0), matched(P, -1);
    // Matching: the best still-free same-class GT (argmax: the first of equal values).
    std::vector<double> buffer(P * R);
    for (size_t p = 0; p < P; ++p)
      for (size_t r = 0; r < R; ++r) buffer[p * R + r] = same(p, r) ? iou[p * R + r] : 0.0;
    for (size_t p = 0; p < P && R > 0; ++p) {
      size_t best = 0;
      for (size_t r = 1; r < R; ++r)
        if (buffer[p * R + r] > buffer[p * R + best]) best = r;
      if (buffer[p * R + best] >= o.pos_thresh) {
        used[p] = 1;
        matched[p] = real[best];
        state[i][size_t(real[best])].used = true;
        for (size_t q = 0; q < P; ++q) buffer[q * R + best] = 0;
      }
    }
    for (int g : ignore)
      for (size_t p = 0; p < P; ++p) {
        const auto& d = D[size_t(order[p])];
        if (used[p] != 1 && coco_iou(d, G[size_t(g)], true) > o.pos_thresh && G[size_t(g)].label == d.label)
          used[p] = -1;
      }
    for (size_t p = 0; p < P; ++p) {
      const int d = order[p];
      auto& v = rep.detections[i][size_t(d)];
      v.evaluated = true;
      v.true_positive = used[p] == 1;
      v.ignored = used[p] == -1;
      if (used[p] == 1) v.gt = matched[p];
      if (used[p] != -1) base.push(D[size_t(d)].label, {D[size_t(d)].score, used[p] == 1});
      if (used[p] == 1) continue;
      ErrorRecord e;
      e.image = int(i), e.det = d;
      e.has_original = used[p] != -1;
      e.original_class = D[size_t(d)].label;
      e.original = {D[size_t(d)].score, false};
      // argmax over GTs of a masked IoU row: (index, value), the first of equal values.
      auto argmax = [&](auto keep) {
        size_t best = 0;
        double bv = keep(0) ? iou[p * R] : 0.0;
        for (size_t r = 1; r < R; ++r) {
          const double v2 = keep(r) ? iou[p * R + r] : 0.0;
          if (v2 > bv) bv = v2, best = r;
        }
        return std::make_pair(best, bv);
      };
      auto aim = [&](size_t r, int fixed_class) {  // BestGTMatch
        e.gt = real[r];
        auto& s = state[i][size_t(real[r])];
        if (s.used) return;  // suppressed: the fix removes it
        s.usable = true;
        e.fix = ErrorRecord::Fix::Point, e.fixed_class = fixed_class, e.fixed = {D[size_t(d)].score, true};
        if (s.best_score < D[size_t(d)].score) s.best_score = D[size_t(d)].score, s.best_error = int(errors.size());
      };
      if (R == 0) {
        e.type = Error::Bkg;
      } else if (auto [r, v2] = argmax([&](size_t q) { return same(p, q); }); o.bg_thresh <= v2 && v2 <= o.pos_thresh) {
        e.type = Error::Loc;
        aim(r, D[size_t(d)].label);
      } else if (auto [r2, v3] = argmax([&](size_t q) { return !same(p, q); }); v3 >= o.pos_thresh) {
        e.type = Error::Cls;
        aim(r2, G[size_t(real[r2])].label);
      } else if (auto [r3, v4] = argmax([&](size_t q) { return same(p, q) && state[i][size_t(real[q])].used; });
                 v4 >= o.pos_thresh) {
        e.type = Error::Dupe;
        e.gt = real[r3];
      } else if (argmax([](size_t) { return true; }).second <= o.bg_thresh) {
        e.type = Error::Bkg;
      } else {
        e.type = Error::Both;
      }
      v.error = e.type;
      v.gt = e.gt;
      errors.push_back(e);
    }
    for (size_t r = 0; r < R; ++r) {
      const auto& s = state[i][size_t(real[r])];
      rep.gts[i][size_t(real[r])].matched = s.used;
      rep.gts[i][size_t(real[r])].usable = s.usable;
      if (!s.used) miss(real[r]);
    }
  }
  // BestGTMatch.fix: only the highest-scoring error aimed at a GT becomes a true positive.
  for (size_t k = 0; k < errors.size(); ++k) {
    auto& e = errors[k];
    if (e.fix != ErrorRecord::Fix::Point) continue;
    if (state[size_t(e.image)][size_t(e.gt)].best_error != int(k)) e.fix = ErrorRecord::Fix::Removed;
  }
  for (const auto& e : errors) rep.count[size_t(e.type)]++;

  // TIDERun.fix_errors: every error's point (fixed when `fix(e)`), then every true positive, then the GT
  // counts less the misses fixed (and less every false negative for the special FalseNeg).
  auto fixed_map = [&](auto fix, bool perfect_scores, bool no_false_negatives) {
    ApData out;
    std::map<int, long> gt_pos = base.num_gt;
    auto transform = [&](Point p) {
      if (perfect_scores) p.score = p.correct ? 1.0 : 0.0;
      return p;
    };
    for (const auto& e : errors) {
      if (fix(e)) {
        if (e.fix == ErrorRecord::Fix::OneGtLess) gt_pos[e.fixed_class] -= 1;
        else if (e.fix == ErrorRecord::Fix::Point) out.push(e.fixed_class, transform(e.fixed));
      } else if (e.has_original) {
        out.push(e.original_class, transform(e.original));
      }
    }
    for (int c : base.order)
      for (const auto& p : base.points.at(c))
        if (p.correct) out.push(c, transform(p));
    for (int c : base.order) {
      long v = gt_pos[c];
      if (no_false_negatives && false_negatives.count(c)) v -= false_negatives[c];
      out.add_gt(c, v);
    }
    return out.map();
  };
  rep.ap50 = base.map();
  for (int t = 0; t < kNumErrors; ++t) {
    const double m = fixed_map([t](const ErrorRecord& e) { return int(e.type) == t; }, false, false);
    rep.dap[size_t(t)] = std::max(m - rep.ap50, 0.0);
  }
  auto none = [](const ErrorRecord&) { return false; };
  rep.dap_fp = fixed_map(none, true, false) - rep.ap50;
  rep.dap_fn = fixed_map(none, false, true) - rep.ap50;
  return rep;
}

}  // namespace rcnn::analysis::tide
