#include "cli_train.h"

#include <cstdio>
#include <filesystem>

#include "cli_util.h"

namespace fs = std::filesystem;

CLI::App* add_train_command(CLI::App& app, TrainArgs& a) {
  auto& tr = a.req;
  auto* train = app.add_subcommand("train", "train a detector (resumable; data parallel with --nproc / --nnodes)");
  train->add_option("--config", tr.config, "preset name (seed, default, fast, torchvision_*) or a .json file")
      ->capture_default_str();
  train->add_option("--dataset", tr.dataset, "dataset (VOC dir, COCO .json); default: the embedded dataset");
  train->add_option("--checkpoint", tr.init_checkpoint,
                    "torchvision presets: the state dict (.pth) to fine-tune (default: random weights)");
  train->add_option("--out", a.out_dir, "runs directory")->capture_default_str();
  train->add_option("--name", a.name, "run name (runs/<name>); default: the preset name");
  train->add_option("--run-dir", a.run_dir, "the run directory itself (instead of --out/--name)");
  train->add_flag("--resume", tr.resume, "continue runs/<name> from its last checkpoint");
  train->add_option("--epochs", tr.epochs, "number of epochs");
  train->add_option("--iters", tr.max_iters, "number of iterations (overrides solver.max_iters)");
  train->add_option("--minutes", tr.minutes, "wall-clock budget; the schedule is fitted to it");
  train->add_option("--device", tr.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  train->add_option("--set", tr.overrides, "config override key=value (repeatable), e.g. rpn.iou_hi=0.7");
  train->add_option("--eval-images", tr.eval_max_images, "limit periodic evaluation to N val images");
  train
      ->add_option("--probe-images", tr.probe_images,
                   "capture the first N val images at every evaluation into RUN/probes/ (the Training panel's "
                   "timeline; 0: none)")
      ->capture_default_str();
  train->add_option("--val-fraction", tr.val_fraction,
                    "hold out this fraction of the train split for validation (needed for a single COCO file)");
  train->add_option("--folds", tr.folds, "with --fold: split the train split into K folds (by image id) ...")
      ->check(CLI::Range(2, 100));
  train->add_option("--fold", tr.fold, "... and train on every fold but this one (0-based), as label-issues does")
      ->check(CLI::Range(0, 99));
  train->add_option("--nproc", tr.nproc,
                    "data-parallel processes on this machine (Gloo on the CPU, NCCL with one GPU each); "
                    "solver.batch_size images each")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  train->add_option("--nnodes", tr.nnodes, "machines in the run (each runs this command with its --node-rank)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  train->add_option("--node-rank", tr.node_rank, "this machine's index, 0 .. nnodes-1 (0 hosts the rendezvous)")
      ->check(CLI::Range(0, 4095))
      ->capture_default_str();
  train->add_option("--master", tr.master,
                    "HOST:PORT of node 0's rendezvous (needed with --nnodes > 1; default: a free local port)");
  train->add_option("--dist-timeout", tr.dist_timeout_s,
                    "seconds a rank waits for the others before it fails naming them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return train;
}

int run_train_command(TrainArgs& a) {
  auto& tr = a.req;
  if (!a.run_dir.empty()) {
    tr.run_dir = a.run_dir;
  } else {
    if (a.name.empty()) a.name = fs::path(tr.config).stem().string();
    tr.run_dir = (fs::path(a.out_dir) / a.name).string();
  }
  rcnn::api::TrainJob job(tr);
  rcnn::api::TrainEvents ev;
  ev.on_progress = [&](const rcnn::api::TrainProgress& p) { bar("train", p.iter, p.max_iters, losses_str(p)); };
  ev.on_log = [&](const rcnn::api::TrainProgress& p) {
    if (!tty())
      std::printf("iter %lld/%lld epoch %lld %s\n", (long long)p.iter, (long long)p.max_iters, (long long)p.epoch,
                  losses_str(p).c_str());
    std::fflush(stdout);
  };
  ev.on_message = [&](const std::string& m) {
    std::printf("%s%s\n", tty() ? "\r\033[K" : "", m.c_str());
    std::fflush(stdout);
  };
  ev.on_eval = [&](int64_t it, double m) {
    std::printf("%seval iter %lld: val mAP@0.5 = %.4f\n", tty() ? "\r\033[K" : "", (long long)it, m);
    std::fflush(stdout);
  };
  auto r = job.run(ev);
  if (tty()) std::printf("\n");
  if (r.state == "failed") {
    std::fprintf(stderr, "rcnn train: %s\n", r.message.c_str());
    return 1;
  }
  if (r.rank > 0)
    std::printf("rank %d of %d %s: %s (rank 0 evaluates and writes %s)\n", r.rank, r.world_size, r.state.c_str(),
                r.message.c_str(), r.run_dir.c_str());
  else
    std::printf("%s: %s; best val mAP@0.5 %.4f; run dir %s\n", r.state.c_str(), r.message.c_str(), r.best_map,
                r.run_dir.c_str());
  return 0;
}
