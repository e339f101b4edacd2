#pragma once
#include <imgui.h>

namespace studio {
// Distinct class colours (Sasha Trubetskoy's 10).
inline ImU32 classColor(int label) {
  static const ImU32 pal[] = {IM_COL32(230, 25, 75, 255),  IM_COL32(60, 180, 75, 255),  IM_COL32(255, 225, 25, 255),
                              IM_COL32(67, 99, 216, 255),  IM_COL32(245, 130, 49, 255), IM_COL32(145, 30, 180, 255),
                              IM_COL32(66, 212, 244, 255), IM_COL32(240, 50, 230, 255), IM_COL32(191, 239, 69, 255),
                              IM_COL32(250, 190, 212, 255)};
  return pal[(label < 0 ? -label : label) % 10];
}
}  // namespace studio
