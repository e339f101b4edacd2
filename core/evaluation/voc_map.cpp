#include "evaluation/voc_map.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

namespace rcnn::evaluation {
namespace {

double iou(const EvalBox& a, const EvalBox& b) {
  const double iw = std::max(0.0, double(std::min(a.x2, b.x2)) - std::max(a.x1, b.x1));
  const double ih = std::max(0.0, double(std::min(a.y2, b.y2)) - std::max(a.y1, b.y1));
  const double in = iw * ih;
  const double u = double(a.x2 - a.x1) * (a.y2 - a.y1) + double(b.x2 - b.x1) * (b.y2 - b.y1) - in;
  return u > 0 ? in / u : 0.0;
}

struct Det {
  int image, index;
  float score;
};

// Greedy VOC matching of one class at one IoU threshold. tp/fp per detection
// in descending-score order; difficult matches are flagged as ignored.
void match_class(const std::vector<std::vector<EvalBox>>& dets, const std::vector<std::vector<EvalBox>>& gts, int c,
                 double thr, const std::vector<Det>& order, std::vector<int>& tp, std::vector<int>& fp,
                 std::vector<std::vector<char>>* gt_hit) {
  std::vector<std::vector<char>> used(gts.size());
  for (size_t i = 0; i < gts.size(); ++i) used[i].assign(gts[i].size(), 0);
  tp.assign(order.size(), 0);
  fp.assign(order.size(), 0);
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& d = dets[order[k].image][order[k].index];
    double best = -1;
    int bj = -1;
    const auto& g = gts[order[k].image];
    for (size_t j = 0; j < g.size(); ++j) {
      if (g[j].label != c) continue;
      const double o = iou(d, g[j]);
      if (o > best) best = o, bj = int(j);
    }
    if (best >= thr) {
      if (g[bj].difficult) continue;  // neither TP nor FP (VOC devkit)
      if (!used[order[k].image][bj]) {
        tp[k] = 1;
        used[order[k].image][bj] = 1;
      } else {
        fp[k] = 1;  // duplicate
      }
    } else {
      fp[k] = 1;
    }
  }
  if (gt_hit) *gt_hit = used;
}

void pr_curve(const std::vector<int>& tp, const std::vector<int>& fp, int npos, std::vector<float>& rec,
              std::vector<float>& prec) {
  rec.clear();
  prec.clear();
  double ctp = 0, cfp = 0;
  for (size_t k = 0; k < tp.size(); ++k) {
    if (!tp[k] && !fp[k]) continue;  // ignored (difficult)
    ctp += tp[k];
    cfp += fp[k];
    rec.push_back(npos > 0 ? float(ctp / npos) : 0.f);
    prec.push_back(float(ctp / std::max(ctp + cfp, 1e-12)));
  }
}

double coco_ap101(const std::vector<float>& rec, const std::vector<float>& prec) {
  if (rec.empty()) return 0;
  std::vector<float> p = prec;
  for (size_t i = p.size(); i-- > 1;) p[i - 1] = std::max(p[i - 1], p[i]);
  double s = 0;
  for (int t = 0; t <= 100; ++t) {
    const float r = t / 100.0f;
    auto it = std::lower_bound(rec.begin(), rec.end(), r - 1e-7f);
    if (it != rec.end()) s += p[size_t(it - rec.begin())];
  }
  return s / 101.0;
}

}  // namespace

double voc_ap(const std::vector<float>& recall, const std::vector<float>& precision) {
  std::vector<double> mrec{0.0}, mpre{0.0};
  for (size_t i = 0; i < recall.size(); ++i) {
    mrec.push_back(recall[i]);
    mpre.push_back(precision[i]);
  }
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
  double ap = 0;
  for (size_t i = 1; i < mrec.size(); ++i)
    if (mrec[i] != mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

EvalResult evaluate_detections(const std::vector<std::vector<EvalBox>>& dets,
                               const std::vector<std::vector<EvalBox>>& gts, const std::vector<std::string>& names,
                               double confusion_score) {
  if (dets.size() != gts.size())
    throw std::invalid_argument("evaluate_detections: detections and GT differ in image count");
  const int C = int(names.size());
  EvalResult r;
  r.num_images = int(gts.size());
  int counted = 0;
  for (int c = 0; c < C; ++c) {
    ClassResult cr;
    cr.name = names[size_t(c)];
    for (const auto& g : gts)
      for (const auto& b : g)
        if (b.label == c && !b.difficult) cr.num_gt++;
    std::vector<Det> order;
    for (size_t i = 0; i < dets.size(); ++i)
      for (size_t j = 0; j < dets[i].size(); ++j)
        if (dets[i][j].label == c) order.push_back({int(i), int(j), dets[i][j].score});
    std::stable_sort(order.begin(), order.end(), [](const Det& a, const Det& b) { return a.score > b.score; });
    std::vector<int> tp, fp;
    std::vector<std::vector<char>> hit;
    double sum = 0;
    for (int t = 0; t < 10; ++t) {
      const double thr = 0.5 + 0.05 * t;
      match_class(dets, gts, c, thr, order, tp, fp, t == 0 ? &hit : nullptr);
      std::vector<float> rec, prec;
      pr_curve(tp, fp, cr.num_gt, rec, prec);
      if (t == 0) {
        cr.ap50 = cr.num_gt > 0 ? voc_ap(rec, prec) : 0;
        cr.precision = prec;
        cr.recall = rec;
        for (size_t k = 0; k < order.size(); ++k)
          if (fp[k]) cr.false_positives.emplace_back(order[k].image, order[k].index);
        for (size_t i = 0; i < gts.size(); ++i)
          for (size_t j = 0; j < gts[i].size(); ++j)
            if (gts[i][j].label == c && !gts[i][j].difficult && !hit[i][j]) cr.misses.emplace_back(int(i), int(j));
      }
      sum += cr.num_gt > 0 ? coco_ap101(rec, prec) : 0;
    }
    cr.ap_coco = sum / 10;
    if (cr.num_gt > 0) {
      r.map50 += cr.ap50;
      r.map_coco += cr.ap_coco;
      counted++;
    }
    r.classes.push_back(std::move(cr));
  }
  if (counted) {
    r.map50 /= counted;
    r.map_coco /= counted;
  }
  // Confusion: each GT takes the best-overlapping confident detection
  // (IoU >= 0.5); unmatched confident detections are background rows.
  r.confusion.assign(size_t(C + 1), std::vector<int>(size_t(C + 1), 0));
  for (size_t i = 0; i < gts.size(); ++i) {
    std::vector<char> used(dets[i].size(), 0);
    for (const auto& g : gts[i]) {
      if (g.difficult || g.label < 0 || g.label >= C) continue;
      double best = 0.5;
      int bj = -1;
      for (size_t j = 0; j < dets[i].size(); ++j) {
        if (used[j] || dets[i][j].score < confusion_score) continue;
        const double o = iou(g, dets[i][j]);
        if (o >= best) best = o, bj = int(j);
      }
      if (bj >= 0) {
        used[size_t(bj)] = 1;
        r.confusion[size_t(g.label)][size_t(dets[i][size_t(bj)].label)]++;
      } else {
        r.confusion[size_t(g.label)][size_t(C)]++;
      }
    }
    for (size_t j = 0; j < dets[i].size(); ++j)
      if (!used[j] && dets[i][j].score >= confusion_score && dets[i][j].label >= 0 && dets[i][j].label < C)
        r.confusion[size_t(C)][size_t(dets[i][j].label)]++;
  }
  return r;
}

std::string eval_to_json(const EvalResult& r) {
  nlohmann::ordered_json j;
  j["map50"] = r.map50;
  j["map_coco"] = r.map_coco;
  j["num_images"] = r.num_images;
  auto& cls = j["classes"] = nlohmann::ordered_json::array();
  for (const auto& c : r.classes)
    cls.push_back({{"name", c.name},
                   {"num_gt", c.num_gt},
                   {"ap50", c.ap50},
                   {"ap_coco", c.ap_coco},
                   {"false_positives", c.false_positives.size()},
                   {"misses", c.misses.size()}});
  j["confusion"] = r.confusion;
  return j.dump();
}

}  // namespace rcnn::evaluation
