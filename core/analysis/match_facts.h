#pragma once
// Per-GT facts of the matching stage, read off a trace's IoU matrix and
// anchor labels: positive anchor count, best IoU and anchor, best IoU per
// (level, anchor shape). Plain C++; the session calls it after matching.
#include "api/trace.h"

namespace rcnn::analysis {

void fill_gt_match_facts(api::PipelineTrace& t);

}  // namespace rcnn::analysis
