#pragma once
// `rcnn detect`: our checkpoints, or a torchvision state dict with --config.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

struct DetectArgs {
  std::string checkpoint, out = "detections", device = "auto", config, classes, precision = "fp32";
  bool exact = false;
  double score = 0.5;
  std::vector<std::string> inputs;
  std::vector<std::string> overrides;  // torchvision presets: --set torchvision.min_size=...
};

CLI::App* add_detect_command(CLI::App& app, DetectArgs& a);
// Writes <out>/detections.json and annotated PNGs; non-zero when every image failed.
int run_detect(const DetectArgs& a);
