#pragma once
// `rcnn inspect` (one image's pipeline trace as JSON), `rcnn export` (a
// checkpoint stripped for shipping) and `rcnn make-dataset`.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "api/dataset.h"

struct InspectArgs {
  std::string image, checkpoint, config = "default", dataset, split = "val", out, device = "cpu", classes,
      precision = "fp32";
  int index = -1;
  bool full = false;
  uint64_t seed = 0;
};
struct ExportArgs {
  std::string checkpoint, out;
};
struct MakeDatasetArgs {
  rcnn::api::FashionRequest req;
  std::string kind;
};

CLI::App* add_inspect_command(CLI::App& app, InspectArgs& a);
int run_inspect_command(const InspectArgs& a);
CLI::App* add_export_command(CLI::App& app, ExportArgs& a);
int run_export_command(const ExportArgs& a);
CLI::App* add_make_dataset_command(CLI::App& app, MakeDatasetArgs& a);
int run_make_dataset_command(MakeDatasetArgs& a);
