#pragma once
// Internal to core/config: one field's value <-> JSON, driven by the field
// table (config_fields.h).
#include <nlohmann/json.hpp>

#include "config/config_fields.h"

namespace rcnn::detail {

nlohmann::ordered_json field_to_json(const DetectorConfig& cfg, const FieldSpec& f);
// Throws ConfigError "<key>: <what>" when the JSON value has the wrong type.
void field_from_json(DetectorConfig& cfg, const FieldSpec& f, const nlohmann::ordered_json& v);

// The whole config as nested JSON, in table order.
nlohmann::ordered_json config_to_json(const DetectorConfig& cfg);
// Every field read from nested JSON that has all keys (defaults merged in).
DetectorConfig config_from_json(const nlohmann::ordered_json& j);

}  // namespace rcnn::detail
