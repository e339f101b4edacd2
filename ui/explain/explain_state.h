#pragma once
// The studio's "Explain a box" state (issue #31), shared by the stages, the
// explain controls and the canvas through the StudioContext: what is asked
// (the pickers), what the current stage points at, and what is shown.
#include <QString>
#include <memory>
#include <string>

#include "api/explain.h"

namespace studio {

// What a stage explains: api::ExplainRequest's target and index ("" = nothing selected).
struct ExplainTarget {
  std::string kind;  // "det" | "gt" | "roi" | "proposal" | "anchor"
  int index = -1;
  bool valid() const { return !kind.empty() && index >= 0; }
  bool operator==(const ExplainTarget& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const ExplainTarget& o) const { return !(*this == o); }
  QString text() const { return QString("%1:%2").arg(QString::fromStdString(kind)).arg(index); }
};

// The pickers (ui/explain/explain_controls.h), one set for every stage.
struct ExplainSettings {
  bool enabled = false;
  // "hirescam" | "gradcam" | "inputgrad" | "drise"; HiResCAM first: on the bundled model it points at the
  // object, Grad-CAM's level-wide weights mostly do not (docs/explain.md)
  std::string method = "hirescam";
  int level = -1;         // gradcam / hirescam: FPN level index; -1 = the RoI's own
  bool backbone = false;  // gradcam / hirescam: the backbone's level of the same stride
  int masks = 1000;       // drise
  bool operator==(const ExplainSettings& o) const {
    return enabled == o.enabled && method == o.method && level == o.level && backbone == o.backbone && masks == o.masks;
  }
  bool operator!=(const ExplainSettings& o) const { return !(*this == o); }
};

// What the canvas shows: the map of one target on one trace, or why there is none.
struct ExplainShown {
  std::shared_ptr<const rcnn::api::ExplainResult> result;  // null: nothing to draw
  QString key;                                             // the cache key it was computed for
  QString imagePath;                                       // the image it belongs to
  quint64 generation = 0;                                  // the trace it belongs to (StudioContext::traceGeneration)
  QString status;                                          // "Grad-CAM p4 of det:0 …", "computing …", the error
  bool error = false;
  bool busy = false;
  int done = 0, total = 0;  // D-RISE progress
};

// Whether a method reads one level's activations (the level and backbone pickers apply).
inline bool explainOnLevel(const std::string& m) {
  return m == "gradcam" || m == "hirescam";
}

// Human names of the methods, as the pickers list them.
inline QString explainMethodName(const std::string& m) {
  if (m == "gradcam") return "Grad-CAM";
  if (m == "hirescam") return "HiResCAM";
  if (m == "inputgrad") return "input × gradient";
  if (m == "drise") return "D-RISE";
  return QString::fromStdString(m);
}

}  // namespace studio
