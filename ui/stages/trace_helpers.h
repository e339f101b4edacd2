#pragma once
// Small read-only helpers over a trace, shared by the stages, the canvas and
// the panels (one definition each).
#include <QString>
#include <algorithm>

#include "api/trace.h"

namespace studio {

// Level, cell and shape of a global anchor index: PipelineTrace::anchor_pos.
inline rcnn::api::PipelineTrace::AnchorPos anchorPos(const rcnn::api::PipelineTrace& t, int k) {
  return t.anchor_pos(k);
}
inline float anchorRatio(const rcnn::api::LevelInfo& L, int shape) {
  return L.ratios[size_t(L.ratio_index(shape))];
}
inline float anchorSize(const rcnn::api::LevelInfo& L, int shape) {
  return L.sizes[size_t(L.size_index(shape))];
}

// The heat colour map (dark blue -> red -> yellow) of v in [0, 1].
struct Rgb {
  int r, g, b;
};
inline Rgb heatRgb(float v) {
  v = std::clamp(v, 0.f, 1.f);
  return {int(255 * std::min(1.f, 2 * v)), int(255 * std::max(0.f, 2 * v - 1)), int(160 * (1 - v))};
}

// The studio stage that shows where the funnel lost a GT (the panels open it there).
inline rcnn::api::Stage stageOfFunnel(rcnn::api::Funnel f) {
  using rcnn::api::Funnel;
  switch (f) {
    case Funnel::NoPositiveAnchor:
      return rcnn::api::Stage::Matching;
    case Funnel::CutByPreNmsTopk:
    case Funnel::NoCoveringCandidate:
    case Funnel::TooSmall:
    case Funnel::BelowRpnScore:
    case Funnel::SuppressedByNms:
    case Funnel::CutByPostNmsTopk:
      return rcnn::api::Stage::Proposals;
    default:
      return rcnn::api::Stage::Predictions;
  }
}

inline QString className(const rcnn::api::PipelineTrace& t, int label) {
  return label >= 0 && label < t.num_classes() ? QString::fromStdString(t.class_names[size_t(label)]) : "?";
}

inline QString f1(double v) {
  return QString::number(v, 'f', 1);
}
inline QString f3(double v) {
  return QString::number(v, 'f', 3);
}
// IoU of anchor k with its best GT and the deltas that would encode it, with
// numbers (matching_stage.cpp; the Sampling stage shows it too).
QString anchorMatchFormula(const rcnn::api::PipelineTrace& t, int k);

inline QString boxStr(const rcnn::api::Box& b) {
  return QString("(%1, %2, %3, %4)").arg(f1(b.x1), f1(b.y1), f1(b.x2), f1(b.y2));
}

}  // namespace studio
