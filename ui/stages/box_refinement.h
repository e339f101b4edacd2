#pragma once
// Box refinement as the studio draws and explains it: an arrow from a box to
// the box its deltas move it to (positive anchor -> its decoded proposal in
// the Proposals stage, kept RoI -> its class box in the Predictions stage),
// and the decode formula with the hovered item's numbers. The boxes come from
// rcnn::api::apply_deltas, which the core tests hold equal to the detector's
// own proposals and class boxes.
#include <QString>

#include "api/trace.h"

namespace studio {

struct DrawContext;

// A line from the centre of `from` to the centre of `to` with an arrowhead.
void drawRefineArrow(DrawContext& dc, const rcnn::api::Box& from, const rcnn::api::Box& to, unsigned colour);

// Anchor k moved by its RPN deltas (weights 1, clamp rpn_scale_clamp), clipped.
rcnn::api::Box rpnDecoded(const rcnn::api::PipelineTrace& t, int k);
// "x̂ = px + pw·dx = …" for anchor k, every number filled in.
QString rpnDecodeFormula(const rcnn::api::PipelineTrace& t, int k);
// The same for kept RoI r and class c with the RoI head's deltas and weights.
QString roiDecodeFormula(const rcnn::api::PipelineTrace& t, int r, int c);

}  // namespace studio
