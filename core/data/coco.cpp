// COCO JSON reader: images, annotations [x, y, w, h], categories with
// non-contiguous ids (mapped to 0-based labels in id order), iscrowd kept as
// ignore regions.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/json_numbers.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace rcnn::data {
namespace {

// An integer field of an entry: the value, or a DataError naming it.
int64_t integer_field(const json& entry, const char* field, const std::function<std::string()>& where) {
  const auto& v = entry.at(field);
  const auto i = json_integer(v);
  if (!i) throw DataError(where() + ": " + field + " is " + v.dump().substr(0, 60) + ", not an integer id");
  return *i;
}

// One annotation as read: its fields, or the message of what was wrong with it.
struct RawAnnotation {
  std::string id;  // as written in the file, for messages
  int64_t image_id = 0, category_id = 0;
  float box[4] = {0, 0, 0, 0};  // x, y, w, h
  bool crowd = false;
  float area = -1;  // the annotation's `area`, < 0 when absent
  int error = -1;  // index into the error messages, or -1
};

RawAnnotation compact(const json& a, const std::string& json_path, std::vector<std::string>& errors) {
  RawAnnotation r;
  r.id = a.contains("id") ? a["id"].dump() : std::string("?");
  // Messages only: built when something is wrong, not for each of a million good annotations.
  auto where = [&] { return json_path + ": annotation " + r.id; };
  try {
    r.image_id = integer_field(a, "image_id", where);
    r.category_id = integer_field(a, "category_id", where);
    const auto& bb = a.at("bbox");
    if (!bb.is_array() || bb.size() != 4) throw DataError(where() + ": bbox must be [x, y, w, h]");
    const char* names[] = {"x", "y", "w", "h"};
    for (int k = 0; k < 4; ++k) {
      if (!bb[size_t(k)].is_number())
        throw DataError(where() + ": bbox[" + std::to_string(k) + "] (" + names[k] + ") is " + bb[size_t(k)].dump() +
                        ", not a number");
      // Coordinates within ±1e9, as VOC's (a float holds them; a larger
      // double would not convert).
      const auto d = json_real(bb[size_t(k)], -1e9, 1e9);
      if (!d)
        throw DataError(where() + ": bbox[" + std::to_string(k) + "] (" + names[k] + ") is " + bb[size_t(k)].dump() +
                        ", out of range [-1e9, 1e9]");
      r.box[k] = float(*d);
    }
    if (a.contains("area") && !a["area"].is_null()) {
      const auto v = json_real(a["area"], 0, 1e18);
      if (!v) throw DataError(where() + ": area is " + a["area"].dump().substr(0, 60) + ", not a number >= 0");
      r.area = float(*v);
    }
    if (a.contains("iscrowd")) {
      const auto& c = a["iscrowd"];
      if (!(c.is_number_integer() || c.is_boolean()))
        throw DataError(where() + ": iscrowd is " + c.dump() + ", not 0 or 1");
      r.crowd = c.is_boolean() ? c.get<bool>() : c.get<int64_t>() != 0;
    }
  } catch (const json::exception& e) {
    r.error = int(errors.size());
    errors.push_back(where() + ": " + e.what());
  } catch (const DataError& e) {
    r.error = int(errors.size());
    errors.push_back(e.what());
  }
  return r;
}

}  // namespace

Dataset read_coco(const std::string& json_path, const std::string& image_dir_in, const LoadOptions& opt) {
  Dataset ds;
  ds.format = Format::COCO;
  ds.root = json_path;
  ds.split = opt.split;
  std::ifstream in(json_path);
  if (!in) throw DataError(json_path + ": cannot open COCO annotation file");
  // The file is parsed as a stream: each annotation is turned into a compact
  // record as soon as it is read and dropped from the JSON tree, and
  // segmentations are never kept. COCO files hold up to millions of
  // annotations; a whole nlohmann tree costs ~1 KB per annotation.
  std::vector<RawAnnotation> anns;
  std::vector<std::string> ann_errors;
  std::string top_key;
  auto on_event = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (depth == 1 && ev == json::parse_event_t::key) top_key = parsed.get<std::string>();
    if (top_key != "annotations") return true;
    if (depth == 3 && ev == json::parse_event_t::key) return parsed.get<std::string>() != "segmentation";
    // An entry of the array ends (an object, or a stray value or array,
    // which compact() reports).
    if (depth == 2 && (ev == json::parse_event_t::object_end || ev == json::parse_event_t::array_end ||
                       ev == json::parse_event_t::value)) {
      anns.push_back(compact(parsed, json_path, ann_errors));
      return false;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(in, on_event);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e400
    throw DataError(json_path + ": malformed JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("images") || !j["images"].is_array())
    throw DataError(json_path + ": not a COCO file (no \"images\" array)");
  if (!j.contains("categories") || !j["categories"].is_array())
    throw DataError(json_path + ": not a COCO file (no \"categories\" array)");
  if (j.contains("annotations") && !j["annotations"].is_array())
    throw DataError(json_path + ": not a COCO file (\"annotations\" is not an array)");
  // image_dir: explicit, or <json dir>/../<split> (COCO layout), or <json dir>/images, or the json's dir.
  fs::path jdir = fs::path(json_path).parent_path();
  fs::path image_dir = image_dir_in;
  if (image_dir.empty()) {
    for (auto cand : {jdir.parent_path() / opt.split, jdir / "images", jdir})
      if (fs::is_directory(cand)) {
        image_dir = cand;
        break;
      }
  }
  std::map<int64_t, int> cat_to_label;
  try {
    std::vector<std::pair<int64_t, std::string>> cats;
    for (const auto& c : j["categories"])
      cats.emplace_back(integer_field(c, "id", [&] { return json_path + ": category " + c.dump().substr(0, 80); }),
                        c.at("name").get<std::string>());
    std::sort(cats.begin(), cats.end());
    for (const auto& [id, name] : cats) {
      cat_to_label[id] = int(ds.class_names.size());
      ds.class_names.push_back(name);
    }
  } catch (const json::exception& e) {
    throw DataError(json_path + ": bad category entry: " + e.what());
  }
  std::map<int64_t, size_t> img_index;
  auto skip_image = [&](const std::string& msg) {
    if (opt.strict) throw DataError(msg);
    ds.report(msg + " (image skipped)");
    ds.skipped_images++;
  };
  for (const auto& im : j["images"]) {
    try {
      ImageRecord r;
      auto where = [&] { return json_path + ": image " + im.dump().substr(0, 80); };
      const int64_t id = integer_field(im, "id", where);
      r.id = std::to_string(id);
      r.path = (image_dir / im.at("file_name").get<std::string>()).string();
      // Width and height: optional (0: read from the file), else 0..1e6.
      for (auto [field, out] : {std::pair{"width", &r.width}, std::pair{"height", &r.height}}) {
        if (!im.contains(field)) continue;
        const auto v = json_integer(im[field]);
        if (!v || *v < 0 || *v > 1000000)
          throw DataError(where() + ": " + field + " is " + im[field].dump().substr(0, 40) + ", not a size in 0..1000000");
        *out = int(*v);
      }
      img_index[id] = ds.images.size();
      ds.images.push_back(std::move(r));
    } catch (const json::exception& e) {
      skip_image(json_path + ": bad image entry " + im.dump().substr(0, 80) + ": " + e.what());
    } catch (const DataError& e) {  // names the field
      skip_image(e.what());
    }
  }
  std::vector<int> per_image(ds.images.size(), 0);  // each image's annotations so far, in file order
  for (const auto& a : anns) {
    // Counted before the annotation's own problems are looked at: an unreadable one still takes its place.
    const auto known = img_index.find(a.image_id);
    const int source_index = known != img_index.end() ? per_image[known->second]++ : -1;
    try {
      if (a.error >= 0) throw DataError(ann_errors[size_t(a.error)]);
      const std::string where = json_path + ": annotation " + a.id;
      auto it = img_index.find(a.image_id);
      if (it == img_index.end()) throw DataError(where + " refers to unknown image_id " + std::to_string(a.image_id));
      auto ct = cat_to_label.find(a.category_id);
      if (ct == cat_to_label.end())
        throw DataError(where + " has unknown category_id " + std::to_string(a.category_id));
      Annotation o;
      o.label = ct->second;
      o.x1 = a.box[0];
      o.y1 = a.box[1];
      o.x2 = o.x1 + a.box[2];
      o.y2 = o.y1 + a.box[3];
      o.crowd = a.crowd;
      o.area = a.area;
      o.source_index = source_index;
      auto& rec = ds.images[it->second];
      if (validate_box(o, rec.width, rec.height, where, opt, ds)) rec.objects.push_back(o);
    } catch (const DataError& e) {
      if (opt.strict) throw;
      ds.report(std::string(e.what()) + " (object skipped)");
      ds.skipped_objects++;
    }
  }
  return ds;
}

}  // namespace rcnn::data
