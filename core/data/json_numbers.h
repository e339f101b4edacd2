// Numbers from JSON files read strictly. JSON may hold any double and
// integers past int64; converting one that does not fit the C++ type is
// undefined behaviour, so every reader of user files goes through these.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace rcnn::data {

// An integer (or an integral double) within int64; empty when not.
inline std::optional<int64_t> json_integer(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return int64_t(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) return int64_t(d);
  }
  return std::nullopt;
}

// A number within [lo, hi] (finite); empty when not a number or outside.
inline std::optional<double> json_real(const nlohmann::json& v, double lo, double hi) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  if (!(d >= lo && d <= hi)) return std::nullopt;
  return d;
}

}  // namespace rcnn::data
