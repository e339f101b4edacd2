// rcnn_bench --explain [--checkpoint C] [--dataset D] [--split S] [--per-image K] [--max-images N]
//                      [--masks M] [--steps T] [--seed S] [--methods a,b] [--tv-size PX] [--json F]
//
// Does a map point at the object? On the split (default: the embedded val split) with the model (default:
// the bundled one), the true positives of each image (a detection matched greedily, by score, to an
// unmatched GT of its class at IoU >= 0.5; the K best of each image) are explained by each method:
// - the pointing game (Zhang et al., 2016, without their 15-pixel tolerance): a hit when the map's
//   maximum (its first in row-major order) falls inside the matched GT's box; a constant map misses;
// - the deletion metric (api/explain.h: deletion_curve, T steps; the D-RISE similarity of the best
//   detection to the target as pixels are removed most salient first), its area under the curve, beside
//   the same for two baseline maps: a centred Gaussian (sigma a quarter of each side) and uniform noise.
// Then the speed: each method's mean time per target on this split's trace, against the trace itself
// (open + run), and Grad-CAM on an 800-pixel torchvision ResNet-50-FPN (random weights, seed 0) against
// its own trace. Methods: gradcam and hirescam (the RoI's own FPN level; with _c, the backbone output
// under it), inputgrad, drise.
#include "explain_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "api/dataset.h"
#include "api/explain.h"
#include "api/session.h"
#include "config/detector_config.h"

namespace rcnn::bench {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string arg(int argc, char** argv, const std::string& key, const std::string& dflt) {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == key) return argv[i + 1];
  return dflt;
}

struct Tally {
  int targets = 0, hits = 0, flat = 0;
  double auc = 0, seconds = 0;
};

bool inside(const api::Box& b, int x, int y) {
  return x + 0.5f >= b.x1 && x + 0.5f <= b.x2 && y + 0.5f >= b.y1 && y + 0.5f <= b.y2;
}

// The pointing game on one map: 1 hit, 0 miss, -1 constant (a miss).
int point(const std::vector<float>& m, int w, const api::Box& gt) {
  const auto [lo, hi] = std::minmax_element(m.begin(), m.end());
  if (*lo == *hi) return -1;
  const size_t i = size_t(hi - m.begin());
  return inside(gt, int(i % size_t(w)), int(i / size_t(w))) ? 1 : 0;
}

std::vector<float> centre_gaussian(int w, int h) {
  std::vector<float> m(size_t(w) * size_t(h));
  const double sx = w / 4.0, sy = h / 4.0, cx = w / 2.0, cy = h / 2.0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double dx = (x + 0.5 - cx) / sx, dy = (y + 0.5 - cy) / sy;
      m[size_t(y) * size_t(w) + size_t(x)] = float(std::exp(-0.5 * (dx * dx + dy * dy)));
    }
  return m;
}

std::vector<float> noise(int w, int h, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> m(size_t(w) * size_t(h));
  for (auto& v : m) v = u(g);
  return m;
}

api::ExplainRequest request_for(const std::string& method, int det, int masks, uint64_t seed) {
  api::ExplainRequest q;
  q.target = "det";
  q.index = det;
  const bool backbone = method.size() > 2 && method.compare(method.size() - 2, 2, "_c") == 0;
  q.method = backbone ? method.substr(0, method.size() - 2) : method;
  q.backbone = backbone;
  q.masks = masks;
  q.seed = seed;
  return q;
}

// Grad-CAM of det:0 on a torchvision ResNet-50-FPN at 800 pixels (random weights), and its trace, seconds.
std::pair<double, double> tv_gradcam_seconds(const api::ImageEntry& im, int size) {
  auto cfg = load_preset("torchvision_resnet50_fpn");
  cfg.torchvision.min_size = size;
  cfg.torchvision.max_size = size * 1333 / 800;
  api::Session s(cfg, "cpu", 0);
  auto t0 = Clock::now();
  s.open_image(im.path, {}, cfg.class_names);
  s.run();
  const double trace = seconds_since(t0);
  api::ExplainRequest q;  // random weights detect nothing: the first kept RoI's best class, the same work
  q.target = "roi";
  q.method = "gradcam";
  s.explain(q);  // warm
  t0 = Clock::now();
  const int reps = 3;
  for (int i = 0; i < reps; ++i) s.explain(q);
  return {seconds_since(t0) / reps, trace};
}

}  // namespace

int explain_main(int argc, char** argv) {
  const std::string checkpoint =
      arg(argc, argv, "--checkpoint", std::string(RCNN_BENCH_RESOURCES) + "/models/fashion_default.pt");
  const std::string dataset = arg(argc, argv, "--dataset", api::default_dataset_dir());
  const std::string split = arg(argc, argv, "--split", "val");
  const int per_image = std::stoi(arg(argc, argv, "--per-image", "1"));
  const int max_images = std::stoi(arg(argc, argv, "--max-images", "0"));
  const int masks = std::stoi(arg(argc, argv, "--masks", "1000"));
  const int steps = std::stoi(arg(argc, argv, "--steps", "20"));
  const uint64_t seed = std::stoull(arg(argc, argv, "--seed", "0"));
  const int tv_size = std::stoi(arg(argc, argv, "--tv-size", "800"));
  const std::string json_out = arg(argc, argv, "--json", "");
  std::vector<std::string> methods;
  {
    std::stringstream ss(arg(argc, argv, "--methods", "gradcam,gradcam_c,hirescam,hirescam_c,inputgrad,drise"));
    for (std::string m; std::getline(ss, m, ',');) methods.push_back(m);
  }
  api::OpenOptions oo;
  oo.split = split;
  const auto ds = api::open_dataset(dataset, oo);
  api::Session s(load_preset("default"), "cpu");
  s.load_checkpoint(checkpoint);
  std::map<std::string, Tally> tally;
  double trace_seconds = 0;
  int images = 0;
  for (const auto& im : ds.images) {
    if (max_images > 0 && images >= max_images) break;
    const auto t0 = Clock::now();
    s.open_image(im.path, im.objects, ds.class_names);
    const auto& t = s.run();
    trace_seconds += seconds_since(t0);
    ++images;
    // True positives: detections in score order, each matched to the best unmatched GT of its class.
    std::vector<std::pair<int, int>> tps;  // (detection, GT)
    std::vector<bool> taken(t.gt.size(), false);
    std::vector<int> order(t.detections.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return t.detections[size_t(a)].score > t.detections[size_t(b)].score; });
    for (int d : order) {
      const auto& det = t.detections[size_t(d)];
      int best = -1;
      float best_iou = 0.5f;
      for (size_t g = 0; g < t.gt.size(); ++g) {
        if (taken[g] || t.gt[g].label != det.label || t.gt[g].difficult) continue;
        const float iou = api::box_iou(det.box_original, t.gt[g].box_original);
        if (iou >= best_iou) best_iou = iou, best = int(g);
      }
      if (best >= 0) taken[size_t(best)] = true, tps.emplace_back(d, best);
    }
    if (int(tps.size()) > per_image) tps.resize(size_t(per_image));
    for (const auto& [d, g] : tps) {
      const auto& gt = t.gt[size_t(g)].box_original;
      const int W = t.image_width, H = t.image_height;
      api::ExplainRequest target = request_for("gradcam", d, masks, seed);
      for (const auto& m : methods) {
        const auto q = request_for(m, d, masks, seed);
        const auto t1 = Clock::now();
        const auto r = s.explain(q);
        auto& T = tally[m];
        T.seconds += seconds_since(t1);
        const int p = point(r.map, W, gt);
        T.targets++, T.hits += p == 1, T.flat += p < 0;
        T.auc += api::deletion_auc(s.deletion_curve(target, r.map, steps, seed));
      }
      const std::pair<const char*, std::vector<float>> baselines[] = {{"centre_gaussian", centre_gaussian(W, H)},
                                                                      {"random", noise(W, H, seed + uint64_t(images))}};
      for (const auto& [name, map] : baselines) {
        auto& T = tally[name];
        const int p = point(map, W, gt);
        T.targets++, T.hits += p == 1, T.flat += p < 0;
        T.auc += api::deletion_auc(s.deletion_curve(target, map, steps, seed));
      }
    }
    std::fprintf(stderr, "\r%d / %zu images", images, ds.images.size());
  }
  std::fprintf(stderr, "\n");
  const double trace_ms = 1000 * trace_seconds / std::max(1, images);
  std::printf("%s (%s split, %d images), %s; %d masks for D-RISE, %d deletion steps\n", dataset.c_str(), split.c_str(),
              images, checkpoint.c_str(), masks, steps);
  std::printf("%-16s %8s %10s %6s %12s %12s %10s\n", "method", "targets", "pointing", "flat", "deletion AUC",
              "ms / target", "x trace");
  nlohmann::json j;
  j["dataset"] = dataset;
  j["split"] = split;
  j["images"] = images;
  j["trace_ms"] = trace_ms;
  std::vector<std::string> rows = methods;
  rows.push_back("centre_gaussian");
  rows.push_back("random");
  for (const auto& m : rows) {
    const auto& T = tally[m];
    const int n = std::max(1, T.targets);
    const double ms = 1000 * T.seconds / n;
    std::printf("%-16s %8d %10.3f %6d %12.4f %12.1f %10.2f\n", m.c_str(), T.targets, double(T.hits) / n, T.flat,
                T.auc / n, ms, ms / trace_ms);
    j["methods"][m] = {{"targets", T.targets},
                       {"pointing", double(T.hits) / n},
                       {"flat", T.flat},
                       {"deletion_auc", T.auc / n},
                       {"ms_per_target", ms}};
  }
  std::printf("the seed-family trace (open + run): %.1f ms per image\n", trace_ms);
  if (tv_size > 0 && !ds.images.empty()) {
    const auto [cam, trace] = tv_gradcam_seconds(ds.images[0], tv_size);
    std::printf("torchvision ResNet-50-FPN at %d px: Grad-CAM %.2f s per target, its trace %.2f s (x%.2f)\n", tv_size,
                cam, trace, cam / trace);
    j["torchvision_r50"] = {{"size", tv_size}, {"gradcam_s", cam}, {"trace_s", trace}};
  }
  if (!json_out.empty()) {
    std::ofstream out(json_out);
    out << j.dump(2) << "\n";
    if (!out) throw std::runtime_error(json_out + ": cannot write");
  }
  return 0;
}

}  // namespace rcnn::bench
