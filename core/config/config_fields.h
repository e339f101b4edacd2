#pragma once
// The one table of config fields. Each option of DetectorConfig is declared
// once here (config_fields.cpp): its dotted key, its doc line, its range or
// choices, the pipeline stages a change re-runs and whether it changes weight
// shapes. JSON load/save, validation, the Session's dirty map, the model's
// shape compatibility and the studio's Parameters panel are all generated
// from it. Plain C++ (no torch, no JSON types): front ends include it.
#include <string>
#include <vector>

#include "config/detector_config.h"

namespace rcnn {

// Pipeline stages a field change makes stale (the earliest one is enough:
// later stages follow). 0 = the field only matters for training.
enum StageBits : unsigned {
  kStageImage = 1u << 0,      // resize + normalise the input
  kStageBackbone = 1u << 1,   // backbone, FPN, RPN head
  kStageAnchors = 1u << 2,    // anchor generation
  kStageMatch = 1u << 3,      // anchor/GT matching
  kStageSample = 1u << 4,     // fg/bg sampling
  kStageProposals = 1u << 5,  // decode, top-k, NMS
  kStageRoi = 1u << 6,        // RoIAlign + RoI head
  kStagePred = 1u << 7,       // post-processing (score threshold, NMS, cap)
  kStageTrain = 1u << 8,      // the training step on this image (RoI sampling, losses)
  kStageAll = 0x1FFu,
};

enum class FieldKind { Int, UInt64, Double, Bool, String, IntList, DoubleList, FloatList, StringList, DoubleLists };

struct FieldSpec {
  std::string key;    // dotted JSON path, e.g. "rpn.iou_lo"
  std::string group;  // section of the Parameters panel
  std::string doc;    // one line, shown as tooltip
  FieldKind kind = FieldKind::Double;
  // Numeric range of the value (or of every list element); NaN = unbounded.
  double min = 0, max = 0;
  bool min_open = false;             // value must be > min (not >=)
  bool non_empty = false;            // lists: at least one element
  std::vector<std::string> choices;  // strings: the allowed values
  unsigned dirties = 0;              // StageBits re-run by a change
  bool shape = false;                // a change alters weight shapes (the model is rebuilt)
  bool from_model = false;           // set by the model/dataset, not edited in the studio
  void* (*ref)(DetectorConfig&) = nullptr;

  bool numeric() const { return kind == FieldKind::Int || kind == FieldKind::UInt64 || kind == FieldKind::Double; }
  bool list() const {
    return kind == FieldKind::IntList || kind == FieldKind::DoubleList || kind == FieldKind::FloatList ||
           kind == FieldKind::StringList || kind == FieldKind::DoubleLists;
  }
};

// Every field, in JSON order.
const std::vector<FieldSpec>& config_fields();
// nullptr when there is no such key.
const FieldSpec* find_field(const std::string& key);

// A field's value as JSON text ("0.7", "[0.5, 1.0]", "\"size\"").
std::string field_json(const DetectorConfig& cfg, const FieldSpec& f);
// Range/choice check of one field; throws ConfigError naming it.
void check_field(const DetectorConfig& cfg, const FieldSpec& f);

// Union of the StageBits of the fields that differ between a and b.
unsigned changed_stages(const DetectorConfig& a, const DetectorConfig& b);
// Keys of the fields that differ.
std::vector<std::string> changed_fields(const DetectorConfig& a, const DetectorConfig& b);
// Whether a model built for a can run with b: no shape field differs and the
// number of anchors per location (ratios x scales) is the same.
bool same_weight_shapes(const DetectorConfig& a, const DetectorConfig& b);

}  // namespace rcnn
