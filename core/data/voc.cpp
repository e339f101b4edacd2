// PASCAL VOC reader: JPEGImages/, Annotations/<id>.xml, ImageSets/Main/<split>.txt,
// optional labels.txt (one class per line).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <pugixml.hpp>
#include <set>

#include "data/dataset.h"
#include "data/image_io.h"

namespace fs = std::filesystem;

namespace rcnn::data {
namespace {

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
    auto b = line.find_first_not_of(" \t"), e = line.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

std::vector<std::string> discover_classes(const fs::path& ann_dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(ann_dir)) {
    if (e.path().extension() != ".xml") continue;
    pugi::xml_document doc;
    if (!doc.load_file(e.path().c_str())) continue;  // reported when the split reads it
    for (auto o : doc.child("annotation").children("object")) names.insert(o.child_value("name"));
  }
  names.erase("");
  return {names.begin(), names.end()};
}

}  // namespace

Dataset read_voc(const std::string& root_s, const LoadOptions& opt) {
  const fs::path root(root_s);
  Dataset ds;
  ds.format = Format::VOC;
  ds.root = root_s;
  ds.split = opt.split;
  const fs::path split_file = root / "ImageSets" / "Main" / (opt.split + ".txt");
  if (!fs::is_regular_file(split_file)) throw DataError(split_file.string() + ": split file not found");
  if (!opt.class_names.empty())
    ds.class_names = opt.class_names;
  else if (fs::is_regular_file(root / "labels.txt"))
    ds.class_names = read_lines(root / "labels.txt");
  else
    ds.class_names = discover_classes(root / "Annotations");
  std::map<std::string, int> cls;
  for (size_t i = 0; i < ds.class_names.size(); ++i) cls[ds.class_names[i]] = int(i);

  for (const auto& id : read_lines(split_file)) {
    const fs::path xml = root / "Annotations" / (id + ".xml");
    auto skip_image = [&](const std::string& msg) {
      if (opt.strict) throw DataError(msg);
      ds.report(msg + " (image skipped)");
      ds.skipped_images++;
    };
    pugi::xml_document doc;
    if (!fs::is_regular_file(xml)) {
      skip_image(xml.string() + ": annotation file not found");
      continue;
    }
    auto res = doc.load_file(xml.c_str());
    if (!res) {
      skip_image(xml.string() + ": malformed XML at offset " + std::to_string(res.offset) + ": " + res.description());
      continue;
    }
    auto ann = doc.child("annotation");
    if (!ann) {
      skip_image(xml.string() + ": no <annotation> root element");
      continue;
    }
    ImageRecord rec;
    rec.id = id;
    std::string fname = ann.child_value("filename");
    rec.path = (root / "JPEGImages" / (fname.empty() ? id + ".jpg" : fname)).string();
    if (!fs::is_regular_file(rec.path) && fname.empty()) {
      for (const char* ext : {".png", ".jpeg", ".bmp"})
        if (fs::is_regular_file(root / "JPEGImages" / (id + ext)))
          rec.path = (root / "JPEGImages" / (id + ext)).string();
    }
    // <size> is parsed whole too; the image's own header has the last word.
    for (auto [field, out] : {std::pair<const char*, int*>{"width", &rec.width}, {"height", &rec.height}}) {
      const auto node = ann.child("size").child(field);
      double v = 0;
      std::string why;
      if (!node) continue;
      if (parse_number(node.child_value(), 0, 1e6, &v, &why) && v == std::floor(v)) {  // 0: unknown
        *out = int(v);
        continue;
      }
      if (why.empty()) why = "\"" + std::string(node.child_value()) + "\" is not a whole number";
      const std::string msg = xml.string() + ": <size><" + field + ">: " + why;
      if (opt.strict) throw DataError(msg);
      ds.report(msg + " (the image's own size is used)");
    }
    try {
      auto [w, h] = peek_image_size(rec.path);
      if (rec.width <= 0 || rec.height <= 0) rec.width = w, rec.height = h;
      if (int64_t(rec.width) * rec.height > kMaxImagePixels)
        throw DataError(rec.path + ": image is " + std::to_string(rec.width) + "x" + std::to_string(rec.height) +
                        ", larger than the 50 Mpx limit");
    } catch (const DataError& e) {
      skip_image(e.what());
      continue;
    }
    bool bad = false;
    int index = -1;
    for (auto o : ann.children("object")) {
      ++index;
      const std::string name = o.child_value("name");
      auto it = cls.find(name);
      if (it == cls.end()) {
        const std::string msg = xml.string() + ": unknown class '" + name + "'";
        if (opt.strict) throw DataError(msg);
        ds.report(msg + " (object skipped)");
        ds.skipped_objects++;
        continue;
      }
      auto bb = o.child("bndbox");
      if (!bb || !bb.child("xmin") || !bb.child("ymin") || !bb.child("xmax") || !bb.child("ymax")) {
        const std::string msg = xml.string() + ": object '" + name + "' has no complete <bndbox>";
        if (opt.strict) throw DataError(msg);
        ds.report(msg + " (object skipped)");
        ds.skipped_objects++;
        continue;
      }
      // Every number parsed whole: "<xmin>five</xmin>" is an error, not x = 0.
      double v[4] = {}, difficult = 0, truncated = 0;
      std::string bad_field, why;
      const char* coords[] = {"xmin", "ymin", "xmax", "ymax"};
      for (int k = 0; k < 4 && bad_field.empty(); ++k)
        if (!parse_number(bb.child_value(coords[k]), -1e9, 1e9, &v[k], &why)) bad_field = coords[k];
      for (auto [field, out] : {std::pair<const char*, double*>{"difficult", &difficult}, {"truncated", &truncated}})
        if (bad_field.empty() && o.child(field) && !parse_number(o.child_value(field), 0, 1, out, &why))
          bad_field = field;
      if (!bad_field.empty()) {
        const std::string msg = xml.string() + ": object #" + std::to_string(index) + " ('" + name + "') <" +
                                bad_field + ">: " + why;
        if (opt.strict) throw DataError(msg);
        ds.report(msg + " (object skipped)");
        ds.skipped_objects++;
        continue;
      }
      Annotation a;
      a.label = it->second;
      // VOC corners are 1-based and inclusive: pixel xmin..xmax covers
      // [xmin - 1, xmax) in 0-based continuous coordinates.
      a.x1 = float(v[0]) - 1.0f;
      a.y1 = float(v[1]) - 1.0f;
      a.x2 = float(v[2]);
      a.y2 = float(v[3]);
      a.difficult = difficult != 0;
      a.truncated = truncated != 0;
      a.source_index = index;
      if (validate_box(a, rec.width, rec.height, xml.string(), opt, ds)) rec.objects.push_back(a);
    }
    if (!bad) ds.images.push_back(std::move(rec));
  }
  return ds;
}

}  // namespace rcnn::data
