#pragma once
// What the mouse is over on the canvas, and whether it still addresses an
// item of a given trace.
#include <QMetaType>

#include "api/trace.h"

namespace studio {

// TrainRoi: a candidate RoI of the training step (index into trace.train.rois).
// SamplePoint: a RoIAlign sampling point (index = point pair into trace.roi_points).
enum class HitKind { None, Gt, Anchor, Proposal, Detection, TrainRoi, SamplePoint };

struct Hit {
  HitKind kind = HitKind::None;
  int index = -1;
  rcnn::api::Box box;
};

// Whether a hit's index addresses an item of this trace (a hit can outlive
// the trace it was made on while a newer trace arrives).
inline bool hitValid(const Hit& h, const rcnn::api::PipelineTrace& t) {
  const int i = h.index;
  switch (h.kind) {
    case HitKind::Gt:
      return i >= 0 && i < int(t.gt.size());
    case HitKind::Anchor:
      return i >= 0 && i < int(t.anchors.size());
    case HitKind::Proposal:
      return i >= 0 && i < int(t.proposals.size());
    case HitKind::Detection:
      return i >= 0 && i < int(t.detections.size()) && t.detections[size_t(i)].label < t.num_classes() &&
             size_t(t.detections[size_t(i)].proposal + 1) * size_t(t.num_classes() + 1) <= t.class_probs.size();
    case HitKind::SamplePoint:
      return i >= 0 && size_t(2 * i + 1) < t.roi_points.size() && t.roi_points_fmap.size() == t.roi_points.size();
    case HitKind::TrainRoi:
      return i >= 0 && i < int(t.train.rois.size());
    default:
      return false;
  }
}

}  // namespace studio

Q_DECLARE_METATYPE(studio::Hit)
