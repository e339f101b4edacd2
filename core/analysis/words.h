#pragma once
// The accounting engine's words: numbers, anchors and classes as its sentences
// name them (internal to core/analysis).
#include <algorithm>
#include <sstream>
#include <string>

#include "api/trace.h"

namespace rcnn::analysis::words {
using namespace api;

inline std::string num(double v, int precision = 3) {
  std::ostringstream os;
  os.precision(precision);
  os << v;
  return os.str();
}

// "p4, size 32, ratio 1" of anchor k.
inline std::string anchor_words(const PipelineTrace& t, int k) {
  const auto a = t.anchor_pos(k);
  const auto& L = t.levels[size_t(a.level)];
  return L.name + ", size " + num(L.sizes[size_t(L.size_index(a.shape))]) + ", ratio " +
         num(L.ratios[size_t(L.ratio_index(a.shape))]);
}

inline float area(const Box& b) {
  return std::max(0.f, b.width()) * std::max(0.f, b.height());
}

inline std::string class_words(const PipelineTrace& t, int label) {
  if (label < 0) return "background";
  return label < t.num_classes() ? t.class_names[size_t(label)] : "class " + std::to_string(label);
}

}  // namespace rcnn::analysis::words
