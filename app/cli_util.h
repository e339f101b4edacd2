#pragma once
// Terminal helpers shared by the rcnn subcommands.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "api/train_job.h"

bool tty();
std::string hms(double s);
// A progress bar on a terminal (nothing otherwise).
void bar(const std::string& what, int64_t done, int64_t total, const std::string& tail);
std::string losses_str(const rcnn::api::TrainProgress& p);
// --precision fp32|bf16 (the opt-in bf16 inference path; refused where the CPU lacks it).
void add_precision_option(CLI::App& command, std::string& precision);
