#pragma once
// Internal to core/api: the FPN levels of the current image
// copied into a trace as images (channel mean, channel max and one chosen
// channel per level), with where each feature cell sits on the input, for
// the RoIAlign stage's feature-map view. session_seed.cpp and session_tv.cpp
// call it.
#include <vector>

#include "api/trace.h"

namespace at {
class Tensor;  // torch::Tensor; only feature_maps.cpp needs its definition
}

namespace rcnn::api {

// feats[l]: (1, C, H_l, W_l). steps[l]: input pixels per cell of level l
// (1 / RoIAlign's spatial scale); offset: feature coordinate v sits at input
// pixel (v + offset) · step (0.5 under RoIAlign's aligned mode, else 0).
// The channel is clamped to [0, C).
void fill_feature_maps(PipelineTrace& t, const std::vector<at::Tensor>& feats, const std::vector<float>& steps,
                       float offset, int channel);

}  // namespace rcnn::api
