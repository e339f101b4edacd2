#pragma once
class QApplication;
namespace studio {
// Fusion style; a dark palette when the platform palette is dark, or when
// RCNN_THEME=dark (RCNN_THEME=light forces the light one).
void applyTheme(QApplication& app);
}  // namespace studio
