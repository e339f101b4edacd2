// rcnn: the headless front end. One file per command (cli_<command>.cpp):
// each adds its options and runs it; main parses and dispatches.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "api/devices.h"
#include "cli_anchors.h"
#include "cli_capture.h"
#include "cli_compare.h"
#include "cli_detect.h"
#include "cli_eval.h"
#include "cli_explain.h"
#include "cli_inspect.h"
#include "cli_label_issues.h"
#include "cli_train.h"
#include "cli_util.h"

int main(int argc, char** argv) {
  rcnn::api::tune_process_allocator();  // before any thread starts
  CLI::App app{"rcnn: Faster R-CNN training, evaluation, detection and inspection (RCNN Studio)"};
  app.require_subcommand(1);
  TrainArgs train;
  EvalArgs eval;
  AnalyzeArgs analyze;
  AnchorsArgs anchors;
  DetectArgs detect;
  CompareArgs compare;
  InspectArgs inspect;
  ExportArgs exp;
  MakeDatasetArgs mk;
  LabelIssuesArgs li;
  ExplainArgs ex;
  CaptureArgs cap;
  DiffArgs diff;
  auto* train_cmd = add_train_command(app, train);
  auto* eval_cmd = add_eval_command(app, eval);
  auto* analyze_cmd = add_analyze_command(app, analyze);
  auto* anchors_cmd = add_anchors_command(app, anchors);
  auto* detect_cmd = add_detect_command(app, detect);
  auto* compare_cmd = add_compare_command(app, compare);
  auto* inspect_cmd = add_inspect_command(app, inspect);
  auto* export_cmd = add_export_command(app, exp);
  auto* mk_cmd = add_make_dataset_command(app, mk);
  auto* li_cmd = add_label_issues_command(app, li);
  auto* ex_cmd = add_explain_command(app, ex);
  auto* cap_cmd = add_capture_command(app, cap);
  auto* diff_cmd = add_diff_command(app, diff);
  CLI11_PARSE(app, argc, argv);
  try {
    if (*train_cmd) return run_train_command(train);
    if (*eval_cmd) return run_eval_command(eval);
    if (*analyze_cmd) return run_analyze_command(analyze);
    if (*anchors_cmd) return run_anchors_command(anchors);
    if (*detect_cmd) return run_detect(detect);
    if (*compare_cmd) return run_compare_command(compare);
    if (*inspect_cmd) return run_inspect_command(inspect);
    if (*export_cmd) return run_export_command(exp);
    if (*mk_cmd) return run_make_dataset_command(mk);
    if (*li_cmd) return run_label_issues_command(li);
    if (*ex_cmd) return run_explain_command(ex);
    if (*cap_cmd) return run_capture_command(cap);
    if (*diff_cmd) return run_diff_command(diff);
  } catch (const std::exception& e) {
    if (tty()) std::printf("\n");
    std::fprintf(stderr, "rcnn: %s\n", e.what());
    return 1;
  }
  return 0;
}
