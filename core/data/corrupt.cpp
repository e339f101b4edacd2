#include "data/corrupt.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <pugixml.hpp>
#include <random>
#include <sstream>

#include "data/dataset.h"

namespace fs = std::filesystem;

namespace rcnn::data {

void parse_corruption_rates(const std::string& spec, CorruptOptions& o) {
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos) throw DataError("--corrupt: '" + part + "' is not kind=rate");
    const std::string kind = part.substr(0, eq);
    double v = 0;
    std::string why;
    if (!parse_number(part.substr(eq + 1), 0, 1, &v, &why))
      throw DataError("--corrupt: " + kind + ": " + (why.empty() ? "a rate must be in [0, 1]" : why));
    if (kind == "missing")
      o.missing = v;
    else if (kind == "swap" || kind == "swapped")
      o.swap = v;
    else if (kind == "badloc")
      o.badloc = v;
    else if (kind == "spurious")
      o.spurious = v;
    else if (kind == "duplicate")
      o.duplicate = v;
    else
      throw DataError("--corrupt: unknown kind '" + kind + "' (missing, swap, badloc, spurious, duplicate)");
  }
  if (o.missing + o.swap + o.badloc + o.duplicate > 1)
    throw DataError("--corrupt: missing + swap + badloc + duplicate must be <= 1 (each object draws one)");
}

namespace {

using json = nlohmann::json;

struct Obj {
  float x1, y1, x2, y2;  // continuous 0-based
  std::string name;
  pugi::xml_node node;  // the original <object>, or empty for an added one
};

float iou(const Obj& a, const Obj& b) {
  const float iw = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float ih = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float in = iw * ih, u = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - in;
  return u > 0 ? in / u : 0.f;
}

json box_json(const Obj& o) {
  return json::array({o.x1, o.y1, o.x2, o.y2});
}

// A whole-pixel box of size w x h at (x, y), inside W x H.
Obj place(float x, float y, float w, float h, int W, int H, const std::string& name) {
  w = std::max(2.f, std::round(std::min(w, float(W))));
  h = std::max(2.f, std::round(std::min(h, float(H))));
  x = std::clamp(std::round(x), 0.f, float(W) - w);
  y = std::clamp(std::round(y), 0.f, float(H) - h);
  return {x, y, x + w, y + h, name, {}};
}

class Corrupter {
 public:
  Corrupter(const CorruptOptions& o, const std::vector<std::string>& names) : o_(o), names_(names) {}

  // Returns the new object list of one image and appends its corruptions.
  std::vector<Obj> run(std::vector<Obj> objs, int W, int H, const std::string& id, const std::string& split, json& out,
                       std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<Obj> res;
    std::vector<json> records;  // the record of res[k] (null: untouched)
    const std::vector<Obj> clean = objs;
    auto record = [&](const char* kind, const Obj* now, int original, const Obj* was) {
      json r{{"image", id}, {"split", split}, {"kind", kind}};
      r["class"] = now ? json(now->name) : json(nullptr);
      r["box"] = now ? box_json(*now) : json(nullptr);
      r["original_index"] = original >= 0 ? json(original) : json(nullptr);
      r["original_class"] = was ? json(was->name) : json(nullptr);
      r["original_box"] = was ? box_json(*was) : json(nullptr);
      return r;
    };
    for (size_t k = 0; k < clean.size(); ++k) {
      const Obj& o = clean[k];
      const double r = u(rng);
      double edge = o_.missing;
      if (r < edge) {  // removed: nothing in res; the record has no gt_index
        auto rec = record("missing", nullptr, int(k), &o);
        rec["gt_index"] = nullptr;
        out.push_back(rec);
        continue;
      }
      if (r < (edge += o_.swap) && names_.size() > 1) {
        Obj s = o;
        std::uniform_int_distribution<size_t> pick(0, names_.size() - 2);
        size_t c = pick(rng);
        const size_t own = size_t(std::find(names_.begin(), names_.end(), o.name) - names_.begin());
        if (c >= own) ++c;
        s.name = names_[std::min(c, names_.size() - 1)];
        res.push_back(s);
        records.push_back(record("swapped", &s, int(k), &o));
        continue;
      }
      if (r < (edge += o_.badloc)) {
        if (auto moved = move_box(o, W, H, rng)) {
          res.push_back(*moved);
          records.push_back(record("badloc", &*moved, int(k), &o));
          continue;
        }
      } else if (r < (edge += o_.duplicate)) {
        res.push_back(o);
        records.push_back(nullptr);
        if (auto d = duplicate_box(o, W, H, rng)) {
          res.push_back(*d);
          records.push_back(record("duplicate", &*d, int(k), &o));
        }
        continue;
      }
      res.push_back(o);
      records.push_back(nullptr);
    }
    for (size_t k = 0; k < clean.size(); ++k) {
      if (u(rng) >= o_.spurious) continue;
      std::vector<Obj> all = clean;
      all.insert(all.end(), res.begin(), res.end());
      if (auto s = background_box(clean[k], all, W, H, rng)) {
        res.push_back(*s);
        records.push_back(record("spurious", &*s, -1, nullptr));
      }
    }
    for (size_t k = 0; k < res.size(); ++k)
      if (!records[k].is_null()) {
        records[k]["gt_index"] = k;
        out.push_back(records[k]);
      }
    return res;
  }

 private:
  std::optional<Obj> move_box(const Obj& o, int W, int H, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> shift(-0.6f, 0.6f), scale(0.6f, 1.5f);
    const float w = o.x2 - o.x1, h = o.y2 - o.y1;
    for (int t = 0; t < 100; ++t) {
      const float nw = w * scale(rng), nh = h * scale(rng);
      Obj m = place(o.x1 + w * shift(rng), o.y1 + h * shift(rng), nw, nh, W, H, o.name);
      const float v = iou(m, o);
      if (v >= o_.badloc_min_iou && v <= o_.badloc_max_iou) return m;
    }
    return std::nullopt;
  }
  std::optional<Obj> duplicate_box(const Obj& o, int W, int H, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> jit(-0.06f, 0.06f);
    const float w = o.x2 - o.x1, h = o.y2 - o.y1;
    for (int t = 0; t < 100; ++t) {
      Obj d = place(o.x1 + w * jit(rng), o.y1 + h * jit(rng), w * (1 + jit(rng)), h * (1 + jit(rng)), W, H, o.name);
      if (iou(d, o) >= 0.75f) return d;
    }
    return std::nullopt;
  }
  std::optional<Obj> background_box(const Obj& like, const std::vector<Obj>& all, int W, int H, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> fx(0, 1);
    std::uniform_int_distribution<size_t> cls(0, names_.size() - 1);
    const float w = like.x2 - like.x1, h = like.y2 - like.y1;
    for (int t = 0; t < 100; ++t) {
      Obj s = place(fx(rng) * (W - w), fx(rng) * (H - h), w, h, W, H, names_[cls(rng)]);
      bool clear = true;
      for (const auto& a : all) clear = clear && iou(s, a) < 0.05f;
      if (clear) return s;
    }
    return std::nullopt;
  }

  const CorruptOptions& o_;
  const std::vector<std::string>& names_;
};

void set_box(pugi::xml_node obj, const Obj& o) {
  auto bb = obj.child("bndbox");
  if (!bb) bb = obj.append_child("bndbox");
  const float v[4] = {o.x1 + 1, o.y1 + 1, o.x2, o.y2};  // VOC: 1-based inclusive corners
  const char* keys[4] = {"xmin", "ymin", "xmax", "ymax"};
  for (int k = 0; k < 4; ++k) {
    auto n = bb.child(keys[k]);
    if (!n) n = bb.append_child(keys[k]);
    n.text().set(int(std::lround(v[k])));
  }
}

std::vector<std::string> split_ids(const fs::path& list) {
  std::ifstream in(list);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) ids.push_back(line);
  }
  return ids;
}

}  // namespace

CorruptionSummary corrupt_voc_annotations(const std::string& root_s, const CorruptOptions& o) {
  const fs::path root(root_s);
  std::vector<std::string> names;
  {
    std::ifstream l(root / "labels.txt");
    for (std::string n; std::getline(l, n);)
      if (!n.empty()) names.push_back(n);
  }
  if (names.empty()) throw DataError((root / "labels.txt").string() + ": no class names");
  Corrupter c(o, names);
  json records = json::array();
  CorruptionSummary sum;
  for (const auto& split : o.splits) {
    const fs::path list = root / "ImageSets" / "Main" / (split + ".txt");
    if (!fs::exists(list)) continue;
    uint64_t salt = 1469598103934665603ULL;  // FNV-1a of the split's name
    for (unsigned char ch : split) salt = (salt ^ ch) * 1099511628211ULL;
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + salt);
    for (const auto& id : split_ids(list)) {
      const fs::path xml = root / "Annotations" / (id + ".xml");
      pugi::xml_document doc;
      if (!doc.load_file(xml.c_str())) throw DataError(xml.string() + ": cannot read the annotation");
      auto ann = doc.child("annotation");
      const int W = ann.child("size").child("width").text().as_int(),
                H = ann.child("size").child("height").text().as_int();
      if (W <= 0 || H <= 0) throw DataError(xml.string() + ": no <size> to place boxes in");
      std::vector<Obj> objs;
      for (auto n : ann.children("object")) {
        auto bb = n.child("bndbox");
        objs.push_back({bb.child("xmin").text().as_float() - 1, bb.child("ymin").text().as_float() - 1,
                        bb.child("xmax").text().as_float(), bb.child("ymax").text().as_float(), n.child_value("name"),
                        n});
      }
      const size_t before = records.size();
      const auto res = c.run(objs, W, H, id, split, records, rng);
      ++sum.images;
      if (records.size() == before) continue;
      ++sum.corrupted_images;
      const pugi::xml_node tmpl = objs.empty() ? pugi::xml_node() : objs.front().node;
      for (const auto& r : res) {
        auto n = tmpl ? ann.append_copy(r.node ? r.node : tmpl) : ann.append_child("object");
        if (!n.child("name")) n.append_child("name");
        n.child("name").text().set(r.name.c_str());
        set_box(n, r);
        if (!r.node && n.child("difficult")) n.child("difficult").text().set(0);
      }
      for (const auto& ob : objs) ann.remove_child(ob.node);
      if (!doc.save_file(xml.c_str(), "  ")) throw DataError(xml.string() + ": cannot write the annotation");
    }
  }
  for (const auto& r : records) {
    const std::string k = r["kind"];
    (k == "missing"    ? sum.missing
     : k == "swapped"  ? sum.swap
     : k == "badloc"   ? sum.badloc
     : k == "spurious" ? sum.spurious
                       : sum.duplicate)++;
  }
  json doc{{"seed", o.seed},
           {"rates",
            {{"missing", o.missing},
             {"swap", o.swap},
             {"badloc", o.badloc},
             {"spurious", o.spurious},
             {"duplicate", o.duplicate}}},
           {"corruptions", records}};
  std::ofstream out(root / "corruptions.json");
  out << doc.dump(1) << "\n";
  if (!out) throw DataError((root / "corruptions.json").string() + ": cannot write");
  return sum;
}

}  // namespace rcnn::data
