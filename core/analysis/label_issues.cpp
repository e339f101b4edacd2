// The label doctor's finder (api/label_issues.h): plain C++ over one
// model's predictions and the annotations.
//
// Scores (s = a prediction's score, all in [0, 1]):
//   missing    s of the unmatched confident prediction (the most confident of
//              overlapping ones: a lower one of another class on the same spot
//              is no second box to add);
//   swapped    s_other * (1 - s_own) / (1 + q / swap_pair_prior), s_own the
//              best score of the GT's own class among predictions covering it
//              (only where s_other > s_own), q the share of the label's GTs in
//              the set for which the model proposes the same swap: a swap it
//              proposes often is likelier its own confusion (shirt / t-shirt);
//   badloc     s * (1 - IoU / badloc_max_iou): the further off, the likelier;
//   spurious   (1 - e) * r, e the best score of any prediction at least
//              spurious_near_iou close, r the class's recall (the share of
//              its GTs in the whole set that a confident same-class box finds);
//   duplicate  the pair's IoU (same class) or half of it (different classes).
#include "api/label_issues.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rcnn::api {

const char* label_issue_kind_name(LabelIssueKind k) {
  switch (k) {
    case LabelIssueKind::Missing:
      return "missing";
    case LabelIssueKind::Swapped:
      return "swapped";
    case LabelIssueKind::BadLoc:
      return "badloc";
    case LabelIssueKind::Spurious:
      return "spurious";
    case LabelIssueKind::Duplicate:
      return "duplicate";
  }
  return "?";
}

std::optional<LabelIssueKind> parse_label_issue_kind(const std::string& s) {
  for (int k = 0; k < kNumLabelIssueKinds; ++k)
    if (s == label_issue_kind_name(LabelIssueKind(k))) return LabelIssueKind(k);
  return std::nullopt;
}

namespace {

// A GT that takes part in the checks (difficult GTs and crowd regions only absorb predictions).
bool reportable(const GtObject& g) {
  return !g.difficult && !g.crowd;
}

int file_index(const GtObject& g, size_t position) {
  return g.source_index >= 0 ? g.source_index : int(position);
}

std::string name_of(const std::vector<std::string>& names, int label) {
  return label >= 0 && size_t(label) < names.size() ? names[size_t(label)] : "class " + std::to_string(label);
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

// Per-image context: the IoU of every prediction (rows) with every GT (columns).
struct ImageFacts {
  const LabeledImage& im;
  std::vector<int> preds;  // predictions at or above min_score
  std::vector<float> iou;  // preds.size() x gt.size()
  float at(size_t p, size_t g) const { return iou[p * im.gt.size() + g]; }
};

ImageFacts facts_of(const LabeledImage& im, float min_score) {
  ImageFacts f{im, {}, {}};
  for (size_t p = 0; p < im.predictions.size(); ++p)
    if (im.predictions[p].score >= min_score) f.preds.push_back(int(p));
  f.iou.resize(f.preds.size() * im.gt.size());
  for (size_t p = 0; p < f.preds.size(); ++p)
    for (size_t g = 0; g < im.gt.size(); ++g)
      f.iou[p * im.gt.size() + g] = box_iou(im.predictions[size_t(f.preds[p])].box_original, im.gt[g].box);
  return f;
}

const Detection& pred(const ImageFacts& f, size_t p) {
  return f.im.predictions[size_t(f.preds[p])];
}

class Finder {
 public:
  Finder(const std::vector<std::string>& names, const LabelIssueOptions& o) : names_(names), o_(o) {}

  void missing(int image, const ImageFacts& f, std::vector<LabelIssue>& out) const {
    std::vector<size_t> cand;
    for (size_t p = 0; p < f.preds.size(); ++p) {
      if (pred(f, p).score < o_.confident) continue;
      float best = 0;
      for (size_t g = 0; g < f.im.gt.size(); ++g) best = std::max(best, f.at(p, g));
      if (best < o_.missing_max_iou) cand.push_back(p);
    }
    std::stable_sort(cand.begin(), cand.end(), [&](size_t a, size_t b) { return pred(f, a).score > pred(f, b).score; });
    std::vector<size_t> kept;
    for (size_t p : cand) {
      bool same_spot = false;
      for (size_t q : kept) same_spot = same_spot || box_iou(pred(f, p).box_original, pred(f, q).box_original) >= 0.5f;
      if (same_spot) continue;
      kept.push_back(p);
      const Detection& d = pred(f, p);
      LabelIssue is;
      is.image = image;
      is.kind = LabelIssueKind::Missing;
      is.score = d.score;
      is.label = is.suggested_label = d.label;
      is.suggested_box = d.box_original;
      is.prediction = f.preds[p];
      is.why = "a " + name_of(names_, d.label) +
               fmt(" box scored %.2f overlaps no GT (IoU < %.2f with every one)", d.score, o_.missing_max_iou);
      out.push_back(std::move(is));
    }
  }

  // swapped and badloc: one GT against the confident predictions covering it. Returns whether it found one.
  bool per_gt(int image, const ImageFacts& f, size_t g, std::vector<LabelIssue>& out) const {
    const GtObject& gt = f.im.gt[g];
    float own = 0;  // best own-class score covering it
    int other = -1, own_best = -1;
    for (size_t p = 0; p < f.preds.size(); ++p) {
      const Detection& d = pred(f, p);
      if (d.label == gt.label) {
        if (f.at(p, g) >= o_.swap_iou) own = std::max(own, d.score);
        if (d.score >= o_.confident && (own_best < 0 || f.at(p, g) > f.at(size_t(own_best), g))) own_best = int(p);
      } else if (d.score >= o_.confident && f.at(p, g) >= o_.swap_iou &&
                 (other < 0 || d.score > pred(f, size_t(other)).score)) {
        other = int(p);
      }
    }
    LabelIssue is;
    is.image = image;
    is.gt_index = file_index(gt, g);
    is.label = gt.label;
    is.box = gt.box;
    if (other >= 0 && pred(f, size_t(other)).score > own) {  // the other class is the surer one here
      const Detection& d = pred(f, size_t(other));
      is.kind = LabelIssueKind::Swapped;
      is.score = d.score * (1 - own);
      is.suggested_label = d.label;
      is.prediction = f.preds[size_t(other)];
      is.iou = f.at(size_t(other), g);
      is.why = "labelled " + name_of(names_, gt.label) + ", but a " + name_of(names_, d.label) +
               fmt(" box scored %.2f covers it (IoU %.2f); its own class scores %.2f here", d.score, is.iou, own);
      out.push_back(is);
      return true;
    }
    if (own_best < 0) return false;
    const size_t p = size_t(own_best);
    const float iou = f.at(p, g);
    if (iou < o_.badloc_min_iou || iou >= o_.badloc_max_iou) return false;
    for (size_t h = 0; h < f.im.gt.size(); ++h)
      if (h != g && f.at(p, h) >= iou) return false;  // the box belongs to another GT at least as much
    const Detection& d = pred(f, p);
    is.kind = LabelIssueKind::BadLoc;
    is.score = d.score * (1 - iou / o_.badloc_max_iou);
    is.suggested_box = d.box_original;
    is.prediction = f.preds[p];
    is.iou = iou;
    is.why = "the model's " + name_of(names_, d.label) +
             fmt(" box scored %.2f overlaps it only partly (IoU %.2f < %.2f)", d.score, iou, o_.badloc_max_iou);
    out.push_back(is);
    return true;
  }

  void spurious(int image, const ImageFacts& f, size_t g, const std::vector<float>& recall,
                std::vector<LabelIssue>& out) const {
    const GtObject& gt = f.im.gt[g];
    float near = 0;
    for (size_t p = 0; p < f.preds.size(); ++p)
      if (f.at(p, g) >= o_.spurious_near_iou) near = std::max(near, pred(f, p).score);
    if (near >= o_.confident) return;
    const float r = gt.label >= 0 && size_t(gt.label) < recall.size() ? recall[size_t(gt.label)] : 0.f;
    LabelIssue is;
    is.image = image;
    is.kind = LabelIssueKind::Spurious;
    is.score = (1 - near) * r;
    if (is.score <= 0) return;
    is.gt_index = file_index(gt, g);
    is.label = gt.label;
    is.box = gt.box;
    is.why =
        fmt("no prediction of any class is near it (best score %.2f at IoU >= %.2f), though the model finds "
            "%.0f %% of this class's GTs elsewhere",
            near, o_.spurious_near_iou, 100.0 * r);
    out.push_back(std::move(is));
  }

  void duplicates(int image, const ImageFacts& f, std::vector<LabelIssue>& out) const {
    const auto& gts = f.im.gt;
    auto support = [&](size_t g) {  // the best same-class evidence
      float s = 0;
      for (size_t p = 0; p < f.preds.size(); ++p)
        if (pred(f, p).label == gts[g].label) s = std::max(s, pred(f, p).score * f.at(p, g));
      return s;
    };
    std::vector<char> removed(gts.size(), 0);
    for (size_t a = 0; a < gts.size(); ++a)
      for (size_t b = a + 1; b < gts.size(); ++b) {
        if (!reportable(gts[a]) || !reportable(gts[b]) || removed[a] || removed[b]) continue;
        const float iou = box_iou(gts[a].box, gts[b].box);
        if (iou < o_.duplicate_iou) continue;
        const size_t drop = support(b) <= support(a) ? b : a, keep = drop == b ? a : b;
        removed[drop] = 1;
        LabelIssue is;
        is.image = image;
        is.kind = LabelIssueKind::Duplicate;
        is.score = gts[a].label == gts[b].label ? iou : iou / 2;
        is.gt_index = file_index(gts[drop], drop);
        is.other_gt = file_index(gts[keep], keep);
        is.label = gts[drop].label;
        is.box = gts[drop].box;
        is.iou = iou;
        is.why = "it and GT #" + std::to_string(is.other_gt) + " (" + name_of(names_, gts[keep].label) +
                 fmt(") cover one object (IoU %.2f); the predictions support the other more", iou);
        out.push_back(std::move(is));
      }
  }

 private:
  const std::vector<std::string>& names_;
  const LabelIssueOptions& o_;
};

// Per class: the share of its (reportable) GTs that a confident same-class prediction finds.
std::vector<float> class_recall(const std::vector<ImageFacts>& facts, size_t num_classes, const LabelIssueOptions& o) {
  std::vector<double> found(num_classes, 0), total(num_classes, 0);
  for (const auto& f : facts)
    for (size_t g = 0; g < f.im.gt.size(); ++g) {
      const auto& gt = f.im.gt[g];
      if (!reportable(gt) || gt.label < 0 || size_t(gt.label) >= num_classes) continue;
      total[size_t(gt.label)] += 1;
      for (size_t p = 0; p < f.preds.size(); ++p)
        if (pred(f, p).label == gt.label && pred(f, p).score >= o.confident && f.at(p, g) >= o.class_recall_iou) {
          found[size_t(gt.label)] += 1;
          break;
        }
    }
  std::vector<float> r(num_classes, 0);
  for (size_t c = 0; c < num_classes; ++c) r[c] = total[c] > 0 ? float(found[c] / total[c]) : 0.f;
  return r;
}

// swapped: score / (1 + q / prior), q = (swaps labelled a -> b proposed) / (a's reportable GTs).
void discount_common_swaps(std::vector<LabelIssue>& issues, const std::vector<LabeledImage>& images, size_t classes,
                           float prior) {
  if (prior <= 0 || classes == 0) return;
  std::vector<double> gts(classes, 0), pairs(classes * classes, 0);
  for (const auto& im : images)
    for (const auto& g : im.gt)
      if (reportable(g) && g.label >= 0 && size_t(g.label) < classes) gts[size_t(g.label)] += 1;
  auto in_range = [&](const LabelIssue& is) {
    return is.kind == LabelIssueKind::Swapped && is.label >= 0 && size_t(is.label) < classes &&
           is.suggested_label >= 0 && size_t(is.suggested_label) < classes;
  };
  for (const auto& is : issues)
    if (in_range(is)) pairs[size_t(is.label) * classes + size_t(is.suggested_label)] += 1;
  for (auto& is : issues) {
    if (!in_range(is)) continue;
    const double q = pairs[size_t(is.label) * classes + size_t(is.suggested_label)] / gts[size_t(is.label)];
    is.score = float(is.score / (1 + q / prior));
    is.why += fmt("; the model proposes this swap on %.1f %% of the label's GTs", 100 * q);
  }
}

}  // namespace

LabelIssueReport find_label_issues(const std::vector<LabeledImage>& images, const std::vector<std::string>& class_names,
                                   const LabelIssueOptions& opt) {
  std::vector<ImageFacts> facts;
  facts.reserve(images.size());
  for (const auto& im : images) facts.push_back(facts_of(im, opt.min_score));
  LabelIssueReport rep;
  rep.class_recall = class_recall(facts, class_names.size(), opt);
  const Finder finder(class_names, opt);
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageFacts& f = facts[i];
    finder.missing(int(i), f, rep.issues);
    for (size_t g = 0; g < f.im.gt.size(); ++g) {
      if (!reportable(f.im.gt[g])) continue;
      if (!finder.per_gt(int(i), f, g, rep.issues)) finder.spurious(int(i), f, g, rep.class_recall, rep.issues);
    }
    finder.duplicates(int(i), f, rep.issues);
  }
  discount_common_swaps(rep.issues, images, class_names.size(), opt.swap_pair_prior);
  std::stable_sort(rep.issues.begin(), rep.issues.end(), [](const LabelIssue& a, const LabelIssue& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.image != b.image) return a.image < b.image;
    return a.gt_index < b.gt_index;
  });
  rep.image_scores = label_image_scores(rep.issues, images.size());
  return rep;
}

std::vector<float> label_image_scores(const std::vector<LabelIssue>& issues, size_t num_images) {
  std::vector<double> clean(num_images, 1.0);
  for (const auto& is : issues) clean.at(size_t(is.image)) *= 1.0 - double(is.score);
  std::vector<float> out(num_images);
  for (size_t i = 0; i < num_images; ++i) out[i] = float(1.0 - clean[i]);
  return out;
}

}  // namespace rcnn::api
