#pragma once
// `rcnn compare`: two checkpoints on one split, side by side.
#include <CLI/CLI.hpp>
#include <string>

#include "api/compare_job.h"

struct CompareArgs {
  rcnn::api::CompareRequest req;
  std::string json;
  int list = 10;  // rows of each list printed
};

CLI::App* add_compare_command(CLI::App& app, CompareArgs& a);
int run_compare_command(const CompareArgs& a);
