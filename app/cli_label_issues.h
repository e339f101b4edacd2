#pragma once
// `rcnn label-issues`: the dataset's own label errors (api/label_issues_job.h).
#include <CLI/CLI.hpp>
#include <string>

#include "api/label_issues_job.h"

struct LabelIssuesArgs {
  rcnn::api::LabelIssuesRequest req;
  std::string json;
  int top = 20;
};

CLI::App* add_label_issues_command(CLI::App& app, LabelIssuesArgs& a);
int run_label_issues_command(LabelIssuesArgs& a);
