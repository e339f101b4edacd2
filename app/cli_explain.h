#pragma once
// `rcnn explain`: which pixels and features made a detection (api/explain.h).
#include <CLI/CLI.hpp>
#include <string>

#include "api/explain.h"
#include "api/model_spec.h"

struct ExplainArgs {
  rcnn::api::ModelSpec model;
  std::string image, target = "det:0", method = "hirescam", level, dataset, split = "val", out, json;
  double score = 0.5;  // as `rcnn detect`: det:K counts the detections at or above it
  rcnn::api::ExplainRequest req;  // drise's and the score space's settings
};

CLI::App* add_explain_command(CLI::App& app, ExplainArgs& a);
int run_explain_command(ExplainArgs& a);
