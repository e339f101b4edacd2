#pragma once
// What changed between two captures of one image (rcnn diff, the studio's
// View -> Compare captures), stage by stage in pipeline order. No torch here.
#include <string>
#include <vector>

#include "api/capture.h"

namespace rcnn::api {

struct AnchorFlip {
  int anchor = -1;
  AnchorLabel from = AnchorLabel::Neutral, to = AnchorLabel::Neutral;
};
struct RoiChange {               // a RoI both kept (the same anchor's proposal) whose most probable class changed
  int a = -1, b = -1;            // kept indices
  int class_a = 0, class_b = 0;  // argmax of class_probs, 0 = background
};
struct VerdictChange {
  int gt = -1;
  Funnel from = Funnel::Detected, to = Funnel::Detected;
  // The studio stage where the two runs part for this GT: the stage of whichever verdict comes first in
  // pipeline order (a GT detected by A and lost at the proposals by B changed at "Proposals").
  Stage stage = Stage::Predictions;
};

struct CaptureDiff {
  std::vector<std::string> notes;        // why a part was not compared (another image, other anchors, other GTs)
  bool same_anchors = false;             // the anchors are the same boxes: per-anchor changes are compared
  bool same_gt = false;                  // the same GT boxes and labels: verdicts are compared
  std::vector<AnchorFlip> anchor_flips;  // Matching
  int sampled_fg_changed = 0, sampled_bg_changed = 0;  // Sampling: anchors in one sample and not the other
  std::vector<int> proposals_entered;                  // Proposals: indices into B's proposals kept by B and not by A
  std::vector<int> proposals_left;                     // indices into A's proposals kept by A and not by B
  std::vector<RoiChange> rois;                         // RoIAlign / Predictions: reclassified RoIs
  std::vector<int> detections_added;    // indices into B's detections with no same-class IoU >= 0.5 partner in A
  std::vector<int> detections_removed;  // indices into A's detections with none in B
  std::vector<VerdictChange> gt;
  bool empty() const;
};

CaptureDiff diff_captures(const Capture& a, const Capture& b);
std::string diff_to_json(const CaptureDiff& d);
std::string diff_to_text(const CaptureDiff& d, const Capture& a, const Capture& b);
// The studio stage a GT verdict belongs to (Matching, Proposals, Predictions; Image+GT for Ignored).
Stage funnel_stage(Funnel f);

}  // namespace rcnn::api
