#include "cli_label_issues.h"

#include <csignal>
#include <cstdio>
#include <fstream>

#include "cli_util.h"

namespace {

rcnn::api::LabelIssuesJob* g_job = nullptr;
extern "C" void on_interrupt(int) {
  if (g_job) g_job->request_stop();  // the fold being trained stops at its next step and saves last.pt
}

std::string box_str(const std::optional<rcnn::api::Box>& b) {
  if (!b) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.0f %.0f %.0f %.0f]", b->x1, b->y1, b->x2, b->y2);
  return buf;
}

}  // namespace

CLI::App* add_label_issues_command(CLI::App& app, LabelIssuesArgs& a) {
  auto& r = a.req;
  auto& o = r.options;
  auto* c = app.add_subcommand(
      "label-issues",
      "the dataset's own label errors (missing, swapped, badloc, spurious, duplicate), from out-of-sample "
      "predictions: --folds K trains K models, each on the other folds; or --checkpoint C");
  c->add_option("--dataset", r.dataset, "dataset (VOC dir, COCO .json); default: the embedded dataset");
  c->add_option("--split", r.split, "the split to check")->capture_default_str();
  c->add_option("--folds", r.folds, "train K models, each on the other folds, and predict each fold out of sample")
      ->check(CLI::Range(2, 100));
  c->add_option("--checkpoint", r.checkpoint, "use this model instead (warns when it trained on the split)");
  c->add_option("--config", r.config, "preset or .json of the fold models (or a torchvision .pth's architecture)")
      ->capture_default_str();
  c->add_option("--classes", r.classes_file, "the model's class names, one per line (torchvision models)");
  c->add_option("--minutes", r.minutes, "training budget of the whole job, shared equally by the folds");
  c->add_option("--iters", r.max_iters, "iterations per fold (overrides solver.max_iters)");
  c->add_option("--set", r.overrides, "config override key=value for the fold models (repeatable)");
  c->add_option("--runs", r.run_root,
                "where the fold runs go (default: runs/label-issues-<split>); rerunning "
                "the command resumes or reuses them");
  c->add_option("--eval-images", r.eval_max_images, "the fold runs' periodic evaluation: N val images");
  c->add_option("--device", r.device)->capture_default_str();
  add_precision_option(*c, r.precision);
  c->add_option("--min-score", o.min_score, "predictions below this are not looked at")->capture_default_str();
  c->add_option("--confident", o.confident, "a prediction this sure can propose a fix")->capture_default_str();
  c->add_option("--missing-iou", o.missing_max_iou, "missing: IoU below this with every GT")->capture_default_str();
  c->add_option("--swap-iou", o.swap_iou, "swapped: the other class's box covers the GT at this IoU")
      ->capture_default_str();
  c->add_option("--badloc-min-iou", o.badloc_min_iou, "badloc: the same-class box overlaps at least this")
      ->capture_default_str();
  c->add_option("--badloc-max-iou", o.badloc_max_iou, "badloc: ... and less than this")->capture_default_str();
  c->add_option("--spurious-iou", o.spurious_near_iou, "spurious: no prediction at least this close")
      ->capture_default_str();
  c->add_option("--duplicate-iou", o.duplicate_iou, "duplicate: two GTs at least this close")->capture_default_str();
  c->add_option("--recall-iou", o.class_recall_iou, "a class is found where a confident same-class box has this IoU")
      ->capture_default_str();
  c->add_option("--swap-pair-prior", o.swap_pair_prior,
                "swapped: divide by 1 + q / this, q the share of the label's GTs the model proposes the same swap "
                "on (0: off)")
      ->capture_default_str();
  c->add_option("--json", a.json, "write {issues: [...], images: [...]} here");
  c->add_option("--top", a.top, "print this many issues")->capture_default_str();
  return c;
}

int run_label_issues_command(LabelIssuesArgs& a) {
  rcnn::api::LabelIssuesJob job(a.req);
  g_job = &job;
  std::signal(SIGINT, on_interrupt);
  rcnn::api::LabelIssuesEvents ev;
  ev.on_message = [](const std::string& m) {
    if (tty()) std::printf("\n");
    std::printf("%s\n", m.c_str());
  };
  ev.on_train_progress = [](int k, int n, const rcnn::api::TrainProgress& p) {
    bar("fold " + std::to_string(k + 1) + "/" + std::to_string(n), p.iter, p.max_iters, losses_str(p));
  };
  ev.on_predict = [](int d, int t) { bar("predict", d, t, ""); };
  const auto res = job.run(ev);
  g_job = nullptr;
  std::signal(SIGINT, SIG_DFL);
  if (tty()) std::printf("\n");
  if (res.state != "completed") {
    std::fprintf(stderr, "rcnn: label-issues %s: %s\n", res.state.c_str(), res.message.c_str());
    return res.state == "stopped" ? 130 : 1;
  }
  const auto& rep = res.report;
  int per_kind[rcnn::api::kNumLabelIssueKinds] = {};
  for (const auto& is : rep.issues) ++per_kind[int(is.kind)];
  std::printf("%zu images, %zu issues:", res.images.size(), rep.issues.size());
  for (int k = 0; k < rcnn::api::kNumLabelIssueKinds; ++k)
    std::printf(" %d %s", per_kind[k], rcnn::api::label_issue_kind_name(rcnn::api::LabelIssueKind(k)));
  std::printf(" (scored in %.3f s)\n", res.seconds_scoring);
  std::printf("%-20s %-9s %6s %4s %-12s %-20s %-12s %s\n", "image", "kind", "score", "gt", "class", "box", "suggested",
              "suggested box");
  for (size_t k = 0; k < rep.issues.size() && int(k) < a.top; ++k) {
    const auto& is = rep.issues[k];
    auto name = [&](int l) { return l >= 0 && size_t(l) < res.class_names.size() ? res.class_names[size_t(l)] : "-"; };
    const bool missing = is.kind == rcnn::api::LabelIssueKind::Missing;
    std::printf("%-20s %-9s %6.3f %4s %-12s %-20s %-12s %s\n", res.images[size_t(is.image)].id.c_str(),
                rcnn::api::label_issue_kind_name(is.kind), is.score,
                missing ? "-" : std::to_string(is.gt_index).c_str(), missing ? "-" : name(is.label).c_str(),
                box_str(is.box).c_str(), name(is.suggested_label).c_str(), box_str(is.suggested_box).c_str());
  }
  if (!a.json.empty()) {
    std::ofstream out(a.json);
    out << rcnn::api::label_issues_to_json(rep, res.images, res.class_names) << "\n";
    if (!out) throw std::runtime_error(a.json + ": cannot write");
    std::printf("wrote %s\n", a.json.c_str());
  }
  return 0;
}
