#pragma once
// Internal to core/api: one matcher result copied into a trace's matching
// stage (anchor labels, best GT and IoU, low-quality flags, IoU matrix) and
// the per-GT facts read off it. The Session and the coverage job share it.
#include "api/trace.h"
#include "modeling/matcher.h"

namespace rcnn::api {

void fill_match_stage(PipelineTrace& t, const modeling::MatchResult& m);

}  // namespace rcnn::api
