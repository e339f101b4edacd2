#pragma once
#include <imgui.h>

#include "api/types.h"

namespace studio {
// The class colours of every front end (rcnn::api::class_rgb) as ImGui colours.
inline ImU32 classColor(int label) {
  const auto c = rcnn::api::class_rgb(label);
  return IM_COL32(c.r, c.g, c.b, 255);
}
}  // namespace studio
