// rcnn_bench --roofline: the machine's measured peaks, then every stage of
// each family's inference on the roofline (engine/op_cost.h, engine/peak.h),
// in one run, as Markdown tables (and JSON with --json FILE).
//
//   rcnn_bench --roofline [--reps N] [--precision fp32|bf16|both] [--only seed|tv]
//                         [--seed-preset NAME] [--json FILE]
#include "roofline.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "config/detector_config.h"
#include "engine/device.h"
#include "engine/op_cost.h"
#include "engine/peak.h"
#include "engine/precision.h"
#include "modeling/faster_rcnn.h"
#include "modeling/torchvision/tv_faster_rcnn.h"

namespace rcnn::bench {
namespace {
using engine::Precision;

struct Case {
  std::string name, family;
  std::function<void()> run;  // one inference
};

struct Measured {
  std::vector<engine::StageCost> stages;
  engine::StageCost total;
  std::vector<engine::OpCost> ops;
};

// The fastest of `reps` recorded runs after one warm-up.
Measured measure(const Case& c, Precision p, int reps) {
  engine::PrecisionScope scope(p);
  c.run();
  Measured best;
  best.total.ms = 1e30;
  for (int i = 0; i < reps; ++i) {
    engine::CostRecorder rec;
    c.run();
    auto total = rec.total();
    if (total.ms < best.total.ms) best = {rec.stages(), total, rec.ops()};
  }
  return best;
}

std::vector<Case> cases(const std::string& only, const std::string& seed_preset) {
  std::vector<Case> out;
  if (only.empty() || only == "seed") {
    // By default the seed preset: the shape bench/compare_torchvision.py builds in torchvision (BM_InferSeed).
    for (int64_t n : {1, 16}) {
      auto cfg = load_preset(seed_preset);
      cfg.num_classes = 10;
      torch::manual_seed(0);
      auto m = std::make_shared<modeling::FasterRCNN>(cfg);
      (*m)->eval();
      auto x = torch::randn({n, 3, 224, 224});
      out.push_back({seed_preset + " preset, " + std::to_string(n) + " x 224x224", "seed", [m, x] {
                       torch::NoGradGuard ng;
                       (*m)->detect(x);
                     }});
    }
  }
  if (only.empty() || only == "tv") {
    torch::manual_seed(0);
    auto m = std::make_shared<modeling::tv::TvFasterRCNN>(modeling::tv::tv_preset("torchvision_resnet50_fpn", 91));
    (*m)->optimize_for_inference();
    auto img = torch::rand({3, 800, 1067});
    out.push_back({"torchvision ResNet-50-FPN, 1 x 800x1067", "torchvision", [m, img] { (*m)->infer({img}); }});
  }
  return out;
}

void print_peak(const engine::MachinePeak& p) {
  std::printf("| %s | %.0f | %.0f | %.0f | %.1f |\n", engine::precision_name(p.precision), p.gemm_gflops, p.blas_gflops,
              p.conv_gflops, p.bandwidth_gbs);
}

nlohmann::json report(const Case& c, const Measured& m, const engine::MachinePeak& peak) {
  const auto all = engine::roofline(m.total, peak);
  std::printf("\n### %s, %s: %.1f ms, %.1f GFLOP, %.0f GFLOP/s = %.0f %% of the %s compute peak (%.0f GFLOP/s)\n\n",
              c.name.c_str(), engine::precision_name(peak.precision), m.total.ms, m.total.flops / 1e9, all.gflops,
              100 * all.gflops / peak.compute_gflops(), engine::precision_name(peak.precision), peak.compute_gflops());
  std::printf("| stage | ms | time | GFLOP | MB | GFLOP/s | GB/s | FLOP/B | roof | of roof | bound |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  nlohmann::json j = {{"case", c.name},
                      {"family", c.family},
                      {"precision", engine::precision_name(peak.precision)},
                      {"ms", m.total.ms},
                      {"flops", m.total.flops},
                      {"gflops_per_s", all.gflops},
                      {"share_of_compute_peak", all.gflops / peak.compute_gflops()}};
  std::vector<std::string> far;
  for (const auto& s : m.stages) {
    if (s.ms <= 0 && s.ops == 0) continue;
    const auto r = engine::roofline(s, peak);
    const double time_share = s.ms / m.total.ms;
    std::printf("| %s | %.1f | %.0f %% | %.2f | %.1f | %.0f | %.1f | %.1f | %.0f %s | %.0f %% | %s |\n",
                s.stage.c_str(), s.ms, 100 * time_share, s.flops / 1e9, s.bytes / 1e6, r.gflops, r.gbs, r.intensity,
                r.attainable, s.flops > 0 ? "GFLOP/s" : "GB/s", 100 * r.share, r.memory_bound ? "memory" : "compute");
    if (time_share >= 0.05 && r.share < 0.5) far.push_back(s.stage);
    j["stages"].push_back({{"stage", s.stage},
                           {"ms", s.ms},
                           {"flops", s.flops},
                           {"bytes", s.bytes},
                           {"ops", s.ops},
                           {"gflops_per_s", r.gflops},
                           {"gb_per_s", r.gbs},
                           {"attainable", r.attainable},
                           {"share_of_roof", r.share},
                           {"memory_bound", r.memory_bound}});
  }
  std::string names;
  for (const auto& f : far) names += (names.empty() ? "" : ", ") + f;
  std::printf("\nFar from the roof (at least 5 %% of the time, under 50 %% of its roof): %s\n",
              names.empty() ? "none" : names.c_str());
  for (const auto& f : far) {  // where their time goes: the three slowest operators
    std::string top;
    int shown = 0;
    for (const auto& o : m.ops)
      if (o.stage == f && shown++ < 3) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s%s x%lld %.1f ms", top.empty() ? "" : ", ", o.op.c_str(),
                      static_cast<long long>(o.calls), o.ms);
        top += buf;
      }
    std::printf("- %s: %s\n", f.c_str(), top.empty() ? "no operator (the project's own loops)" : top.c_str());
  }
  j["far_from_roof"] = far;
  return j;
}
}  // namespace

int roofline_main(int argc, char** argv) {
  int reps = 3;
  std::string only, json_path, precision = "both", seed_preset = "seed";
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--reps")
      reps = std::max(1, std::stoi(next()));
    else if (a == "--only")
      only = next();
    else if (a == "--json")
      json_path = next();
    else if (a == "--precision")
      precision = next();
    else if (a == "--seed-preset")
      seed_preset = next();
    else
      throw std::invalid_argument("--roofline: unknown option " + a);
  }
  if (only != "" && only != "seed" && only != "tv") throw std::invalid_argument("--only: expected seed or tv");
  std::vector<Precision> precisions;
  if (precision == "both" || precision == "fp32") precisions.push_back(Precision::FP32);
  if ((precision == "both" && engine::cpu_has_bf16()) || precision == "bf16") precisions.push_back(Precision::BF16);
  torch::NoGradGuard ng;
  std::printf("# Roofline on %s (%s), %d torch threads, BLAS %s\n\n", engine::cpu_name().c_str(),
              engine::cpu_vector_flags().c_str(), at::get_num_threads(), engine::blas_name().c_str());
  std::printf(
      "| precision | oneDNN GEMM 2048^3 (GFLOP/s) | BLAS mm (GFLOP/s) | conv 256->256 3x3 on 200x272 "
      "(GFLOP/s) | copy 1 GB (GB/s) |\n|---|---:|---:|---:|---:|\n");
  std::map<Precision, engine::MachinePeak> peaks;
  nlohmann::json j = {{"cpu", engine::cpu_name()},
                      {"flags", engine::cpu_vector_flags()},
                      {"threads", at::get_num_threads()},
                      {"blas", engine::blas_name()}};
  for (auto p : precisions) {
    peaks[p] = engine::measure_peak(p);
    print_peak(peaks[p]);
    j["peaks"].push_back({{"precision", engine::precision_name(p)},
                          {"gemm", peaks[p].gemm_gflops},
                          {"blas", peaks[p].blas_gflops},
                          {"conv", peaks[p].conv_gflops},
                          {"bandwidth_gbs", peaks[p].bandwidth_gbs}});
  }
  for (const auto& c : cases(only, seed_preset))
    for (auto p : precisions) j["cases"].push_back(report(c, measure(c, p, reps), peaks[p]));
  if (!json_path.empty()) std::ofstream(json_path) << j.dump(2) << "\n";
  return 0;
}

}  // namespace rcnn::bench
