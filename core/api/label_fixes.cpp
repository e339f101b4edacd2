// "Export corrected" (api/label_fixes.h): the accepted label fixes applied to
// a copy of a VOC folder or of a COCO .json; the originals are only read.
#include "api/label_fixes.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>
#include <stdexcept>

#include "data/json_numbers.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace rcnn::api {
namespace {

enum class OpKind { Add, Remove, Relabel, Move };

// One accepted fix, checked against the dataset: what to do to which object.
struct Op {
  OpKind kind = OpKind::Add;
  int gt_index = -1;   // the object's position in its annotation file (Add: -1)
  int was_label = -1;  // the class the object has in the file (Add: -1)
  int label = -1;      // Add, Relabel: the new class
  Box box;             // Add, Move: the new box (VOC: whole pixels)
  std::string what;    // for notes: "image a: swapped object #1"
};
using Ops = std::map<std::string, std::vector<Op>>;  // image id -> its fixes, in decision order

std::string what(const LabelDecision& d) {
  std::string s = "image " + d.image + ": " + label_issue_kind_name(d.issue.kind);
  return d.issue.kind == LabelIssueKind::Missing ? s : s + " object #" + std::to_string(d.issue.gt_index);
}

// The box to write: clipped to the image, VOC's rounded to whole pixels (xmin = x1 + 1 ... as written);
// empty when nothing of it is left.
std::optional<Box> target_box(Box b, const ImageEntry& im, bool voc) {
  if (!std::isfinite(b.x1) || !std::isfinite(b.y1) || !std::isfinite(b.x2) || !std::isfinite(b.y2)) return {};
  if (im.width > 0) b.x1 = std::clamp(b.x1, 0.f, float(im.width)), b.x2 = std::clamp(b.x2, 0.f, float(im.width));
  if (im.height > 0) b.y1 = std::clamp(b.y1, 0.f, float(im.height)), b.y2 = std::clamp(b.y2, 0.f, float(im.height));
  auto q = [voc](float v) { return voc ? std::round(v) : std::round(v * 100.f) / 100.f; };
  if (voc)
    b = {q(b.x1 + 1) - 1, q(b.y1 + 1) - 1, q(b.x2), q(b.y2)};
  else
    b = {q(b.x1), q(b.y1), q(b.x2), q(b.y2)};
  if (!(b.x2 > b.x1 && b.y2 > b.y1)) return {};
  return b;
}

// Why the accepted decision `d` cannot be the fix `op` ("" when it can).
std::string to_op(const LabelDecision& d, const ImageEntry& im, const DatasetInfo& ds, Op& op) {
  static const OpKind kinds[] = {OpKind::Add, OpKind::Relabel, OpKind::Move, OpKind::Remove, OpKind::Remove};
  const LabelIssue& is = d.issue;
  const int n = int(ds.class_names.size());
  op = {kinds[int(is.kind)], is.gt_index, is.label, is.suggested_label, {}, what(d)};
  if ((op.kind == OpKind::Add || op.kind == OpKind::Relabel) && (op.label < 0 || op.label >= n))
    return "its suggested class " + std::to_string(op.label) + " is not one of the dataset's classes";
  if (op.kind != OpKind::Add && (op.gt_index < 0 || op.was_label < 0 || op.was_label >= n))
    return "it names no object of a known class";
  if (op.kind == OpKind::Add || op.kind == OpKind::Move) {
    const auto b = is.suggested_box ? target_box(*is.suggested_box, im, ds.format == "voc") : std::nullopt;
    if (!b) return is.suggested_box ? "its suggested box is empty within the image" : "it has no suggested box";
    op.box = *b;
  }
  return "";
}

// The accepted decisions as fixes, image by image. A decision that cannot be applied, or that touches an
// object an earlier accepted decision already fixes, becomes a note.
Ops plan(const DatasetInfo& ds, const std::vector<LabelDecision>& decisions, std::vector<std::string>& notes) {
  std::map<std::string, const ImageEntry*> images;
  // Decisions name images by file stem (the label doctor's image id; a COCO image's id is its number).
  for (const auto& im : ds.images) images.emplace(fs::path(im.path).stem().string(), &im);
  std::map<std::pair<std::string, int>, std::string> touched;  // (image, object) -> the fix applied to it
  Ops ops;
  for (const auto& d : decisions) {
    if (d.state != LabelDecisionState::Accepted) continue;
    Op op;
    const auto im = images.find(d.image);
    std::string why = im == images.end() ? "no such image in the dataset" : to_op(d, *im->second, ds, op);
    if (why.empty() && op.kind != OpKind::Add) {
      const auto [it, fresh] = touched.emplace(std::make_pair(d.image, op.gt_index), op.what);
      if (!fresh) why = "an earlier accepted fix (" + it->second + ") already changes this object";
    }
    if (why.empty())
      ops[im->second->id].push_back(op);  // by the dataset's own id (VOC: the stem; COCO: the number)
    else
      notes.push_back(what(d) + ": not applied, " + why);
  }
  return ops;
}

void count(const Op& op, ExportCorrectedResult& r) {
  int* n[] = {&r.added, &r.removed, &r.relabelled, &r.moved};
  ++*n[int(op.kind)];
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(bytes.data(), std::streamsize(bytes.size())) || !out.flush())
    throw std::runtime_error(p.string() + ": cannot write");
}

// Every file under `from`, byte for byte.
void copy_tree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) throw std::runtime_error(to.string() + ": cannot create: " + ec.message());
  for (fs::recursive_directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path dst = to / fs::relative(it->path(), from);
    if (it->is_directory())
      fs::create_directories(dst, ec);
    else if (it->is_regular_file())
      fs::copy_file(it->path(), dst, fs::copy_options::overwrite_existing, ec);
    if (ec) throw std::runtime_error(dst.string() + ": cannot copy " + it->path().string() + ": " + ec.message());
  }
  if (ec) throw std::runtime_error(from.string() + ": cannot list: " + ec.message());
}

// ---- VOC: the XML edited in place, its layout (whitespace, comments, other elements) kept.

bool blank(pugi::xml_node n) {
  if (n.type() != pugi::node_pcdata) return false;
  const std::string v = n.value();
  return v.find_first_not_of(" \t\r\n") == std::string::npos;
}

// The line break and the one level of indentation the file uses ({"\n", "\t"}; {"", ""} for a file on one line).
std::pair<std::string, std::string> layout(pugi::xml_node ann) {
  if (!blank(ann.first_child())) return {"", ""};
  const std::string v = ann.first_child().value();
  const size_t nl = v.rfind('\n');
  if (nl == std::string::npos) return {"", ""};
  return {nl > 0 && v[nl - 1] == '\r' ? "\r\n" : "\n", v.substr(nl + 1)};
}

// Appends a new <object> after `anchor` (or as the first object), laid out as the file is.
void add_voc_object(pugi::xml_node ann, pugi::xml_node& anchor, const Op& op, const std::string& name) {
  const auto [nl, unit] = layout(ann);
  auto put_ws = [&, nl = nl, unit = unit](pugi::xml_node parent, pugi::xml_node after, int level) {
    std::string ws = nl;
    for (int i = 0; i < level; ++i) ws += unit;
    if (ws.empty()) return after;
    auto w = after ? parent.insert_child_after(pugi::node_pcdata, after) : parent.append_child(pugi::node_pcdata);
    w.set_value(ws.c_str());
    return w;
  };
  pugi::xml_node after = anchor;
  if (!after) {  // no objects yet: before </annotation>'s own line break
    after = ann.last_child();
    if (blank(after)) after = after.previous_sibling();
    if (!after) after = ann.prepend_child(pugi::node_pcdata);  // an empty <annotation>
  }
  pugi::xml_node o = anchor = ann.insert_child_after("object", put_ws(ann, after, 1));
  const int v[4] = {int(op.box.x1) + 1, int(op.box.y1) + 1, int(op.box.x2), int(op.box.y2)};
  const std::pair<const char*, std::string> fields[] = {
      {"name", name}, {"pose", "Unspecified"}, {"truncated", "0"}, {"difficult", "0"}};
  for (const auto& [key, text] : fields) {
    put_ws(o, o.last_child(), 2);
    o.append_child(key).text().set(text.c_str());
  }
  put_ws(o, o.last_child(), 2);
  auto bb = o.append_child("bndbox");
  const char* coords[] = {"xmin", "ymin", "xmax", "ymax"};
  for (int k = 0; k < 4; ++k) {
    put_ws(bb, bb.last_child(), 3);
    bb.append_child(coords[k]).text().set(v[k]);
  }
  put_ws(bb, bb.last_child(), 2);
  put_ws(o, o.last_child(), 1);
}

void fix_voc_xml(const fs::path& src, const fs::path& dst, const std::vector<Op>& ops,
                 const std::vector<std::string>& names, ExportCorrectedResult& r) {
  const std::string bytes = read_file(src);
  pugi::xml_document doc;
  const unsigned flags = (pugi::parse_default & ~pugi::parse_eol) | pugi::parse_ws_pcdata | pugi::parse_fragment |
                         pugi::parse_declaration | pugi::parse_comments | pugi::parse_pi | pugi::parse_doctype;
  const auto res = doc.load_buffer(bytes.data(), bytes.size(), flags);
  auto ann = doc.child("annotation");
  if (!res || !ann) throw std::runtime_error(src.string() + ": cannot read the VOC annotation: " + res.description());
  std::vector<pugi::xml_node> objects;
  for (auto o : ann.children("object")) objects.push_back(o);
  pugi::xml_node anchor = objects.empty() ? pugi::xml_node() : objects.back();
  std::vector<size_t> removed;
  for (const Op& op : ops) {
    if (op.kind != OpKind::Add) {
      const size_t i = size_t(op.gt_index);
      if (i >= objects.size() || objects[i].child_value("name") != names[size_t(op.was_label)]) {
        r.notes.push_back(op.what + ": not applied, " + src.string() + " has no such object of class '" +
                          names[size_t(op.was_label)] + "' (changed since the issues were found?)");
        continue;
      }
    }
    if (op.kind == OpKind::Relabel) {
      auto n = objects[size_t(op.gt_index)].child("name");
      n.text().set(names[size_t(op.label)].c_str());
    } else if (op.kind == OpKind::Move) {
      auto bb = objects[size_t(op.gt_index)].child("bndbox");
      const int v[4] = {int(op.box.x1) + 1, int(op.box.y1) + 1, int(op.box.x2), int(op.box.y2)};
      const char* coords[] = {"xmin", "ymin", "xmax", "ymax"};
      for (int k = 0; k < 4; ++k) bb.child(coords[k]).text().set(v[k]);
    } else if (op.kind == OpKind::Add) {
      add_voc_object(ann, anchor, op, names[size_t(op.label)]);
    } else {
      removed.push_back(size_t(op.gt_index));
    }
    count(op, r);
  }
  for (size_t i : removed) {  // last, by original position
    const auto prev = objects[i].previous_sibling();
    if (prev && blank(prev)) ann.remove_child(prev);
    ann.remove_child(objects[i]);
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  write_file(dst, out.str());
}

void export_voc(const DatasetInfo& ds, const Ops& ops, const fs::path& out, ExportCorrectedResult& r) {
  const fs::path root(ds.root);
  for (const char* dir : {"JPEGImages", "ImageSets", "Annotations"})
    if (fs::is_directory(root / dir)) copy_tree(root / dir, out / dir);
  std::error_code ec;
  fs::create_directories(out / "Annotations", ec);
  if (ec) throw std::runtime_error((out / "Annotations").string() + ": cannot create: " + ec.message());
  if (fs::is_regular_file(root / "labels.txt")) {
    fs::copy_file(root / "labels.txt", out / "labels.txt", ec);
    if (ec) throw std::runtime_error((out / "labels.txt").string() + ": cannot copy: " + ec.message());
  } else {  // the class list as opened, so that the copy's labels keep their indices
    std::string lines;
    for (const auto& n : ds.class_names) lines += n + "\n";
    write_file(out / "labels.txt", lines);
  }
  for (const auto& [id, image_ops] : ops)
    fix_voc_xml(root / "Annotations" / (id + ".xml"), out / "Annotations" / (id + ".xml"), image_ops, ds.class_names,
                r);
}

// ---- COCO: the document with its annotations edited; every other entry as it was.

// An integer field of an entry (data/json_numbers.h's rules), empty when absent or not an integer.
std::optional<int64_t> integer_field(const ojson& entry, const char* key) {
  const auto it = entry.find(key);  // end() for an entry that is not an object
  if (it == entry.end()) return std::nullopt;
  return data::json_integer(nlohmann::json(*it));
}

double r2(double v) {  // to 0.01 px, so that 12.35f is written 12.35
  return std::round(v * 100) / 100;
}
ojson coco_bbox(const Box& b) {
  return {r2(b.x1), r2(b.y1), r2(double(b.x2) - b.x1), r2(double(b.y2) - b.y1)};
}
double coco_area(const Box& b) {
  return r2(r2(double(b.x2) - b.x1) * r2(double(b.y2) - b.y1));
}

void export_coco(const DatasetInfo& ds, const Ops& ops, const fs::path& out, ExportCorrectedResult& r) {
  ojson doc;
  std::vector<int64_t> cats;  // label -> category id, as the reader numbers them
  try {
    doc = ojson::parse(read_file(ds.root));
    for (const auto& c : doc.at("categories"))
      if (const auto id = integer_field(c, "id")) cats.push_back(*id);
  } catch (const ojson::exception& e) {
    throw std::runtime_error(ds.root + ": not a COCO file: " + e.what());
  }
  std::sort(cats.begin(), cats.end());
  if (cats.size() != ds.class_names.size())
    throw std::runtime_error(ds.root + ": its categories changed since the dataset was opened");
  if (!doc.contains("annotations")) doc["annotations"] = ojson::array();
  auto& anns = doc["annotations"];
  if (!anns.is_array()) throw std::runtime_error(ds.root + ": not a COCO file (\"annotations\" is not an array)");
  std::map<int64_t, std::vector<size_t>> of_image;  // image id -> its annotations, in file order
  int64_t next_id = 0;
  for (size_t i = 0; i < anns.size(); ++i) {
    if (const auto id = integer_field(anns[i], "id")) next_id = std::max(next_id, *id);
    if (const auto im = integer_field(anns[i], "image_id")) of_image[*im].push_back(i);
  }
  std::vector<size_t> removed;
  std::vector<ojson> added;
  for (const auto& [id, image_ops] : ops) {
    const int64_t image_id = std::stoll(id);
    const auto& mine = of_image[image_id];
    for (const Op& op : image_ops) {
      if (op.kind == OpKind::Add) {
        added.push_back({{"id", ++next_id},
                         {"image_id", image_id},
                         {"category_id", cats.at(size_t(op.label))},
                         {"bbox", coco_bbox(op.box)},
                         {"area", coco_area(op.box)},
                         {"iscrowd", 0}});
        count(op, r);
        continue;
      }
      const size_t k = size_t(op.gt_index);
      if (k >= mine.size() || size_t(op.was_label) >= cats.size() ||
          integer_field(anns[mine[k]], "category_id") != cats[size_t(op.was_label)]) {
        r.notes.push_back(op.what + ": not applied, " + ds.root + " has no such annotation of class '" +
                          ds.class_names[size_t(op.was_label)] + "' (changed since the issues were found?)");
        continue;
      }
      auto& a = anns[mine[k]];
      if (op.kind == OpKind::Relabel) {
        a["category_id"] = cats.at(size_t(op.label));
      } else if (op.kind == OpKind::Move) {
        a["bbox"] = coco_bbox(op.box);
        a["area"] = coco_area(op.box);
      } else {
        removed.push_back(mine[k]);
      }
      count(op, r);
    }
  }
  std::sort(removed.rbegin(), removed.rend());  // last, by original position
  for (size_t i : removed) anns.erase(i);
  for (auto& a : added) anns.push_back(std::move(a));
  write_file(out, doc.dump() + "\n");
}

// ---- The decisions file and the checks on `out`.

ojson class_json(int label, const std::vector<std::string>& names) {
  if (label < 0) return nullptr;
  return size_t(label) < names.size() ? ojson(names[size_t(label)]) : ojson(label);
}
ojson box_json(const std::optional<Box>& b) {
  if (!b) return nullptr;
  return ojson::array({b->x1, b->y1, b->x2, b->y2});
}

std::string decisions_json(const DatasetInfo& ds, const std::vector<LabelDecision>& decisions,
                           const ExportCorrectedResult& r) {
  static const char* states[] = {"undecided", "accepted", "rejected"};
  ojson list = ojson::array();
  for (const auto& d : decisions) {
    const auto& is = d.issue;
    const bool missing = is.kind == LabelIssueKind::Missing;
    const bool relabel = missing || is.kind == LabelIssueKind::Swapped;
    list.push_back({{"image", d.image},
                    {"kind", label_issue_kind_name(is.kind)},
                    {"state", states[int(d.state)]},
                    {"gt_index", missing ? ojson(nullptr) : ojson(is.gt_index)},
                    {"class", missing ? ojson(nullptr) : class_json(is.label, ds.class_names)},
                    {"box", box_json(is.box)},
                    {"suggested_class", relabel ? class_json(is.suggested_label, ds.class_names) : ojson(nullptr)},
                    {"suggested_box", box_json(is.suggested_box)},
                    {"score", is.score}});
  }
  ojson doc = {{"dataset", ds.root}, {"split", ds.split}, {"format", ds.format}, {"out", r.out}};
  doc["decisions"] = std::move(list);
  doc["notes"] = r.notes;
  return doc.dump(2) + "\n";
}

fs::path absolute_path(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : a;
}

bool within(const fs::path& p, const fs::path& dir) {
  auto a = p.begin(), b = dir.begin();
  for (; b != dir.end(); ++a, ++b) {
    if (b->empty() && std::next(b) == dir.end()) return true;  // "dir/"
    if (a == p.end() || *a != *b) return false;
  }
  return true;
}

// Throws unless `p` is absent or empty (an empty directory when `dir`, else an empty file).
void check_fresh(const fs::path& p, bool dir) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return;
  if (fs::is_directory(p, ec) ? !fs::is_empty(p, ec) : fs::file_size(p, ec) != 0)
    throw std::runtime_error(p.string() + ": already exists and is not empty (export to a new path)");
  if (fs::is_directory(p, ec) != dir)
    throw std::runtime_error(p.string() + ": already exists and is " + (dir ? "a file" : "a directory"));
}

}  // namespace

ExportCorrectedResult export_corrected(const DatasetInfo& ds, const std::vector<LabelDecision>& decisions,
                                       const std::string& out) {
  const bool voc = ds.format == "voc";
  if (!voc && ds.format != "coco")
    throw std::runtime_error(ds.root + ": export corrected needs a VOC or COCO dataset, not '" + ds.format + "'");
  if (out.empty()) throw std::runtime_error("export corrected: no output path");
  const fs::path out_abs = absolute_path(out), root_abs = absolute_path(ds.root);
  if (voc ? within(out_abs, root_abs) : out_abs == root_abs)
    throw std::runtime_error(out + ": lies inside the dataset " + ds.root + " (export to a path outside it)");
  ExportCorrectedResult r;
  r.out = out;
  r.decisions_json = voc ? (fs::path(out) / "decisions.json").string() : out + ".decisions.json";
  check_fresh(out, voc);
  if (!voc) check_fresh(r.decisions_json, false);
  const Ops ops = plan(ds, decisions, r.notes);
  if (voc) {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw std::runtime_error(out + ": cannot create: " + ec.message());
    export_voc(ds, ops, out, r);
  } else {
    export_coco(ds, ops, out, r);
  }
  write_file(r.decisions_json, decisions_json(ds, decisions, r));
  return r;
}

}  // namespace rcnn::api
