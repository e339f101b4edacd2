#pragma once
// `rcnn eval` (VOC and COCO summaries of a checkpoint or a detections file)
// and `rcnn analyze` (why each GT was missed, what each false positive is).
#include <CLI/CLI.hpp>
#include <string>

#include "api/analyze_job.h"
#include "api/eval_job.h"

struct EvalArgs {
  rcnn::api::EvalRequest req;
  std::string json, detections;
};
struct AnalyzeArgs {
  rcnn::api::AnalyzeRequest req;
  std::string json;
};

CLI::App* add_eval_command(CLI::App& app, EvalArgs& a);
int run_eval_command(const EvalArgs& a);
CLI::App* add_analyze_command(CLI::App& app, AnalyzeArgs& a);
int run_analyze_command(const AnalyzeArgs& a);
