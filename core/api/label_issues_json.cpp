// The label doctor's JSON document (api/label_issues.h): written by
// `rcnn label-issues --json`, read by the studio's Label issues panel.
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "api/label_issues.h"

namespace rcnn::api {

namespace {

using json = nlohmann::json;

json box_json(const std::optional<Box>& b) {
  if (!b) return nullptr;
  return json::array({b->x1, b->y1, b->x2, b->y2});
}

json class_json(int label, const std::vector<std::string>& names) {
  if (label < 0) return nullptr;
  return size_t(label) < names.size() ? json(names[size_t(label)]) : json(label);
}

}  // namespace

std::string label_issues_to_json(const LabelIssueReport& r, const std::vector<LabeledImage>& images,
                                 const std::vector<std::string>& class_names) {
  json doc;
  doc["classes"] = class_names;
  json issues = json::array();
  for (const auto& is : r.issues) {
    const bool missing = is.kind == LabelIssueKind::Missing;
    json j;
    j["image"] = images.at(size_t(is.image)).id;
    j["kind"] = label_issue_kind_name(is.kind);
    j["score"] = is.score;
    j["gt_index"] = missing ? json(nullptr) : json(is.gt_index);
    j["class"] = missing ? json(nullptr) : class_json(is.label, class_names);
    j["box"] = box_json(is.box);
    j["suggested_class"] =
        is.kind == LabelIssueKind::Swapped || missing ? class_json(is.suggested_label, class_names) : json(nullptr);
    j["suggested_box"] = box_json(is.suggested_box);
    j["iou"] = is.iou;
    j["prediction"] = is.prediction >= 0 ? json(is.prediction) : json(nullptr);
    j["other_gt"] = is.other_gt >= 0 ? json(is.other_gt) : json(nullptr);
    j["why"] = is.why;
    issues.push_back(std::move(j));
  }
  doc["issues"] = std::move(issues);
  std::vector<size_t> order(images.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.image_scores.at(a) > r.image_scores.at(b); });
  json ims = json::array();
  for (size_t i : order) ims.push_back({{"image", images[i].id}, {"score", r.image_scores[i]}});
  doc["images"] = std::move(ims);
  return doc.dump(1);
}

namespace {

struct Reader {
  const std::string& path;
  const std::vector<std::string>& names;

  [[noreturn]] void fail(size_t entry, const std::string& what) const {
    throw std::runtime_error(path + ": issues[" + std::to_string(entry) + "]: " + what);
  }
  int label(const json& j, size_t entry, const char* key) const {
    const auto& v = j.at(key);
    if (v.is_null()) return -1;
    if (v.is_string()) {
      for (size_t c = 0; c < names.size(); ++c)
        if (names[c] == v.get<std::string>()) return int(c);
      fail(entry, std::string(key) + " '" + v.get<std::string>() + "' is not a class of this dataset");
    }
    if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < int64_t(names.size()))
      return int(v.get<int64_t>());
    fail(entry, std::string(key) + " is neither a class name nor a class index");
  }
  std::optional<Box> box(const json& j, size_t entry, const char* key) const {
    if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
    const auto& v = j.at(key);
    if (!v.is_array() || v.size() != 4) fail(entry, std::string(key) + " is not [x1, y1, x2, y2]");
    float c[4];
    for (size_t k = 0; k < 4; ++k) {
      if (!v[k].is_number() || !std::isfinite(v[k].get<double>())) fail(entry, std::string(key) + " has a non-number");
      c[k] = v[k].get<float>();
    }
    if (c[2] < c[0] || c[3] < c[1]) fail(entry, std::string(key) + " has x2 < x1 or y2 < y1");
    return Box{c[0], c[1], c[2], c[3]};
  }
};

}  // namespace

LabelIssueReport read_label_issues_json(const std::string& path, const std::vector<LabeledImage>& images,
                                        const std::vector<std::string>& class_names) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": not JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("issues") || !doc["issues"].is_array())
    throw std::runtime_error(path + ": no \"issues\" array (not a label-issues file)");
  std::map<std::string, int> by_id;
  for (size_t i = 0; i < images.size(); ++i) by_id[images[i].id] = int(i);
  const Reader rd{path, class_names};
  LabelIssueReport rep;
  const auto& arr = doc["issues"];
  for (size_t e = 0; e < arr.size(); ++e) {
    const json& j = arr[e];
    try {
      LabelIssue is;
      const auto id = j.at("image").get<std::string>();
      auto it = by_id.find(id);
      if (it == by_id.end()) rd.fail(e, "image '" + id + "' is not in this split");
      is.image = it->second;
      const auto kind = parse_label_issue_kind(j.at("kind").get<std::string>());
      if (!kind) rd.fail(e, "unknown kind '" + j.at("kind").get<std::string>() + "'");
      is.kind = *kind;
      is.score = j.at("score").get<float>();
      if (!(is.score >= 0 && is.score <= 1)) rd.fail(e, "score is not in [0, 1]");
      is.gt_index = j.at("gt_index").is_null() ? -1 : j.at("gt_index").get<int>();
      if (is.kind != LabelIssueKind::Missing && is.gt_index < 0) rd.fail(e, "gt_index is missing");
      is.label = rd.label(j, e, "class");
      is.suggested_label = rd.label(j, e, "suggested_class");
      if (is.kind == LabelIssueKind::Missing) is.label = is.suggested_label;
      is.box = rd.box(j, e, "box");
      is.suggested_box = rd.box(j, e, "suggested_box");
      if ((is.kind == LabelIssueKind::Missing || is.kind == LabelIssueKind::BadLoc) && !is.suggested_box)
        rd.fail(e, "a " + std::string(label_issue_kind_name(is.kind)) + " issue needs suggested_box");
      if (is.kind == LabelIssueKind::Swapped && is.suggested_label < 0) rd.fail(e, "swapped needs suggested_class");
      if (j.contains("iou") && j["iou"].is_number()) is.iou = j["iou"].get<float>();
      if (j.contains("prediction") && j["prediction"].is_number_integer()) is.prediction = j["prediction"].get<int>();
      if (j.contains("other_gt") && j["other_gt"].is_number_integer()) is.other_gt = j["other_gt"].get<int>();
      if (j.contains("why") && j["why"].is_string()) is.why = j["why"].get<std::string>();
      rep.issues.push_back(std::move(is));
    } catch (const json::exception& ex) {
      rd.fail(e, ex.what());
    }
  }
  rep.image_scores = label_image_scores(rep.issues, images.size());
  return rep;
}

}  // namespace rcnn::api
