#include "cli_anchors.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "api/analyze_job.h"
#include "api/coverage_plots.h"
#include "api/session.h"
#include "cli_util.h"

namespace fs = std::filesystem;

CLI::App* add_anchors_command(CLI::App& app, AnchorsArgs& a) {
  auto* anchors = app.add_subcommand("anchors", "anchor coverage of a split under a config (the detector's own matcher)");
  anchors->add_option("--dataset", a.cov.dataset, "dataset; default: the embedded dataset");
  anchors->add_option("--config", a.cov.config, "preset name or .json")->capture_default_str();
  anchors->add_option("--split", a.cov.split, "split")->capture_default_str();
  anchors->add_option("--set", a.cov.overrides, "config override key=value (repeatable)");
  anchors->add_option("--max-images", a.cov.max_images, "the first N images only");
  anchors->add_option("--json", a.json, "write the full report as JSON here");
  anchors->add_option("--plots", a.plots, "write the plots (SVG) into this directory");
  rcnn::api::SuggestRequest sr;
  anchors->add_option("--suggest", a.suggest.top, "search anchor settings that cover the split better; report the best N");
  anchors->add_option("--max-anchors", a.suggest.max_per_location, "suggestions: at most this many anchors per location")
      ->capture_default_str();
  anchors->add_option("--search-images", a.suggest.search_images, "suggestions: images sampled for the search (0: all)")
      ->capture_default_str();
  anchors->add_option("--seed", a.suggest.seed, "suggestions: seed of the image sample")->capture_default_str();
  anchors->add_option("--write-config", a.write_config, "suggestions: write the config with the best one applied here");
  return anchors;
}

int run_anchors_command(const AnchorsArgs& a) {
  auto sr = a.suggest;
  auto r = rcnn::api::run_coverage(a.cov, [](int d, int t) { bar("anchors", d, t, ""); });
  if (tty()) std::printf("\n");
  std::printf("%zu images, %d GT; matcher lo %.2f hi %.2f, low-quality %s; %.1f s\n", r.image_paths.size(),
              r.all.gts, r.iou_lo, r.iou_hi, r.low_quality ? "on" : "off", r.seconds);
  for (const auto& L : r.levels) {
    std::printf("  %s stride %2d:", L.name.c_str(), L.stride);
    for (float s : L.sizes) std::printf(" %.1f", s);
    std::printf(" px\n");
  }
  auto row = [](const char* name, const rcnn::api::CoverageGroup& g) {
    std::printf("  %-18s %6d GT  BPR %.3f  (without low-quality %.3f)  %.1f positives/GT\n", name, g.gts, g.bpr(),
                g.bpr_no_lq(), g.mean_positives());
  };
  row("all", r.all);
  for (int b = 0; b < 3; ++b) row(rcnn::api::size_bucket_name(rcnn::api::SizeBucket(b)), r.by_size[size_t(b)]);
  for (int b = 0; b < rcnn::api::kAspectBuckets; ++b) row(rcnn::api::aspect_bucket_name(b), r.by_aspect[size_t(b)]);
  for (size_t l = 0; l < r.by_level.size(); ++l) row(("best on " + r.levels[l].name).c_str(), r.by_level[l]);
  int shown = 0;
  for (const auto& g : r.gts)
    if (g.positives == 0 && shown++ < 10)
      std::printf("  no positive: %s GT %d: %s\n", r.image_paths[size_t(g.image)].c_str(), g.index,
                  g.reason_text.c_str());
  if (!a.plots.empty()) {
    fs::create_directories(a.plots);
    for (const auto& [name, svg] : rcnn::api::coverage_svgs(rcnn::api::coverage_plots(r))) {
      std::ofstream((fs::path(a.plots) / name).string()) << svg;
      std::printf("wrote %s\n", (fs::path(a.plots) / name).c_str());
    }
  }
  rcnn::api::SuggestReport s;
  if (sr.top > 0) {
    sr.coverage = a.cov;
    s = rcnn::api::suggest_anchors(sr, [](int d, int t) { bar("search", d, t, ""); });
    if (tty()) std::printf("\n");
    const int n_images = int(r.image_paths.size());
    const std::string sample = sr.search_images > 0 && sr.search_images < n_images
                                   ? std::to_string(sr.search_images) + " sampled images"
                                   : "all " + std::to_string(n_images) + " images";
    std::printf("anchor suggestions (%d candidates searched on %s, %.1f s):\n", s.candidates, sample.c_str(),
                s.seconds);
    auto line = [](const char* tag, const rcnn::api::AnchorSuggestion& a) {
      std::printf("  %-8s BPR %.3f (without low-quality %.3f)  %.2f positives/GT  %d anchors/location  %s\n", tag,
                  a.all.bpr(), a.all.bpr_no_lq(), a.all.mean_positives(), a.per_location, a.overrides().c_str());
    };
    line("current", s.current);
    for (size_t k = 0; k < s.best.size(); ++k) line(("#" + std::to_string(k + 1)).c_str(), s.best[k]);
    if (!a.write_config.empty() && !s.best.empty()) {
      std::ofstream(a.write_config) << rcnn::api::config_with(a.cov, s.best[0]);
      std::printf("wrote %s (use it with --config)\n", a.write_config.c_str());
    }
  }
  if (!a.json.empty()) {
    std::ofstream(a.json) << rcnn::api::coverage_to_json(r, sr.top > 0 ? &s : nullptr) << "\n";
    std::printf("wrote %s\n", a.json.c_str());
  }
  return 0;
}
