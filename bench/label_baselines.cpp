#include "label_baselines.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace rcnn::bench {

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
}

FiftyOneScores fiftyone_mistakenness(const std::vector<api::LabeledImage>& images) {
  constexpr float kMissedConfidence = 0.95f, kIou = 0.5f;
  FiftyOneScores out;
  for (const auto& im : images) {
    const size_t G = im.gt.size(), P = im.predictions.size();
    std::vector<size_t> gorder(G), porder(P);
    std::iota(gorder.begin(), gorder.end(), 0);
    std::iota(porder.begin(), porder.end(), 0);
    std::stable_sort(gorder.begin(), gorder.end(),
                     [&](size_t a, size_t b) { return !im.gt[a].crowd && im.gt[b].crowd; });
    std::stable_sort(porder.begin(), porder.end(),
                     [&](size_t a, size_t b) { return im.predictions[a].score > im.predictions[b].score; });
    std::vector<int> gt_match(G, -1);
    std::vector<float> gt_iou(G, 0);
    std::vector<int> pred_match(P, -1);
    for (size_t p : porder) {
      const auto& d = im.predictions[p];
      int best = -1;
      float best_iou = kIou;
      for (size_t g : gorder) {
        const auto& gt = im.gt[g];
        if (gt_match[g] >= 0 && !gt.crowd) continue;
        if (gt.crowd && gt.label != d.label) continue;
        if (best >= 0 && !im.gt[size_t(best)].crowd && gt.crowd) break;
        float iou = api::box_iou(d.box_original, gt.box);
        if (gt.crowd) {  // a crowd region's "union" is the prediction's area
          const float iw =
              std::max(0.f, std::min(d.box_original.x2, gt.box.x2) - std::max(d.box_original.x1, gt.box.x1));
          const float ih =
              std::max(0.f, std::min(d.box_original.y2, gt.box.y2) - std::max(d.box_original.y1, gt.box.y1));
          const float a = d.box_original.width() * d.box_original.height();
          iou = a > 0 ? std::min(1.f, iw * ih / a) : 0.f;
        }
        if (iou < best_iou) continue;
        best = int(g);
        best_iou = iou;
      }
      if (best < 0) continue;
      pred_match[p] = best;
      if (gt_match[size_t(best)] < 0) gt_match[size_t(best)] = int(p), gt_iou[size_t(best)] = best_iou;
    }
    std::vector<float> mis(G, kNaN), loc(G, kNaN);
    std::vector<char> spurious(G, 0), missing(P, 0);
    float image = -1;
    int flags = 0;
    for (size_t g = 0; g < G; ++g) {
      if (gt_match[g] < 0) {
        spurious[g] = 1, ++flags;
        continue;
      }
      const auto& d = im.predictions[size_t(gt_match[g])];
      const float c = d.score, s = d.label != im.gt[g].label ? 1.f : -1.f;
      mis[g] = (s * c + 1) / 2;
      const float i = (1 - gt_iou[g]) / (1 - kIou);
      loc[g] = (c * (2 * i - 1) + 1) / 2;
      image = std::max(image, mis[g]);
    }
    for (size_t p = 0; p < P; ++p)
      if (pred_match[p] < 0 && im.predictions[p].score > kMissedConfidence) missing[p] = 1, ++flags;
    out.mistakenness.push_back(std::move(mis));
    out.mistakenness_loc.push_back(std::move(loc));
    out.possible_spurious.push_back(std::move(spurious));
    out.possible_missing.push_back(std::move(missing));
    out.image_mistakenness.push_back(image);
    out.image_flags.push_back(flags);
  }
  return out;
}

namespace {

// ObjectLab's IoU (strict: touching boxes give 0) and similarity, in double as numpy computes them.
double ol_iou(const api::Box& a, const api::Box& b) {
  const double xl = std::max(a.x1, b.x1), yt = std::max(a.y1, b.y1), xr = std::min(a.x2, b.x2),
               yb = std::min(a.y2, b.y2);
  if (xr < xl || yb < yt) return 0;
  const double in = (xr - xl) * (yb - yt);
  const double aa = double(a.x2 - a.x1) * double(a.y2 - a.y1), ab = double(b.x2 - b.x1) * double(b.y2 - b.y1);
  return in / std::max(aa + ab - in, 1e-6);
}
double ol_sim(const api::Box& a, const api::Box& b, double iou) {
  const double dx = (a.x1 + a.x2) / 2.0 - (b.x1 + b.x2) / 2.0, dy = (a.y1 + a.y2) / 2.0 - (b.y1 + b.y2) / 2.0;
  // rank.py: dist = 1 - exp(-0.1 d), then 1 - dist: an exp below 2^-53 rounds away (the pair's similarity
  // becomes 0, which min_sim skips), as it does there.
  const volatile double dist = 1 - std::exp(-0.1 * std::sqrt(dx * dx + dy * dy));
  return 0.9 * iou + 0.1 * (1 - dist);
}

// Softmin pooling at temperature 0.1 over the non-NaN scores; 1 for none.
double softmin(const std::vector<float>& s) {
  std::vector<double> v;
  for (float x : s)
    if (!std::isnan(x)) v.push_back(x);
  if (v.empty()) return 1.0;
  double mx = -1e300;
  for (double x : v) mx = std::max(mx, -x / 0.1);
  double z = 0, acc = 0;
  for (double x : v) {
    const double w = std::exp(-x / 0.1 - mx);
    z += w;
    acc += w * x;
  }
  return acc / z;
}

}  // namespace

ObjectLabScores objectlab_scores(const std::vector<api::LabeledImage>& images) {
  ObjectLabScores out;
  for (const auto& im : images)  // the dataset-wide smallest similarity of a label and a prediction
    for (const auto& g : im.gt)
      for (const auto& d : im.predictions) {
        const double s = ol_sim(g.box, d.box_original, ol_iou(g.box, d.box_original));
        if (s > 0) out.min_sim = std::min(out.min_sim, s);
      }
  const double ms = out.min_sim;
  for (const auto& im : images) {
    const size_t G = im.gt.size(), P = im.predictions.size();
    std::vector<double> iou(G * P);
    std::vector<double> S(G * P);
    for (size_t g = 0; g < G; ++g)
      for (size_t p = 0; p < P; ++p) {
        iou[g * P + p] = ol_iou(im.gt[g].box, im.predictions[p].box_original);
        S[g * P + p] = ol_sim(im.gt[g].box, im.predictions[p].box_original, iou[g * P + p]);
      }
    std::vector<float> over(P, kNaN), bad(G, 1.f), swp(G, 1.f);
    for (size_t p = 0; p < P; ++p) {
      const auto& d = im.predictions[p];
      bool overlaps = false, has_class = false;
      double best = 0;
      for (size_t g = 0; g < G; ++g) {
        overlaps = overlaps || iou[g * P + p] > 0;
        if (im.gt[g].label == d.label) has_class = true, best = std::max(best, S[g * P + p]);
      }
      if (d.score < 0.95f || overlaps) continue;
      over[p] = float(has_class ? best : ms * (1 - d.score));
    }
    for (size_t g = 0; g < G; ++g) {
      const int k = im.gt[g].label;
      double best_same = -1, best_other = -1;
      bool overlap_label = false;
      for (size_t h = 0; h < G; ++h)
        overlap_label = overlap_label || (h != g && im.gt[h].label != k && ol_iou(im.gt[g].box, im.gt[h].box) >= 0.95);
      for (size_t p = 0; p < P; ++p) {
        const auto& d = im.predictions[p];
        if (d.label == k && d.score > 0.5f && iou[g * P + p] > 0) best_same = std::max(best_same, S[g * P + p]);
        if (d.label != k && d.score > 0.95f) best_other = std::max(best_other, S[g * P + p]);
      }
      if (best_same >= 0) bad[g] = float(best_same);
      swp[g] = overlap_label ? float(ms) : best_other >= 0 ? float(std::max(ms, 1 - best_other)) : 1.f;
    }
    const double O = softmin(over), B = softmin(bad), W = softmin(swp);
    out.image_score.push_back(
        float(std::exp((std::log(1e-100 + O) + std::log(1e-100 + B) + std::log(1e-100 + W)) / 3)));
    out.overlooked.push_back(std::move(over));
    out.badloc.push_back(std::move(bad));
    out.swap.push_back(std::move(swp));
  }
  return out;
}

}  // namespace rcnn::bench
