#pragma once
// `rcnn anchors`: anchor coverage of a split under a config, and the anchor search.
#include <CLI/CLI.hpp>
#include <string>

#include "api/coverage_job.h"

struct AnchorsArgs {
  rcnn::api::CoverageRequest cov;
  rcnn::api::SuggestRequest suggest = [] {
    rcnn::api::SuggestRequest s;
    s.top = 0;  // no search unless asked
    return s;
  }();
  std::string json, plots, write_config;
};

CLI::App* add_anchors_command(CLI::App& app, AnchorsArgs& a);
int run_anchors_command(const AnchorsArgs& a);
