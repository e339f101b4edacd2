#include "cli_capture.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "api/capture.h"
#include "api/capture_diff.h"
#include "api/dataset.h"
#include "api/session.h"
#include "config/detector_config.h"

namespace fs = std::filesystem;

CLI::App* add_capture_command(CLI::App& app, CaptureArgs& a) {
  auto* c = app.add_subcommand("capture",
                               "save one image's whole pipeline state (every stage the studio shows) as a .rcnncap "
                               "file that opens without the model (docs/capture-format.md)");
  c->add_option("image", a.image, "the image (with --dataset: a file of that dataset, matched by name)")->required();
  auto* ck = c->add_option("--checkpoint", a.checkpoint, "the model (a seed-family .pt or a torchvision .pth)");
  auto* rw = c->add_flag("--random-weights", a.random_weights, "random weights of --config (seed --weight-seed)");
  ck->excludes(rw);
  c->add_option("--config", a.config, "preset or JSON (a checkpoint brings its own)")->capture_default_str();
  c->add_option("--classes", a.classes, "the model's class names, one per line (torchvision models)");
  c->add_option("--dataset", a.dataset, "the dataset the image belongs to (its GTs and class names)");
  c->add_option("--split", a.split, "that dataset's split")->capture_default_str();
  c->add_option("--seed", a.seed, "the sampling seed of the anchor and RoI samples")->capture_default_str();
  c->add_option("--weight-seed", a.weight_seed, "with --random-weights: their seed")->capture_default_str();
  c->add_option("--device", a.device)->capture_default_str();
  c->add_option("--out", a.out, "the capture file (.rcnncap)")->required();
  return c;
}

int run_capture_command(const CaptureArgs& a) {
  if (a.checkpoint.empty() && !a.random_weights)
    throw std::runtime_error("capture: give --checkpoint C or --random-weights");
  rcnn::DetectorConfig cfg = rcnn::load_preset(a.config);
  std::vector<rcnn::api::GtObject> gt;
  std::vector<std::string> names;
  std::string path = a.image;
  if (!a.dataset.empty()) {
    rcnn::api::OpenOptions oo;
    oo.split = a.split;
    const auto ds = rcnn::api::open_dataset(a.dataset, oo);
    bool found = false;
    for (const auto& im : ds.images)
      if (fs::path(im.path).filename() == fs::path(a.image).filename() || fs::path(im.path).stem() == a.image) {
        gt = im.objects, path = im.path, found = true;
        break;
      }
    if (!found) throw std::runtime_error(a.image + ": not an image of " + a.dataset + " (" + a.split + " split)");
    names = ds.class_names;
    if (a.random_weights) {
      cfg.num_classes = int(names.size());
      cfg.class_names = names;
    }
  }
  rcnn::api::Session s(cfg, a.device, a.weight_seed);
  if (!a.checkpoint.empty()) {
    s.load_checkpoint(a.checkpoint);
    if (!a.classes.empty()) s.load_class_names(a.classes);
  }
  if (names.empty()) names = s.config().class_names;
  s.set_sample_seed(a.seed);
  s.open_image(path, gt, names);
  const auto c = s.capture();
  rcnn::api::save_capture(a.out, c);
  std::printf("wrote %s (%.2f MB: %zu anchors, %zu proposals, %zu RoIs, %zu detections, %zu GTs; %s)\n", a.out.c_str(),
              double(fs::file_size(a.out)) / 1e6, c.trace.anchors.size(), c.trace.proposals.size(), c.trace.kept.size(),
              c.trace.detections.size(), c.trace.gt.size(), c.trace.model_label.c_str());
  return 0;
}

CLI::App* add_diff_command(CLI::App& app, DiffArgs& a) {
  auto* c = app.add_subcommand("diff",
                               "what changed between two captures of one image, stage by stage: anchor labels, "
                               "kept proposals, RoIs, detections, and every GT whose verdict changed");
  c->add_option("a", a.a, "the first capture (.rcnncap)")->required();
  c->add_option("b", a.b, "the second capture")->required();
  c->add_option("--json", a.json, "write the diff as JSON here");
  return c;
}

int run_diff_command(const DiffArgs& a) {
  const auto A = rcnn::api::load_capture(a.a);
  const auto B = rcnn::api::load_capture(a.b);
  for (const auto& w : A.warnings) std::fprintf(stderr, "%s: %s\n", a.a.c_str(), w.c_str());
  for (const auto& w : B.warnings) std::fprintf(stderr, "%s: %s\n", a.b.c_str(), w.c_str());
  const auto d = rcnn::api::diff_captures(A, B);
  std::fputs(rcnn::api::diff_to_text(d, A, B).c_str(), stdout);
  if (!a.json.empty()) {
    std::ofstream out(a.json);
    out << rcnn::api::diff_to_json(d) << "\n";
    if (!out) throw std::runtime_error(a.json + ": cannot write");
  }
  return 0;
}
