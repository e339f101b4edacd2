#pragma once
// Internal to core: how the families' anchor search spaces write a
// candidate's settings (JSON values for apply_override).
#include <sstream>
#include <string>
#include <vector>

namespace rcnn::pipeline {

inline std::string json_number(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

inline std::string json_list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + json_number(v[i]);
  return s + "]";
}

}  // namespace rcnn::pipeline
