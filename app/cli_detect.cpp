#include "cli_detect.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli_util.h"
#include "api/dataset.h"
#include "api/eval_job.h"
#include "api/torchvision_model.h"
#include "config/detector_config.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

CLI::App* add_detect_command(CLI::App& app, DetectArgs& a) {
  auto* detect = app.add_subcommand("detect", "run detection on images or a folder");
  detect->add_option("--checkpoint", a.checkpoint,
                     "checkpoint: ours (.pt, holds its config), or a torchvision state dict (.pth) with --config")
      ->required();
  detect->add_option("--config", a.config,
                     "for a torchvision .pth: torchvision_resnet50_fpn, torchvision_resnet50_fpn_v2, "
                     "torchvision_mobilenet_v3_large_fpn or torchvision_mobilenet_v3_large_320_fpn");
  detect->add_option("--classes", a.classes,
                     "torchvision .pth: class names, one per line, for labels 1, 2, ... (default: COCO's for 91 classes)");
  detect->add_flag("--exact", a.exact,
                   "torchvision .pth: torchvision's exact op order (default: BatchNorm folded, channels-last; faster, "
                   "equal up to float rounding)");
  detect->add_option("--set", a.overrides,
                     "torchvision .pth: option override key=value (repeatable), e.g. torchvision.min_size=600");
  detect->add_option("inputs", a.inputs, "image files or folders")->required();
  detect->add_option("--out", a.out, "output folder (detections.json + annotated PNGs)")->capture_default_str();
  detect->add_option("--score", a.score, "score threshold")->capture_default_str();
  detect->add_option("--device", a.device)->capture_default_str();
  add_precision_option(*detect, a.precision);
  return detect;
}

int run_detect(const DetectArgs& a) {
  std::vector<std::string> files;
  for (const auto& in : a.inputs) {
    if (fs::is_directory(in)) {
      for (const auto& f : rcnn::api::list_images(in)) files.push_back(f);
    } else {
      files.push_back(in);
    }
  }
  if (files.empty()) throw std::runtime_error("detect: no images found in the inputs");
  std::vector<std::string> names;
  std::vector<rcnn::api::DetectResult> res;
  if (rcnn::is_torchvision(a.config)) {
    rcnn::api::TorchvisionRequest tr;
    tr.config = a.config;
    tr.checkpoint = a.checkpoint;
    tr.classes_file = a.classes;
    tr.score_thresh = a.score;
    tr.exact = a.exact;
    tr.overrides = a.overrides;
    tr.precision = a.precision;
    res = rcnn::api::detect_files_torchvision(tr, files, &names);
  } else {
    if (!a.overrides.empty()) throw std::runtime_error("detect: --set is for torchvision presets (--config torchvision_*)");
    if (!a.config.empty())
      throw std::runtime_error("detect: --config " + a.config +
                               " is not a torchvision preset (our checkpoints carry their own config)");
    res = rcnn::api::detect_files(a.checkpoint, files, a.device, a.score, &names, a.precision);
  }
  fs::create_directories(a.out);
  json all = json::array();
  int failed = 0;
  for (const auto& r : res) {
    json j{{"image", r.path}, {"width", r.width}, {"height", r.height}};
    if (!r.error.empty()) {
      j["error"] = r.error;
      std::fprintf(stderr, "warning: %s\n", r.error.c_str());
      failed++;
      all.push_back(j);
      continue;
    }
    json dets = json::array();
    for (const auto& d : r.detections) {
      const std::string cls = d.label < int(names.size()) ? names[size_t(d.label)] : std::to_string(d.label);
      dets.push_back({{"class", cls},
                      {"label", d.label},
                      {"score", d.score},
                      {"box", {d.box_original.x1, d.box_original.y1, d.box_original.x2, d.box_original.y2}}});
    }
    j["detections"] = dets;
    const std::string png = (fs::path(a.out) / (fs::path(r.path).stem().string() + ".png")).string();
    rcnn::api::save_annotated_png(r.path, r.detections, names, png);
    j["annotated"] = png;
    all.push_back(j);
    std::printf("%s: %zu detections -> %s\n", r.path.c_str(), r.detections.size(), png.c_str());
  }
  std::ofstream((fs::path(a.out) / "detections.json").string()) << all.dump(1) << "\n";
  std::printf("wrote %s\n", (fs::path(a.out) / "detections.json").c_str());
  return failed == int(res.size()) ? 1 : 0;
}
