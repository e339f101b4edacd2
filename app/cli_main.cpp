// rcnn: the headless front end (train / eval / detect / inspect / make-dataset).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "api/analyze_job.h"
#include "api/checkpoint.h"
#include "api/coverage_job.h"
#include "api/devices.h"
#include "api/coverage_plots.h"
#include "api/dataset.h"
#include "api/eval_job.h"
#include "api/session.h"
#include "api/train_job.h"
#include "cli_compare.h"
#include "cli_detect.h"
#include "cli_train.h"
#include "cli_util.h"
#include "config/detector_config.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

void print_eval(const rcnn::api::EvalReport& rep) {
  const auto& r = rep.result;
  std::printf("%-14s %6s %8s %10s\n", "class", "GT", "AP@0.5", "AP@.5:.95");
  for (const auto& c : r.classes) std::printf("%-14s %6d %8.4f %10.4f\n", c.name.c_str(), c.num_gt, c.ap50, c.ap_coco);
  std::printf("%-14s %6s %8.4f %10.4f   (VOC all-point AP; AP@.5:.95 with VOC's matching)\n", "mAP", "", r.map50,
              r.map_coco);
  // COCO's rules, in pycocotools' summary layout.
  const auto& c = rep.coco;
  const struct {
    const char* what;
    const char* iou;
    const char* area;
    int dets;
    double v;
  } rows[] = {{"Average Precision", "0.50:0.95", "all", 100, c.AP},  {"Average Precision", "0.50", "all", 100, c.AP50},
              {"Average Precision", "0.75", "all", 100, c.AP75},     {"Average Precision", "0.50:0.95", "small", 100, c.APs},
              {"Average Precision", "0.50:0.95", "medium", 100, c.APm}, {"Average Precision", "0.50:0.95", "large", 100, c.APl},
              {"Average Recall", "0.50:0.95", "all", 1, c.AR1},      {"Average Recall", "0.50:0.95", "all", 10, c.AR10},
              {"Average Recall", "0.50:0.95", "all", 100, c.AR100}};
  for (const auto& row : rows)
    std::printf(" %-18s (%s) @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %.3f\n", row.what,
                row.what[8] == 'P' ? "AP" : "AR", row.iou, row.area, row.dets, row.v);
}

}  // namespace

int main(int argc, char** argv) {
  rcnn::api::tune_process_allocator();  // before any thread starts
  CLI::App app{"rcnn: Faster R-CNN training, evaluation, detection and inspection (RCNN Studio)"};
  app.require_subcommand(1);

  // train
  TrainArgs tra;
  auto* train = add_train_command(app, tra);

  // eval
  rcnn::api::EvalRequest er;
  std::string eval_json;
  auto* eval = app.add_subcommand("eval", "evaluate a checkpoint (VOC mAP@0.5, COCO mAP@[.5:.95])");
  eval->add_option("--checkpoint", er.checkpoint, "checkpoint (.pt, or a torchvision .pth with --config)");
  eval->add_option("--config", er.config,
                   "preset: for a torchvision .pth its architecture (torchvision_resnet50_fpn, _v2, "
                   "torchvision_mobilenet_v3_large_fpn, torchvision_mobilenet_v3_large_320_fpn); without a "
                   "checkpoint, random weights of it")
      ->capture_default_str();
  eval->add_option("--dataset", er.dataset, "dataset; default: the embedded dataset");
  eval->add_option("--split", er.split, "split")->capture_default_str();
  eval->add_option("--device", er.device)->capture_default_str();
  eval->add_option("--max-images", er.max_images, "evaluate the first N images only");
  eval->add_option("--json", eval_json, "write the full result as JSON here");
  std::string eval_dets;
  eval->add_option("--detections", eval_dets,
                   "score a detections JSON ([{image, detections: [{label, score, box}]}], e.g. from another "
                   "detector) instead of running --checkpoint");

  // analyze
  rcnn::api::AnalyzeRequest ar;
  std::string an_json;
  auto* analyze = app.add_subcommand("analyze", "why each GT was missed and what each false positive is, over a split");
  auto* an_ck = analyze->add_option("--checkpoint", ar.checkpoint, "checkpoint (.pt)");
  auto* an_det = analyze->add_option("--detections", ar.detections,
                                     "account for the detections of this file instead of a model (any detector's, "
                                     "the format `rcnn eval --detections` reads); GT stages are then unavailable");
  an_ck->excludes(an_det);
  analyze->add_option("--dataset", ar.dataset, "dataset; default: the embedded dataset");
  analyze->add_option("--split", ar.split, "split")->capture_default_str();
  analyze->add_option("--device", ar.device)->capture_default_str();
  analyze->add_option("--max-images", ar.max_images, "analyze the first N images only");
  analyze->add_option("--score", ar.score_thresh,
                      "score threshold (default: the checkpoint's; with --detections, the file's detections below it "
                      "are left out)");
  analyze->add_option("--json", an_json, "write the full report as JSON here");

  // anchors
  rcnn::api::CoverageRequest cr;
  std::string cov_json, cov_plots;
  auto* anchors = app.add_subcommand("anchors", "anchor coverage of a split under a config (the detector's own matcher)");
  anchors->add_option("--dataset", cr.dataset, "dataset; default: the embedded dataset");
  anchors->add_option("--config", cr.config, "preset name or .json")->capture_default_str();
  anchors->add_option("--split", cr.split, "split")->capture_default_str();
  anchors->add_option("--set", cr.overrides, "config override key=value (repeatable)");
  anchors->add_option("--max-images", cr.max_images, "the first N images only");
  anchors->add_option("--json", cov_json, "write the full report as JSON here");
  anchors->add_option("--plots", cov_plots, "write the plots (SVG) into this directory");
  rcnn::api::SuggestRequest sr;
  std::string sug_config;
  sr.top = 0;  // no search unless asked
  anchors->add_option("--suggest", sr.top, "search anchor settings that cover the split better; report the best N");
  anchors->add_option("--max-anchors", sr.max_per_location, "suggestions: at most this many anchors per location")
      ->capture_default_str();
  anchors->add_option("--search-images", sr.search_images, "suggestions: images sampled for the search (0: all)")
      ->capture_default_str();
  anchors->add_option("--seed", sr.seed, "suggestions: seed of the image sample")->capture_default_str();
  anchors->add_option("--write-config", sug_config, "suggestions: write the config with the best one applied here");

  // detect
  DetectArgs det;
  auto* detect = add_detect_command(app, det);
  CompareArgs cmp;
  auto* compare = add_compare_command(app, cmp);

  // inspect
  std::string in_image, in_ckpt, in_config = "default", in_dataset, in_split = "val", in_out, in_device = "cpu", in_classes;
  int in_index = -1;
  bool in_full = false;
  uint64_t in_seed = 0;
  auto* inspect = app.add_subcommand("inspect", "print the pipeline trace of one image as JSON");
  inspect->add_option("image", in_image, "image file (or use --dataset/--index)");
  inspect->add_option("--dataset", in_dataset, "dataset to take the image and its GT from");
  inspect->add_option("--split", in_split)->capture_default_str();
  inspect->add_option("--index", in_index, "image index in the split");
  inspect->add_option("--checkpoint", in_ckpt, "checkpoint; default: random weights of --config");
  inspect->add_option("--config", in_config, "preset or JSON; torchvision_* with a torchvision .pth checkpoint")
      ->capture_default_str();
  inspect->add_option("--classes", in_classes, "the model's class names, one per line (torchvision models)");
  inspect->add_option("--seed", in_seed, "sampling seed")->capture_default_str();
  inspect->add_option("--out", in_out, "write JSON here instead of stdout");
  inspect->add_option("--device", in_device)->capture_default_str();
  inspect->add_flag("--full", in_full, "include per-anchor arrays");

  // export
  std::string ex_in, ex_out;
  auto* exp = app.add_subcommand("export", "strip a checkpoint to fp16 weights + config (for shipping)");
  exp->add_option("--checkpoint", ex_in, "checkpoint (.pt)")->required();
  exp->add_option("--out", ex_out, "output .pt")->required();

  // make-dataset
  rcnn::api::FashionRequest fo;
  std::string kind;
  auto* mk = app.add_subcommand("make-dataset", "generate a detection dataset");
  mk->add_option("kind", kind, "dataset kind: fashion")->required()->check(CLI::IsMember({"fashion"}));
  mk->add_option("--out", fo.out, "output directory")->required();
  mk->add_option("--train", fo.train)->capture_default_str();
  mk->add_option("--val", fo.val)->capture_default_str();
  mk->add_option("--test", fo.test)->capture_default_str();
  mk->add_option("--seed", fo.seed)->capture_default_str();
  mk->add_option("--source", fo.source_dir, "Fashion-MNIST directory")->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  try {
    if (*train) return run_train_command(tra);
    if (*eval && !eval_dets.empty()) {
      auto r = rcnn::api::evaluate_detections_file(eval_dets, er.dataset, er.split);
      print_eval(r);
      if (!eval_json.empty()) std::ofstream(eval_json) << rcnn::api::eval_report_to_json(r) << "\n";
      return 0;
    }
    if (*eval) {
      if (er.checkpoint.empty()) throw std::runtime_error("eval: --checkpoint or --detections is required");
      auto rep = rcnn::api::run_evaluation(er, [](int d, int t) { bar("eval", d, t, ""); });
      if (tty()) std::printf("\n");
      for (const auto& i : rep.issues) std::fprintf(stderr, "warning: %s\n", i.c_str());
      print_eval(rep);
      std::printf("%d images in %.1f s\n", rep.result.num_images, rep.seconds);
      if (!eval_json.empty()) {
        std::ofstream(eval_json) << rcnn::api::eval_report_to_json(rep) << "\n";
        std::printf("wrote %s\n", eval_json.c_str());
      }
      return 0;
    }
    if (*analyze) {
      if (ar.checkpoint.empty() && ar.detections.empty())
        throw std::runtime_error("analyze: give --checkpoint (a model to run) or --detections (a detections file)");
      auto r = rcnn::api::run_analysis(ar, [](int d, int t) { bar("analyze", d, t, ""); });
      if (tty()) std::printf("\n");
      int total = 0;
      for (int v : r.funnel) total += v;
      std::printf("%zu images, %d GT, %zu detections, mAP@0.5 %.4f, %.1f s\n", r.image_paths.size(), total,
                  r.detections.size(), r.map50, r.seconds);
      std::printf("GT funnel (first stage that lost each GT):\n");
      for (auto f : rcnn::api::funnel_order())
        if (r.funnel[size_t(f)]) std::printf("  %-36s %6d\n", rcnn::api::funnel_name(f), r.funnel[size_t(f)]);
      std::printf("errors by type (dAP@0.5 when fixed; VOC matching, all-point AP, 0-1):\n");
      for (size_t e = 0; e < r.error_dap.size(); ++e)
        std::printf("  %-16s %6d  %+.4f\n", r.error_dap[e].first.c_str(), r.error_dap_count[e], r.error_dap[e].second);
      for (size_t e = 0; e < r.special_dap.size(); ++e)
        std::printf("  %-16s %6d  %+.4f  (special)\n", r.special_dap[e].first.c_str(), r.special_dap_count[e],
                    r.special_dap[e].second);
      std::printf("TIDE (its rules: best free GT, 101-point AP in points): AP50 %.2f\n  main   ", r.tide.ap50);
      for (int e = 0; e < 6; ++e) std::printf(" %s %.2f (%d)", rcnn::api::tide_error_key(e), r.tide.main[size_t(e)], r.tide.counts[size_t(e)]);
      std::printf("\n  special fp %.2f  fn %.2f\n", r.tide.fp, r.tide.fn);
      if (!an_json.empty()) {
        std::ofstream(an_json) << rcnn::api::analysis_to_json(r) << "\n";
        std::printf("wrote %s\n", an_json.c_str());
      }
      return 0;
    }
    if (*anchors) {
      auto r = rcnn::api::run_coverage(cr, [](int d, int t) { bar("anchors", d, t, ""); });
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
      if (!cov_plots.empty()) {
        fs::create_directories(cov_plots);
        for (const auto& [name, svg] : rcnn::api::coverage_svgs(rcnn::api::coverage_plots(r))) {
          std::ofstream((fs::path(cov_plots) / name).string()) << svg;
          std::printf("wrote %s\n", (fs::path(cov_plots) / name).c_str());
        }
      }
      rcnn::api::SuggestReport s;
      if (sr.top > 0) {
        sr.coverage = cr;
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
        if (!sug_config.empty() && !s.best.empty()) {
          std::ofstream(sug_config) << rcnn::api::config_with(cr, s.best[0]);
          std::printf("wrote %s (use it with --config)\n", sug_config.c_str());
        }
      }
      if (!cov_json.empty()) {
        std::ofstream(cov_json) << rcnn::api::coverage_to_json(r, sr.top > 0 ? &s : nullptr) << "\n";
        std::printf("wrote %s\n", cov_json.c_str());
      }
      return 0;
    }
    if (*detect) return run_detect(det);
    if (*compare) return run_compare_command(cmp);
    if (*inspect) {
      rcnn::DetectorConfig cfg = rcnn::load_preset(in_config);
      std::vector<rcnn::api::GtObject> gt;
      std::vector<std::string> names;
      std::string path = in_image;
      if (!in_dataset.empty() || path.empty()) {
        rcnn::api::OpenOptions lo;
        lo.split = in_split;
        auto ds = rcnn::api::open_dataset(in_dataset.empty() ? rcnn::api::default_dataset_dir() : in_dataset, lo);
        if (!ds.issues.empty())  // what lenient reading skipped, so a wrong count is never silent
          std::fprintf(stderr, "dataset: skipped %d images and %d objects, clipped %d boxes (%zu issues; first: %s)\n",
                       ds.skipped_images, ds.skipped_objects, ds.clipped_objects, ds.problems,
                       ds.issues.front().c_str());
        const int idx = std::max(0, in_index);
        if (size_t(idx) >= ds.size())
          throw std::runtime_error("inspect: --index " + std::to_string(idx) + " is out of range (split has " +
                                   std::to_string(ds.size()) + " images)");
        path = ds.images[size_t(idx)].path;
        gt = ds.images[size_t(idx)].objects;
        names = ds.class_names;
        cfg.num_classes = int(names.size());
        cfg.class_names = names;
      }
      rcnn::api::Session s(cfg, in_device);
      if (!in_ckpt.empty()) {
        s.load_checkpoint(in_ckpt);
        if (!in_classes.empty()) s.load_class_names(in_classes);
        if (names.empty()) names = s.config().class_names;
      }
      if (names.empty()) names = cfg.class_names;
      s.set_sample_seed(in_seed);
      s.open_image(path, gt, names);
      const auto& t = s.run();
      const std::string j = rcnn::api::trace_to_json(t, in_full);
      if (in_out.empty()) {
        std::cout << j << "\n";
      } else {
        std::ofstream(in_out) << j << "\n";
        std::printf("wrote %s (%zu proposals, %zu detections, %s)\n", in_out.c_str(), t.proposals.size(),
                    t.detections.size(), t.model_label.c_str());
      }
      return 0;
    }
    if (*exp) {
      auto m = rcnn::api::export_checkpoint(ex_in, ex_out);
      std::printf("wrote %s (iteration %lld, val mAP@0.5 %.4f)\n", ex_out.c_str(), (long long)m.iteration, m.last_map);
      return 0;
    }
    if (*mk) {
      rcnn::api::make_fashion_dataset(fo, [](int d, int t) {
        if (tty())
          bar("make-dataset", d, t, "");
        else if (d % 500 == 0 || d == t)
          std::printf("%d/%d images\n", d, t);
      });
      if (tty()) std::printf("\n");
      std::printf("wrote %s (%d train, %d val, %d test images)\n", fo.out.c_str(), fo.train, fo.val, fo.test);
      return 0;
    }
  } catch (const std::exception& e) {
    if (tty()) std::printf("\n");
    std::fprintf(stderr, "rcnn: %s\n", e.what());
    return 1;
  }
  return 0;
}
