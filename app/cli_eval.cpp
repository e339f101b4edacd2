#include "cli_eval.h"

#include <cstdio>
#include <fstream>

#include "api/session.h"
#include "cli_util.h"

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

CLI::App* add_eval_command(CLI::App& app, EvalArgs& a) {
  auto* eval = app.add_subcommand("eval", "evaluate a checkpoint (VOC mAP@0.5, COCO mAP@[.5:.95])");
  eval->add_option("--checkpoint", a.req.checkpoint, "checkpoint (.pt, or a torchvision .pth with --config)");
  eval->add_option("--config", a.req.config,
                   "preset: for a torchvision .pth its architecture (torchvision_resnet50_fpn, _v2, "
                   "torchvision_mobilenet_v3_large_fpn, torchvision_mobilenet_v3_large_320_fpn); without a "
                   "checkpoint, random weights of it")
      ->capture_default_str();
  eval->add_option("--classes", a.req.classes_file, "the model's class names, one per line (torchvision models)");
  eval->add_option("--dataset", a.req.dataset, "dataset; default: the embedded dataset");
  eval->add_option("--split", a.req.split, "split")->capture_default_str();
  eval->add_option("--device", a.req.device)->capture_default_str();
  add_precision_option(*eval, a.req.precision);
  eval->add_option("--max-images", a.req.max_images, "evaluate the first N images only");
  eval->add_option("--json", a.json, "write the full result as JSON here");
  eval->add_option("--detections", a.detections,
                   "score a detections JSON ([{image, detections: [{label, score, box}]}], e.g. from another "
                   "detector) instead of running --checkpoint");
  return eval;
}

int run_eval_command(const EvalArgs& a) {
  const auto& er = a.req;
  if (!a.detections.empty()) {
    auto r = rcnn::api::evaluate_detections_file(a.detections, er.dataset, er.split);
    print_eval(r);
    if (!a.json.empty()) std::ofstream(a.json) << rcnn::api::eval_report_to_json(r) << "\n";
    return 0;
  }

  if (er.checkpoint.empty()) throw std::runtime_error("eval: --checkpoint or --detections is required");
  auto rep = rcnn::api::run_evaluation(er, [](int d, int t) { bar("eval", d, t, ""); });
  if (tty()) std::printf("\n");
  for (const auto& i : rep.issues) std::fprintf(stderr, "warning: %s\n", i.c_str());
  print_eval(rep);
  std::printf("%d images in %.1f s\n", rep.result.num_images, rep.seconds);
  if (!a.json.empty()) {
    std::ofstream(a.json) << rcnn::api::eval_report_to_json(rep) << "\n";
    std::printf("wrote %s\n", a.json.c_str());
  }
  return 0;
}

CLI::App* add_analyze_command(CLI::App& app, AnalyzeArgs& a) {
  auto* analyze = app.add_subcommand("analyze", "why each GT was missed and what each false positive is, over a split");
  auto* an_ck = analyze->add_option("--checkpoint", a.req.checkpoint, "checkpoint (.pt, or a torchvision .pth with --config)");
  analyze->add_option("--config", a.req.config, "preset: for a torchvision .pth its architecture")->capture_default_str();
  auto* an_det = analyze->add_option("--detections", a.req.detections,
                                     "account for the detections of this file instead of a model (any detector's, "
                                     "the format `rcnn eval --detections` reads); GT stages are then unavailable");
  an_ck->excludes(an_det);
  analyze->add_option("--classes", a.req.classes_file, "the model's class names, one per line (torchvision models)");
  analyze->add_option("--dataset", a.req.dataset, "dataset; default: the embedded dataset");
  analyze->add_option("--split", a.req.split, "split")->capture_default_str();
  analyze->add_option("--device", a.req.device)->capture_default_str();
  add_precision_option(*analyze, a.req.precision);
  analyze->add_option("--max-images", a.req.max_images, "analyze the first N images only");
  analyze->add_option("--score", a.req.score_thresh,
                      "score threshold (default: the checkpoint's; with --detections, the file's detections below it "
                      "are left out)");
  analyze->add_option("--json", a.json, "write the full report as JSON here");
  return analyze;
}

int run_analyze_command(const AnalyzeArgs& a) {
  const auto& ar = a.req;
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
  if (!a.json.empty()) {
    std::ofstream(a.json) << rcnn::api::analysis_to_json(r) << "\n";
    std::printf("wrote %s\n", a.json.c_str());
  }
  return 0;
}
