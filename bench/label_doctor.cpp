// rcnn_bench --label-doctor [--checkpoint C] [--dataset D] [--out DIR] [--corrupt RATES] [--seed S]
//                            [--splits val,test] [--json F]
//
// Generates the Fashion detection set's val and test splits (`rcnn make-dataset fashion --train 0 --corrupt
// RATES --seed S`; the images are those of the full set of that seed, whose train split the bundled model
// learned from), predicts them with the checkpoint (out of sample), and ranks each kind of label error three
// ways: ours (api/label_issues.h), FiftyOne's mistakenness and ObjectLab's sub-scores (label_baselines.h).
// Per kind: the average precision of the ranking against corruptions.json (a hit names the corrupted
// object: its image and gt_index, or for missing a box at IoU >= 0.5 with the removed one; each corruption
// counts once; AP = the mean over the corruptions of the precision at the rank where each is hit, 0 if never),
// and the image-level AUROC (corrupted images against clean ones). Then the finder's time on 5000 images.
#include "label_doctor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "api/dataset.h"
#include "api/eval_job.h"
#include "api/label_issues.h"
#include "label_baselines.h"

namespace fs = std::filesystem;

namespace rcnn::bench {

namespace {

using api::LabeledImage;
using json = nlohmann::json;

struct Truth {                       // per image
  std::map<int, std::string> by_gt;  // corrupted-file index -> kind
  std::vector<api::Box> removed;     // missing: the removed boxes
  bool corrupted = false;
};

// One ranked candidate: the score (higher first; ties keep the order given), the image, and what it names.
struct Candidate {
  double score;
  int image;
  int gt = -1;   // the GT it names (GT-based kinds)
  api::Box box;  // missing: the box it proposes
};

double average_precision(std::vector<Candidate> c, const std::vector<Truth>& truth, const std::string& kind,
                         int* total_out) {
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  int total = 0;
  for (const auto& t : truth) {
    if (kind == "missing") total += int(t.removed.size());
    for (const auto& [g, k] : t.by_gt) total += k == kind;
  }
  *total_out = total;
  if (total == 0) return std::nan("");
  std::map<std::pair<int, int>, bool> taken;
  int hits = 0;
  double sum = 0;
  for (size_t r = 0; r < c.size(); ++r) {
    const auto& x = c[r];
    const Truth& t = truth[size_t(x.image)];
    bool hit = false;
    if (kind == "missing") {
      for (size_t k = 0; k < t.removed.size() && !hit; ++k)
        if (!taken[{x.image, int(k)}] && api::box_iou(x.box, t.removed[k]) >= 0.5f)
          hit = taken[{x.image, int(k)}] = true;
    } else {
      auto it = t.by_gt.find(x.gt);
      if (it != t.by_gt.end() && it->second == kind && !taken[{x.image, x.gt}]) hit = taken[{x.image, x.gt}] = true;
    }
    if (hit) sum += double(++hits) / double(r + 1);
  }
  return sum / total;
}

// AUROC of (primary, secondary) scores, compared lexicographically; ties count half.
double auroc(const std::vector<std::pair<double, double>>& s, const std::vector<Truth>& truth) {
  std::vector<size_t> idx(s.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
  double pos = 0, neg = 0, rank_sum = 0;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j < idx.size() && s[idx[j]] == s[idx[i]]) ++j;
    const double mid = (double(i) + double(j - 1)) / 2 + 1;  // average rank, 1-based
    for (size_t k = i; k < j; ++k)
      if (truth[idx[k]].corrupted)
        rank_sum += mid, ++pos;
      else
        ++neg;
    i = j;
  }
  if (pos == 0 || neg == 0) return std::nan("");
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

int gt_file_index(const api::GtObject& g, size_t k) {
  return g.source_index >= 0 ? g.source_index : int(k);
}

using Rankings = std::map<std::string, std::vector<Candidate>>;

Rankings ours(const api::LabelIssueReport& r) {
  Rankings out;
  for (const auto& is : r.issues) {
    Candidate c{is.score, is.image, is.gt_index, is.suggested_box.value_or(api::Box{})};
    out[api::label_issue_kind_name(is.kind)].push_back(c);
  }
  return out;
}

Rankings fiftyone(const FiftyOneScores& f, const std::vector<LabeledImage>& ims) {
  Rankings out;
  for (size_t i = 0; i < ims.size(); ++i) {
    const auto& im = ims[i];
    for (size_t p = 0; p < im.predictions.size(); ++p)
      if (f.possible_missing[i][p])  // the flag; flagged boxes in confidence order
        out["missing"].push_back({im.predictions[p].score, int(i), -1, im.predictions[p].box_original});
    for (size_t g = 0; g < im.gt.size(); ++g) {
      const int gi = gt_file_index(im.gt[g], g);
      if (!std::isnan(f.mistakenness[i][g])) out["swapped"].push_back({f.mistakenness[i][g], int(i), gi, {}});
      if (!std::isnan(f.mistakenness_loc[i][g])) out["badloc"].push_back({f.mistakenness_loc[i][g], int(i), gi, {}});
      if (f.possible_spurious[i][g]) {  // FiftyOne has no duplicate kind: an unmatched GT is how one shows
        out["spurious"].push_back({1.0, int(i), gi, {}});
        out["duplicate"].push_back({1.0, int(i), gi, {}});
      }
    }
  }
  return out;
}

Rankings objectlab(const ObjectLabScores& o, const std::vector<LabeledImage>& ims) {
  Rankings out;
  for (size_t i = 0; i < ims.size(); ++i) {
    const auto& im = ims[i];
    for (size_t p = 0; p < im.predictions.size(); ++p)
      if (!std::isnan(o.overlooked[i][p]))
        out["missing"].push_back({1.0 - o.overlooked[i][p], int(i), -1, im.predictions[p].box_original});
    for (size_t g = 0; g < im.gt.size(); ++g) {
      const int gi = gt_file_index(im.gt[g], g);
      out["swapped"].push_back({1.0 - o.swap[i][g], int(i), gi, {}});
      out["badloc"].push_back({1.0 - o.badloc[i][g], int(i), gi, {}});
      // ObjectLab has no spurious or duplicate kind: a label's worst sub-score stands for it.
      const double worst = 1.0 - std::min(o.swap[i][g], o.badloc[i][g]);
      out["spurious"].push_back({worst, int(i), gi, {}});
      out["duplicate"].push_back({worst, int(i), gi, {}});
    }
  }
  return out;
}

std::string arg(int argc, char** argv, const std::string& key, const std::string& dflt) {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == key) return argv[i + 1];
  return dflt;
}

}  // namespace

int label_doctor_main(int argc, char** argv) {
  const std::string checkpoint =
      arg(argc, argv, "--checkpoint", std::string(RCNN_BENCH_RESOURCES) + "/models/fashion_default.pt");
  const std::string rates =
      arg(argc, argv, "--corrupt", "missing=0.1,swap=0.1,badloc=0.1,spurious=0.05,duplicate=0.05");
  const uint64_t seed = std::stoull(arg(argc, argv, "--seed", "1"));
  std::string dataset = arg(argc, argv, "--dataset", "");
  const std::string json_out = arg(argc, argv, "--json", "");
  std::vector<std::string> splits;
  {
    std::stringstream ss(arg(argc, argv, "--splits", "val,test"));
    for (std::string s; std::getline(ss, s, ',');) splits.push_back(s);
  }
  if (dataset.empty()) {
    dataset =
        arg(argc, argv, "--out", (fs::temp_directory_path() / ("rcnn_label_doctor_" + std::to_string(seed))).string());
    fs::remove_all(dataset);
    api::FashionRequest fr;
    fr.out = dataset;
    fr.train = 0;
    fr.seed = seed;
    fr.corrupt = rates;
    const auto c = api::make_fashion_dataset(fr);
    std::printf(
        "generated %s: %d images, %d corrupted (%d missing, %d swapped, %d badloc, %d spurious, %d duplicate)\n",
        dataset.c_str(), c.images, c.corrupted_images, c.missing, c.swap, c.badloc, c.spurious, c.duplicate);
  }
  // The model's predictions on every image of the splits.
  std::vector<LabeledImage> ims;
  std::vector<std::string> names;
  for (const auto& split : splits) {
    api::EvalRequest er;
    er.checkpoint = checkpoint;
    er.dataset = dataset;
    er.split = split;
    er.score_thresh = api::LabelIssueOptions{}.min_score;
    const auto rep = api::run_evaluation(er);
    names = rep.class_names;
    for (size_t k = 0; k < rep.image_paths.size(); ++k) {
      LabeledImage li;
      li.path = rep.image_paths[k];
      li.id = fs::path(li.path).stem().string();
      li.gt = rep.gt[k];
      li.predictions = rep.detections[k];
      ims.push_back(std::move(li));
    }
    std::printf("%s: %zu images predicted in %.1f s (mAP@0.5 against the corrupted labels %.3f)\n", split.c_str(),
                rep.image_paths.size(), rep.seconds, rep.result.map50);
  }
  // The answers.
  std::vector<Truth> truth(ims.size());
  {
    std::map<std::string, size_t> by_id;
    for (size_t i = 0; i < ims.size(); ++i) by_id[ims[i].id] = i;
    std::ifstream in(fs::path(dataset) / "corruptions.json");
    if (!in) throw std::invalid_argument(dataset + "/corruptions.json: not found (generate with --corrupt)");
    const json doc = json::parse(in);
    for (const auto& r : doc.at("corruptions")) {
      auto it = by_id.find(r.at("image").get<std::string>());
      if (it == by_id.end()) continue;
      Truth& t = truth[it->second];
      t.corrupted = true;
      if (r["kind"] == "missing") {
        const auto& b = r["original_box"];
        t.removed.push_back({b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()});
      } else {
        t.by_gt[r["gt_index"].get<int>()] = r["kind"].get<std::string>();
      }
    }
  }
  api::LabelIssueOptions opt;  // the finder's thresholds, as `rcnn label-issues` takes them
  opt.confident = std::stof(arg(argc, argv, "--confident", std::to_string(opt.confident)));
  opt.missing_max_iou = std::stof(arg(argc, argv, "--missing-iou", std::to_string(opt.missing_max_iou)));
  opt.swap_iou = std::stof(arg(argc, argv, "--swap-iou", std::to_string(opt.swap_iou)));
  opt.badloc_max_iou = std::stof(arg(argc, argv, "--badloc-max-iou", std::to_string(opt.badloc_max_iou)));
  opt.spurious_near_iou = std::stof(arg(argc, argv, "--spurious-iou", std::to_string(opt.spurious_near_iou)));
  const auto rep = api::find_label_issues(ims, names, opt);
  const auto fo = fiftyone_mistakenness(ims);
  const auto ol = objectlab_scores(ims);
  const std::map<std::string, Rankings> methods{
      {"ours", ours(rep)}, {"fiftyone", fiftyone(fo, ims)}, {"objectlab", objectlab(ol, ims)}};
  const char* order[] = {"ours", "fiftyone", "objectlab"};
  json doc;
  std::printf(
      "\n| kind | corruptions | ours AP | FiftyOne mistakenness AP | ObjectLab AP |\n|---|---:|---:|---:|---:|\n");
  for (int k = 0; k < api::kNumLabelIssueKinds; ++k) {
    const std::string kind = api::label_issue_kind_name(api::LabelIssueKind(k));
    int total = 0;
    double ap[3];
    for (int m = 0; m < 3; ++m) {
      const auto& R = methods.at(order[m]);
      auto it = R.find(kind);
      ap[m] = average_precision(it == R.end() ? std::vector<Candidate>{} : it->second, truth, kind, &total);
      doc["ap"][order[m]][kind] = std::isnan(ap[m]) ? json(nullptr) : json(ap[m]);
    }
    std::printf("| %s | %d | %.3f | %.3f | %.3f |\n", kind.c_str(), total, ap[0], ap[1], ap[2]);
  }
  std::vector<std::pair<double, double>> s_ours, s_fo, s_ol;
  for (size_t i = 0; i < ims.size(); ++i) {
    s_ours.push_back({rep.image_scores[i], 0});
    s_fo.push_back({fo.image_mistakenness[i], fo.image_flags[i]});  // flags break ties (not in the source)
    s_ol.push_back({1.0 - ol.image_score[i], 0});
  }
  const double a[3] = {auroc(s_ours, truth), auroc(s_fo, truth), auroc(s_ol, truth)};
  int corrupted = 0;
  for (const auto& t : truth) corrupted += t.corrupted;
  std::printf("| image AUROC | %d of %zu images | %.3f | %.3f | %.3f |\n", corrupted, ims.size(), a[0], a[1], a[2]);
  for (int m = 0; m < 3; ++m) doc["image_auroc"][order[m]] = a[m];
  // Speed: the finder on 5000 images (these images' predictions, repeated), best of 5.
  std::vector<LabeledImage> big;
  while (big.size() < 5000) big.push_back(ims[big.size() % ims.size()]);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto rr = api::find_label_issues(big, names);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (rr.image_scores.size() != big.size()) throw std::logic_error("finder lost images");
  }
  size_t preds = 0;
  for (const auto& im : big) preds += im.predictions.size();
  std::printf("\nscoring 5000 images (%zu predictions): %.3f s (best of 5, one thread)\n", preds, best);
  doc["seconds_5000"] = best;
  doc["dataset"] = dataset;
  doc["checkpoint"] = checkpoint;
  if (!json_out.empty()) std::ofstream(json_out) << doc.dump(1) << "\n";
  return 0;
}

}  // namespace rcnn::bench
