// COCO JSON reader: images, annotations [x, y, w, h], categories with
// non-contiguous ids (mapped to 0-based labels in id order), iscrowd kept as
// ignore regions.
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "data/dataset.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace rcnn::data {

Dataset read_coco(const std::string& json_path, const std::string& image_dir_in, const LoadOptions& opt) {
  Dataset ds;
  ds.format = Format::COCO;
  ds.root = json_path;
  ds.split = opt.split;
  std::ifstream in(json_path);
  if (!in) throw DataError(json_path + ": cannot open COCO annotation file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e400
    throw DataError(json_path + ": malformed JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("images") || !j["images"].is_array())
    throw DataError(json_path + ": not a COCO file (no \"images\" array)");
  if (!j.contains("categories") || !j["categories"].is_array())
    throw DataError(json_path + ": not a COCO file (no \"categories\" array)");
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
    for (const auto& c : j["categories"]) cats.emplace_back(c.at("id").get<int64_t>(), c.at("name").get<std::string>());
    std::sort(cats.begin(), cats.end());
    for (const auto& [id, name] : cats) {
      cat_to_label[id] = int(ds.class_names.size());
      ds.class_names.push_back(name);
    }
  } catch (const json::exception& e) {
    throw DataError(json_path + ": bad category entry: " + e.what());
  }
  std::map<int64_t, size_t> img_index;
  for (const auto& im : j["images"]) {
    try {
      ImageRecord r;
      const int64_t id = im.at("id").get<int64_t>();
      r.id = std::to_string(id);
      r.path = (image_dir / im.at("file_name").get<std::string>()).string();
      r.width = im.value("width", 0);
      r.height = im.value("height", 0);
      img_index[id] = ds.images.size();
      ds.images.push_back(std::move(r));
    } catch (const json::exception& e) {
      const std::string msg = json_path + ": bad image entry " + im.dump().substr(0, 80) + ": " + e.what();
      if (opt.strict) throw DataError(msg);
      ds.issues.push_back(msg + " (image skipped)");
      ds.skipped_images++;
    }
  }
  if (j.contains("annotations")) {
    for (const auto& a : j["annotations"]) {
      const std::string where = json_path + ": annotation " + (a.contains("id") ? a["id"].dump() : std::string("?"));
      try {
        auto it = img_index.find(a.at("image_id").get<int64_t>());
        if (it == img_index.end()) throw DataError(where + " refers to unknown image_id " + a["image_id"].dump());
        auto ct = cat_to_label.find(a.at("category_id").get<int64_t>());
        if (ct == cat_to_label.end()) throw DataError(where + " has unknown category_id " + a["category_id"].dump());
        const auto& bb = a.at("bbox");
        if (!bb.is_array() || bb.size() != 4) throw DataError(where + ": bbox must be [x, y, w, h]");
        const char* names[] = {"x", "y", "w", "h"};
        for (int k = 0; k < 4; ++k)
          if (!bb[size_t(k)].is_number())
            throw DataError(where + ": bbox[" + std::to_string(k) + "] (" + names[k] + ") is " + bb[size_t(k)].dump() +
                            ", not a number");
        if (a.contains("iscrowd") && !(a["iscrowd"].is_number_integer() || a["iscrowd"].is_boolean()))
          throw DataError(where + ": iscrowd is " + a["iscrowd"].dump() + ", not 0 or 1");
        Annotation o;
        o.label = ct->second;
        o.x1 = bb[0].get<float>();
        o.y1 = bb[1].get<float>();
        o.x2 = o.x1 + bb[2].get<float>();
        o.y2 = o.y1 + bb[3].get<float>();
        o.crowd = a.contains("iscrowd") && (a["iscrowd"].is_boolean() ? a["iscrowd"].get<bool>() : a["iscrowd"].get<int64_t>() != 0);
        auto& rec = ds.images[it->second];
        if (validate_box(o, rec.width, rec.height, where, opt, ds)) rec.objects.push_back(o);
      } catch (const json::exception& e) {
        const std::string msg = where + ": " + e.what();
        if (opt.strict) throw DataError(msg);
        ds.issues.push_back(msg + " (object skipped)");
        ds.skipped_objects++;
      } catch (const DataError& e) {
        if (opt.strict) throw;
        ds.issues.push_back(std::string(e.what()) + " (object skipped)");
        ds.skipped_objects++;
      }
    }
  }
  return ds;
}

}  // namespace rcnn::data
