#pragma once
// Internal to core: torchvision's levels as a trace describes them (names,
// grids, per-axis strides, sizes and ratios), shared by the torchvision
// family's Anchors stage and its anchor model.
#include <vector>

#include "api/trace.h"
#include "modeling/torchvision/tv_anchors.h"
#include "modeling/torchvision/tv_options.h"

namespace rcnn::api {

std::vector<LevelInfo> tv_level_infos(const modeling::tv::TvOptions& o,
                                      const std::vector<modeling::tv::LevelGrid>& grids);

}  // namespace rcnn::api
