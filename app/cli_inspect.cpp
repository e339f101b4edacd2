#include "cli_inspect.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "api/checkpoint.h"
#include "api/session.h"
#include "cli_util.h"
#include "config/detector_config.h"

CLI::App* add_inspect_command(CLI::App& app, InspectArgs& a) {
  auto* inspect = app.add_subcommand("inspect", "print the pipeline trace of one image as JSON");
  inspect->add_option("image", a.image, "image file (or use --dataset/--index)");
  inspect->add_option("--dataset", a.dataset, "dataset to take the image and its GT from");
  inspect->add_option("--split", a.split)->capture_default_str();
  inspect->add_option("--index", a.index, "image index in the split");
  inspect->add_option("--checkpoint", a.checkpoint, "checkpoint; default: random weights of --config");
  inspect->add_option("--config", a.config, "preset or JSON; torchvision_* with a torchvision .pth checkpoint")
      ->capture_default_str();
  inspect->add_option("--classes", a.classes, "the model's class names, one per line (torchvision models)");
  inspect->add_option("--seed", a.seed, "sampling seed")->capture_default_str();
  inspect->add_option("--out", a.out, "write JSON here instead of stdout");
  inspect->add_option("--device", a.device)->capture_default_str();
  add_precision_option(*inspect, a.precision);
  inspect->add_flag("--full", a.full, "include per-anchor arrays");
  return inspect;
}

int run_inspect_command(const InspectArgs& a) {
  rcnn::DetectorConfig cfg = rcnn::load_preset(a.config);
  std::vector<rcnn::api::GtObject> gt;
  std::vector<std::string> names;
  std::string path = a.image;
  if (!a.dataset.empty() || path.empty()) {
    rcnn::api::OpenOptions lo;
    lo.split = a.split;
    auto ds = rcnn::api::open_dataset(a.dataset.empty() ? rcnn::api::default_dataset_dir() : a.dataset, lo);
    if (!ds.issues.empty())  // what lenient reading skipped, so a wrong count is never silent
      std::fprintf(stderr, "dataset: skipped %d images and %d objects, clipped %d boxes (%zu issues; first: %s)\n",
                   ds.skipped_images, ds.skipped_objects, ds.clipped_objects, ds.problems,
                   ds.issues.front().c_str());
    const int idx = std::max(0, a.index);
    if (size_t(idx) >= ds.size())
      throw std::runtime_error("inspect: --index " + std::to_string(idx) + " is out of range (split has " +
                               std::to_string(ds.size()) + " images)");
    path = ds.images[size_t(idx)].path;
    gt = ds.images[size_t(idx)].objects;
    names = ds.class_names;
    cfg.num_classes = int(names.size());
    cfg.class_names = names;
  }
  rcnn::api::Session s(cfg, a.device);
  s.set_precision(a.precision);
  if (!a.checkpoint.empty()) {
    s.load_checkpoint(a.checkpoint);
    if (!a.classes.empty()) s.load_class_names(a.classes);
    if (names.empty()) names = s.config().class_names;
  }
  if (names.empty()) names = cfg.class_names;
  s.set_sample_seed(a.seed);
  s.open_image(path, gt, names);
  const auto& t = s.run();
  const std::string j = rcnn::api::trace_to_json(t, a.full);
  if (a.out.empty()) {
    std::cout << j << "\n";
  } else {
    std::ofstream(a.out) << j << "\n";
    std::printf("wrote %s (%zu proposals, %zu detections, %s)\n", a.out.c_str(), t.proposals.size(),
                t.detections.size(), t.model_label.c_str());
  }
  return 0;
}

CLI::App* add_export_command(CLI::App& app, ExportArgs& a) {
  auto* exp = app.add_subcommand("export", "strip a checkpoint to fp16 weights + config (for shipping)");
  exp->add_option("--checkpoint", a.checkpoint, "checkpoint (.pt)")->required();
  exp->add_option("--out", a.out, "output .pt")->required();
  return exp;
}

int run_export_command(const ExportArgs& a) {
  auto m = rcnn::api::export_checkpoint(a.checkpoint, a.out);
  std::printf("wrote %s (iteration %lld, val mAP@0.5 %.4f)\n", a.out.c_str(), (long long)m.iteration, m.last_map);
  return 0;
}

CLI::App* add_make_dataset_command(CLI::App& app, MakeDatasetArgs& a) {
  auto* mk = app.add_subcommand("make-dataset", "generate a detection dataset");
  mk->add_option("kind", a.kind, "dataset kind: fashion")->required()->check(CLI::IsMember({"fashion"}));
  mk->add_option("--out", a.req.out, "output directory")->required();
  mk->add_option("--train", a.req.train)->capture_default_str();
  mk->add_option("--val", a.req.val)->capture_default_str();
  mk->add_option("--test", a.req.test)->capture_default_str();
  mk->add_option("--seed", a.req.seed)->capture_default_str();
  mk->add_option("--source", a.req.source_dir, "Fashion-MNIST directory")->capture_default_str();
  mk->add_option("--corrupt", a.req.corrupt,
                 "known label errors for the label doctor's benchmark: missing=R,swap=R,badloc=R,spurious=R"
                 "[,duplicate=R] (per-object rates; every change is listed in OUT/corruptions.json)");
  return mk;
}

int run_make_dataset_command(MakeDatasetArgs& a) {
  const auto c = rcnn::api::make_fashion_dataset(a.req, [](int d, int t) {
    if (tty())
      bar("make-dataset", d, t, "");
    else if (d % 500 == 0 || d == t)
      std::printf("%d/%d images\n", d, t);
  });
  if (tty()) std::printf("\n");
  std::printf("wrote %s (%d train, %d val, %d test images)\n", a.req.out.c_str(), a.req.train, a.req.val, a.req.test);
  if (!a.req.corrupt.empty())
    std::printf(
        "corrupted %d of %d images: %d missing, %d swapped, %d badloc, %d spurious, %d duplicate "
        "(%s/corruptions.json)\n",
        c.corrupted_images, c.images, c.missing, c.swap, c.badloc, c.spurious, c.duplicate, a.req.out.c_str());
  return 0;
}
