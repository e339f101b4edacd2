#pragma once
// `rcnn capture` (one image's whole pipeline state as a .rcnncap file,
// api/capture.h) and `rcnn diff` (what changed between two captures,
// api/capture_diff.h).
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

struct CaptureArgs {
  std::string image, checkpoint, config = "default", dataset, split = "val", device = "cpu", out, classes;
  bool random_weights = false;
  uint64_t seed = 0, weight_seed = 0;
};
struct DiffArgs {
  std::string a, b, json;
};

CLI::App* add_capture_command(CLI::App& app, CaptureArgs& a);
int run_capture_command(const CaptureArgs& a);
CLI::App* add_diff_command(CLI::App& app, DiffArgs& a);
int run_diff_command(const DiffArgs& a);
