#pragma once
// The stages of the pipeline in the order a user steps through them: the
// one list the Stage enum, the stage names and the studio's stage views
// (ui/stages/stage_registry.cpp) are made from. A new stage is one line here,
// its view's file (ui/stages/<name>_stage.cpp, defining make<Id>Stage) and
// that file's line in ui/CMakeLists.txt. No torch here.
//
// X(Id, display name, shows the training step on the current image)
// RoiSampling and Losses show the training step (the second stage's matching
// and sampling, the four losses per sample); the inference pipeline goes from
// RoIAlign to Predictions.
#define RCNN_STAGE_LIST(X)                  \
  X(Image, "Image+GT", false)               \
  X(Anchors, "Anchors", false)              \
  X(Matching, "Matching", false)            \
  X(Sampling, "Sampling", false)            \
  X(Proposals, "Proposals", false)          \
  X(RoIAlign, "RoIAlign", false)            \
  X(RoiSampling, "RoI sampling", true)      \
  X(Losses, "Losses", true)                 \
  X(Predictions, "Predictions", false)
