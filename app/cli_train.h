#pragma once
// `rcnn train`: one process, N local processes (--nproc), or one node of a
// multi-machine run (--nnodes/--node-rank/--master, or torchrun's variables).
#include <CLI/CLI.hpp>
#include <string>

#include "api/train_job.h"

struct TrainArgs {
  rcnn::api::TrainRequest req;
  std::string out_dir = "runs", name, run_dir;
};

CLI::App* add_train_command(CLI::App& app, TrainArgs& a);
int run_train_command(TrainArgs& a);
