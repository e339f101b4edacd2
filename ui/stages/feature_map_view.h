#pragma once
// The RoIAlign stage's feature-map view: an FPN level of the current image
// drawn as an image under the overlays, each cell at its place on the input
// (PipelineTrace::feature_maps), and a sampling point's bilinear tap: the
// four cells it reads and their weights (rcnn::api::roi_align_tap, the
// kernel's own), with the sample-position formula in numbers.
#include <QString>

#include "api/trace.h"

namespace studio {

struct DrawContext;

enum class FeatureMode { Off = 0, Mean, Max, Channel };

const std::vector<float>& featureValues(const rcnn::api::FeatureMap& m, FeatureMode mode);
// The level's image; maps over 12k cells are drawn in blocks (their mean).
void drawFeatureMap(DrawContext& dc, const rcnn::api::FeatureMap& m, FeatureMode mode, float opacity);
// Cell borders of the map inside box b (input coordinates), when cells are
// at least 6 screen pixels wide.
void drawCellGrid(DrawContext& dc, const rcnn::api::FeatureMap& m, const rcnn::api::Box& b);
// The kept RoI a sample point (pair index into roi_points) belongs to, and
// its index within that RoI's points.
int roiOfPoint(const rcnn::api::PipelineTrace& t, int point, int* local = nullptr);
// The point's four tap cells outlined with their weights.
void drawTap(DrawContext& dc, const rcnn::api::PipelineTrace& t, int point);
// x = x1·s − o + pw·bin_w + (ix + 0.5)·bin_w / grid, the same for y, then the
// tap's cells, weights and values under `mode`, and their weighted sum.
QString samplePointFormula(const rcnn::api::PipelineTrace& t, int point, FeatureMode mode);

}  // namespace studio
