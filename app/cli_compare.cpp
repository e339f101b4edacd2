#include "cli_compare.h"

#include <cstdio>
#include <fstream>

#include <filesystem>

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a) {
  auto* c = app.add_subcommand("compare", "two checkpoints on one split: per-class AP, GTs found by one and lost by the "
                                          "other (and where), the images that differ most");
  c->add_option("--a", a.req.a.checkpoint, "checkpoint A (.pt, or a torchvision .pth with --config-a)")->required();
  c->add_option("--b", a.req.b.checkpoint, "checkpoint B")->required();
  c->add_option("--config-a", a.req.a.config, "config of A when the file holds none (torchvision presets)");
  c->add_option("--config-b", a.req.b.config, "config of B");
  c->add_option("--dataset", a.req.a.dataset, "dataset; default: the embedded dataset");
  c->add_option("--split", a.req.a.split, "split")->capture_default_str();
  c->add_option("--device", a.req.a.device)->capture_default_str();
  c->add_option("--max-images", a.req.a.max_images, "the first N images only");
  c->add_option("--list", a.list, "rows printed per list")->capture_default_str();
  c->add_option("--json", a.json, "write the full comparison as JSON here");
  return c;
}

int run_compare_command(const CompareArgs& args) {
  auto req = args.req;
  req.b.device = req.a.device;
  const auto r = rcnn::api::run_compare(req);
  const auto name = [](const std::string& p) { return std::filesystem::path(p).filename().string(); };
  std::printf("A %s: mAP@0.5 %.4f\nB %s: mAP@0.5 %.4f (%+.4f) on %zu images\n", req.a.checkpoint.c_str(), r.a.map50,
              req.b.checkpoint.c_str(), r.b.map50, r.b.map50 - r.a.map50, r.a.image_paths.size());
  std::printf("%-16s %6s %8s %8s %8s\n", "class", "GT", "AP A", "AP B", "B - A");
  for (size_t c = 0; c < r.a.class_names.size() && c < r.a.class_ap50.size(); ++c) {
    const auto& cls = r.a.class_names[c];
    double b = -1;
    for (size_t k = 0; k < r.b.class_names.size() && k < r.b.class_ap50.size(); ++k)
      if (r.b.class_names[k] == cls) b = r.b.class_ap50[k];
    if (b < 0)
      std::printf("%-16s %6d %8.4f %8s\n", cls.c_str(), r.a.class_num_gt[c], r.a.class_ap50[c], "-");
    else
      std::printf("%-16s %6d %8.4f %8.4f %+8.4f\n", cls.c_str(), r.a.class_num_gt[c], r.a.class_ap50[c], b,
                  b - r.a.class_ap50[c]);
  }
  auto list = [&](const char* title, const std::vector<rcnn::api::GtChange>& v, bool a_found) {
    std::printf("%s: %zu\n", title, v.size());
    for (size_t i = 0; i < v.size() && int(i) < args.list; ++i) {
      const auto& c = v[i];
      std::printf("  %-24s %-10s lost at %s: %s\n", name(r.a.image_paths[size_t(c.image)]).c_str(),
                  r.a.class_names[size_t(c.label)].c_str(),
                  rcnn::api::funnel_name(a_found ? c.stage_b : c.stage_a),
                  (a_found ? c.reason_b : c.reason_a).c_str());
    }
  };
  list("GTs A detects and B loses", r.found_by_a_only, true);
  list("GTs B detects and A loses", r.found_by_b_only, false);
  std::printf("images that differ most (detected GTs, false positives):\n");
  for (size_t i = 0; i < r.images.size() && int(i) < args.list && r.images[i].difference() > 0; ++i) {
    const auto& m = r.images[i];
    std::printf("  %-24s detected %d -> %d, FP %d -> %d\n", name(r.a.image_paths[size_t(m.image)]).c_str(),
                m.detected_a, m.detected_b, m.fp_a, m.fp_b);
  }
  if (r.unmatched_gts) std::printf("%d GTs are in one model's classes only (not compared)\n", r.unmatched_gts);
  if (!args.json.empty()) {
    std::ofstream(args.json) << rcnn::api::compare_to_json(r) << "\n";
    std::printf("wrote %s\n", args.json.c_str());
  }
  return 0;
}
