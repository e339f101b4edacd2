// The config loader: the input's first lines up to a line "---" are --set
// overrides (key=value), the rest a config JSON. Bad input must be a
// ConfigError; a config that loads must validate.
#include <sstream>

#include "config/detector_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto sep = in.find("\n---\n");
  const std::string sets = sep == std::string::npos ? "" : in.substr(0, sep);
  const std::string json = sep == std::string::npos ? in : in.substr(sep + 5);
  try {
    auto cfg = rcnn::config_from_json_string(json, "fuzz.json");
    std::istringstream lines(sets);
    for (std::string l; std::getline(lines, l);) rcnn::apply_override(cfg, l);
    cfg.validate();
    rcnn::config_from_json_string(rcnn::config_to_json_string(cfg), "round trip");  // what we write, we read
  } catch (const rcnn::ConfigError&) {
  }
  return 0;
}
