// Captures (api/capture.h): the writer and the reader walk the one field list
// of capture/trace_fields.h; capture.json carries the scalars, the strings and
// the small per-object records, the .npy members everything per anchor, per
// proposal, per RoI and per pixel.
#include "api/capture.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <type_traits>

#include "capture/npy.h"
#include "capture/trace_fields.h"
#include "capture/zip_archive.h"

namespace rcnn::api {

using J = nlohmann::json;

// JSON forms of the small records (ADL: found from trace_fields' value()).
void to_json(J& j, const Box& b) {
  j = {b.x1, b.y1, b.x2, b.y2};
}
void from_json(const J& j, Box& b) {
  if (!j.is_array() || j.size() != 4) throw std::runtime_error("a box is not 4 numbers");
  b = {j[0].get<float>(), j[1].get<float>(), j[2].get<float>(), j[3].get<float>()};
}
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LevelInfo, name, stride, height, width, anchors_per_location, offset, sizes, ratios,
                                   ratio_major, stride_h, centre_offset)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CrowdRegion, box, box_original, label)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(GtInfo, box, box_original, label, difficult, positive_anchors, best_anchor, best_iou,
                                   best_iou_per_level_shape, rescued_by_low_quality, no_positive, no_positive_reason,
                                   funnel, funnel_reason, funnel_ref, funnel_class, matched_detection)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(GtObject, box, label, difficult, crowd, source_index)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ModelIdentity, family, preset, checkpoint, weights_hash, random_weights, weight_seed)
void to_json(J& j, const FeatureMap& f) {
  j = {{"channels", f.channels}, {"height", f.height}, {"width", f.width}, {"step", f.step}, {"offset", f.offset}};
}
void from_json(const J& j, FeatureMap& f) {
  f.channels = j.at("channels").get<int>();
  f.height = j.at("height").get<int>();
  f.width = j.at("width").get<int>();
  f.step = j.at("step").get<float>();
  f.offset = j.at("offset").get<float>();
}

namespace {

// How an element is stored: enums as their underlying integer, bools as uint8.
template <class E, class = void>
struct Stored {
  using type = E;
};
template <class E>
struct Stored<E, std::enable_if_t<std::is_enum_v<E>>> {
  using type = std::underlying_type_t<E>;
};
template <>
struct Stored<bool> {
  using type = uint8_t;
};
template <class E>
using stored = typename Stored<E>::type;

size_t product(const std::vector<size_t>& v) {
  return std::accumulate(v.begin(), v.end(), size_t(1), std::multiplies<size_t>());
}
std::string member(const std::string& stage, const std::string& field) {
  return stage + "/" + field + ".npy";
}

struct Writer {
  capture::ZipWriter zip;
  J trace = J::object();

  template <class T>
  void value(const char* section, const std::string& key, const T& v) {
    trace[section][key] = v;
  }
  template <class E>
  void array(const char* stage, const std::string& field, const std::vector<E>& v, std::vector<size_t> inner,
             size_t rows = 0) {
    using S = stored<E>;
    static_assert(sizeof(S) == sizeof(E));
    const size_t per = product(inner);
    inner.insert(inner.begin(), per ? v.size() / per : rows);
    zip.add(member(stage, field),
            capture::npy_encode(capture::dtype_of<S>(), inner, v.data(), per ? inner[0] * per * sizeof(E) : 0));
  }
  void half_array(const char* stage, const std::string& field, const std::vector<float>& v,
                  const std::vector<size_t>& inner) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = capture::float_to_half(v[i]);
    encoded(stage, field, capture::Dtype::F16, h.data(), v.size(), 2, inner);
  }
  void pixel_array(const char* stage, const std::string& field, const std::vector<float>& v,
                   const std::vector<size_t>& inner) {
    std::vector<uint8_t> q(v.size());
    for (size_t i = 0; i < v.size(); ++i) q[i] = uint8_t(std::clamp(int(v[i] * 255), 0, 255));
    encoded(stage, field, capture::Dtype::U8, q.data(), v.size(), 1, inner);
  }
  void encoded(const char* stage, const std::string& field, capture::Dtype t, const void* p, size_t n, size_t size,
               std::vector<size_t> inner) {
    const size_t per = product(inner);
    inner.insert(inner.begin(), per ? n / per : 0);
    zip.add(member(stage, field), capture::npy_encode(t, inner, p, per ? inner[0] * per * size : 0));
  }
  template <class Row, class Get>
  void column(const char* stage, const std::string& field, std::vector<Row>& rows, size_t width, Get get) {
    using E = std::remove_pointer_t<decltype(get(rows[0]))>;
    using S = stored<E>;
    std::vector<S> out(rows.size() * width);
    for (size_t r = 0; r < rows.size(); ++r)
      for (size_t k = 0; k < width; ++k) out[r * width + k] = S(get(rows[r])[k]);
    std::vector<size_t> shape = {rows.size()};
    if (width > 1) shape.push_back(width);
    zip.add(member(stage, field),
            capture::npy_encode(capture::dtype_of<S>(), shape, out.data(), out.size() * sizeof(S)));
  }
};

struct Reader {
  const capture::ZipReader& zip;
  const J& trace;
  std::string origin;
  std::set<std::string> members_read;
  std::map<std::string, std::set<std::string>> keys_read;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw std::runtime_error(origin + ": " + where + " " + what);
  }
  template <class T>
  void value(const char* section, const std::string& key, T& v) {
    keys_read[section].insert(key);
    const std::string where = "capture.json: trace." + std::string(section) + "." + key;
    if (!trace.contains(section) || !trace.at(section).is_object() || !trace.at(section).contains(key))
      fail(where, "is missing");
    try {
      trace.at(section).at(key).get_to(v);
    } catch (const std::exception& e) {
      fail(where, std::string("is malformed (") + e.what() + ")");
    }
  }
  capture::NpyArray load(const std::string& name, capture::Dtype want) {
    members_read.insert(name);
    capture::NpyArray a;
    try {
      a = capture::npy_decode(zip.read(name));
    } catch (const capture::NpyError& e) {
      fail("member " + name, e.what());
    }  // ZipReader's own errors name the file and the member already
    if (a.dtype != want)
      fail("member " + name,
           std::string("holds ") + capture::dtype_descr(a.dtype) + ", not " + capture::dtype_descr(want));
    return a;
  }
  capture::NpyArray shaped(const char* stage, const std::string& field, capture::Dtype t,
                           const std::vector<size_t>& inner, size_t* n) {
    const std::string name = member(stage, field);
    auto a = load(name, t);
    const size_t per = product(inner);
    if (a.shape.size() != inner.size() + 1 || !std::equal(inner.begin(), inner.end(), a.shape.begin() + 1))
      fail("member " + name, "has a shape that does not fit the trace's sizes");
    *n = per ? a.shape[0] * per : 0;
    return a;
  }
  template <class E>
  void array(const char* stage, const std::string& field, std::vector<E>& v, const std::vector<size_t>& inner,
             size_t = 0) {
    size_t n = 0;
    const auto a = shaped(stage, field, capture::dtype_of<stored<E>>(), inner, &n);
    v.resize(n);
    if (!v.empty()) std::memcpy(v.data(), a.data.data(), v.size() * sizeof(E));
  }
  void half_array(const char* stage, const std::string& field, std::vector<float>& v,
                  const std::vector<size_t>& inner) {
    size_t n = 0;
    const auto a = shaped(stage, field, capture::Dtype::F16, inner, &n);
    v.resize(n);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, a.data.data() + 2 * i, 2);
      v[i] = capture::half_to_float(h);
    }
  }
  void pixel_array(const char* stage, const std::string& field, std::vector<float>& v,
                   const std::vector<size_t>& inner) {
    size_t n = 0;
    const auto a = shaped(stage, field, capture::Dtype::U8, inner, &n);
    v.resize(n);
    for (size_t i = 0; i < n; ++i) v[i] = (float(uint8_t(a.data[i])) + 0.5f) / 255.f;
  }
  template <class Row, class Get>
  void column(const char* stage, const std::string& field, std::vector<Row>& rows, size_t width, Get get) {
    using E = std::remove_pointer_t<decltype(get(std::declval<Row&>()))>;
    using S = stored<E>;
    const std::string name = member(stage, field);
    const auto a = load(name, capture::dtype_of<S>());
    if (a.shape.size() != (width > 1 ? 2u : 1u) || (width > 1 && a.shape[1] != width))
      fail("member " + name, "is not a column of width " + std::to_string(width));
    // The first column of a record makes the rows; the others must agree.
    if (rows.empty()) rows.resize(a.shape[0]);
    if (a.shape[0] != rows.size())
      fail("member " + name,
           "has " + std::to_string(a.shape[0]) + " rows, its record has " + std::to_string(rows.size()));
    const S* in = reinterpret_cast<const S*>(a.data.data());
    for (size_t r = 0; r < rows.size(); ++r)
      for (size_t k = 0; k < width; ++k) {
        S x;
        std::memcpy(&x, in + r * width + k, sizeof(S));
        get(rows[r])[k] = E(x);
      }
  }
};

const char* kTopKeys[] = {"format", "version", "image", "model", "config", "trace", "view"};

}  // namespace

std::string capture_bytes(const Capture& c) {
  Writer w;
  auto& t = const_cast<PipelineTrace&>(c.trace);  // the field list takes references; the writer only reads
  std::vector<float> pooled;
  if (!c.levels.empty()) pooled.swap(t.roi_features);  // pooled again from the levels when read
  struct Back {
    std::vector<float>& from;
    std::vector<float>& to;
    ~Back() {
      if (!from.empty()) to.swap(from);
    }
  } back{pooled, t.roi_features};
  capture::trace_fields(w, t);
  J pooling = J::array();
  for (size_t l = 0; l < c.levels.size(); ++l) {
    const auto& L = c.levels[l];
    const std::string name = l < t.levels.size() ? t.levels[l].name : "level" + std::to_string(l);
    if (L.data.size() != size_t(L.channels) * size_t(L.height) * size_t(L.width))
      throw std::invalid_argument("capture: level " + name + "'s features do not match its size");
    w.zip.add("features/" + name + ".npy",
              capture::npy_encode(capture::Dtype::F32, {size_t(L.channels), size_t(L.height), size_t(L.width)},
                                  L.data.data(), L.data.size() * 4));
    J p;
    p["name"] = name;
    p["spatial_scale"] = L.spatial_scale;
    p["output_size"] = L.output_size;
    p["sampling_ratio"] = L.sampling_ratio;
    p["aligned"] = L.aligned;
    pooling.push_back(p);
  }
  if (!c.levels.empty()) w.trace["roialign"]["pooled_from"] = pooling;
  const size_t h = size_t(c.image.height), wd = size_t(c.image.width);
  if (c.image.rgb.size() != h * wd * 3)
    throw std::invalid_argument("capture: the image's pixels do not match its size");
  w.zip.add("image/original.npy",
            capture::npy_encode(capture::Dtype::U8, {h, wd, 3}, c.image.rgb.data(), c.image.rgb.size()));
  J doc = J::object();
  doc["format"] = "rcnncap";
  doc["version"] = kCaptureVersion;
  doc["image"] = {{"name", c.image_name}, {"width", c.image.width}, {"height", c.image.height}, {"gt", c.gt}};
  doc["model"] = c.model;
  doc["config"] = c.config_json.empty() ? J::object() : J::parse(c.config_json);
  doc["trace"] = std::move(w.trace);
  doc["view"] = c.view_json.empty() ? J::object() : J::parse(c.view_json);
  w.zip.add("capture.json", doc.dump(1), 6);
  return w.zip.finish();
}

void save_capture(const std::string& path, const Capture& c) {
  const std::string bytes = capture_bytes(c);
  const std::string part = path + ".part";
  {
    std::ofstream f(part, std::ios::binary | std::ios::trunc);
    if (!f || !f.write(bytes.data(), std::streamsize(bytes.size())) || !f.flush()) {
      std::remove(part.c_str());
      throw std::runtime_error(path + ": cannot write the capture");
    }
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    std::remove(part.c_str());
    throw std::runtime_error(path + ": cannot write the capture");
  }
}

Capture read_capture_raw(std::string bytes, const std::string& origin) {
  capture::ZipReader zip(std::move(bytes), origin);
  if (!zip.has("capture.json")) throw std::runtime_error(origin + ": not a capture (no capture.json member)");
  J doc;
  try {
    doc = J::parse(zip.read("capture.json", size_t(256) << 20));
  } catch (const J::exception& e) {
    throw std::runtime_error(origin + ": member capture.json is not JSON (" + e.what() + ")");
  }
  if (!doc.is_object() || doc.value("format", J()) != "rcnncap")
    throw std::runtime_error(origin +
                             ": member capture.json is not an rcnncap capture (\"format\" is not \"rcnncap\")");
  Capture c;
  if (!doc.contains("version") || !doc["version"].is_number_integer())
    throw std::runtime_error(origin + ": member capture.json has no integer \"version\"");
  c.version = doc["version"].get<int>();
  if (c.version > kCaptureVersion)
    c.warnings.push_back("written by a newer version (" + std::to_string(c.version) + ", this reads " +
                         std::to_string(kCaptureVersion) + "): what it added is not shown");
  for (const char* k : {"image", "model", "trace"})
    if (!doc.contains(k) || !doc[k].is_object())
      throw std::runtime_error(origin + ": member capture.json has no \"" + k + "\" object");
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (std::find_if(std::begin(kTopKeys), std::end(kTopKeys), [&](const char* k) { return it.key() == k; }) ==
        std::end(kTopKeys))
      c.warnings.push_back("capture.json: unknown key \"" + it.key() + "\" left out");
  try {
    const J& im = doc["image"];
    c.image_name = im.value("name", "");
    if (im.contains("gt")) im["gt"].get_to(c.gt);
    doc["model"].get_to(c.model);
  } catch (const J::exception& e) {
    throw std::runtime_error(origin + ": member capture.json: image or model is malformed (" + e.what() + ")");
  }
  c.config_json = doc.contains("config") ? doc["config"].dump() : "{}";
  c.view_json = doc.contains("view") ? doc["view"].dump() : "{}";

  Reader r{zip, doc["trace"], origin, {}, {}};
  capture::trace_fields(r, c.trace);
  // The FPN levels the RoI features are pooled from again (the seed family's smaller form).
  const J& roialign = doc["trace"]["roialign"];
  if (roialign.contains("pooled_from")) {
    r.keys_read["roialign"].insert("pooled_from");
    try {
      for (const auto& p : roialign.at("pooled_from")) {
        CaptureLevel L;
        const std::string name = p.at("name").get<std::string>();
        L.spatial_scale = p.at("spatial_scale").get<double>();
        L.output_size = p.at("output_size").get<int>();
        L.sampling_ratio = p.at("sampling_ratio").get<int>();
        L.aligned = p.at("aligned").get<bool>();
        const auto a = r.load("features/" + name + ".npy", capture::Dtype::F32);
        if (a.shape.size() != 3 || a.shape[0] > 1u << 16 || a.shape[1] > 1u << 15 || a.shape[2] > 1u << 15)
          r.fail("member features/" + name + ".npy", "is not a (C, H, W) feature map");
        L.channels = int(a.shape[0]);
        L.height = int(a.shape[1]);
        L.width = int(a.shape[2]);
        L.data.resize(a.elements());
        std::memcpy(L.data.data(), a.data.data(), a.data.size());
        c.levels.push_back(std::move(L));
      }
    } catch (const J::exception& e) {
      r.fail("capture.json: trace.roialign.pooled_from", std::string("is malformed (") + e.what() + ")");
    }
  }
  const auto original = r.load("image/original.npy", capture::Dtype::U8);
  if (original.shape.size() != 3 || original.shape[2] != 3 || original.shape[0] > 1u << 16 ||
      original.shape[1] > 1u << 16)
    throw std::runtime_error(origin + ": member image/original.npy is not an (H, W, 3) image");
  c.image.height = int(original.shape[0]);
  c.image.width = int(original.shape[1]);
  c.image.rgb.assign(original.data.begin(), original.data.end());

  r.members_read.insert("capture.json");
  for (const auto& n : zip.names())
    if (!r.members_read.count(n)) c.warnings.push_back("member " + n + " is not one this version reads: left out");
  for (auto it = doc["trace"].begin(); it != doc["trace"].end(); ++it) {
    const auto& known = r.keys_read[it.key()];
    if (known.empty()) {
      c.warnings.push_back("capture.json: unknown trace section \"" + it.key() + "\" left out");
      continue;
    }
    if (it->is_object())
      for (auto k = it->begin(); k != it->end(); ++k)
        if (!known.count(k.key()))
          c.warnings.push_back("capture.json: unknown key trace." + it.key() + "." + k.key() + " left out");
  }
  try {
    validate_trace(c.trace);
  } catch (const std::exception& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
  return c;
}

}  // namespace rcnn::api
