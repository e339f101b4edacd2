// "Export corrected" (api/label_fixes.h): hand-made VOC and COCO datasets with
// a decision of every kind, exported and read back object by object.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/dataset.h"
#include "api/label_fixes.h"

namespace fs = std::filesystem;
using namespace rcnn::api;
using json = nlohmann::json;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("rcnn_label_fixes_" + name + "_" + std::to_string(getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
void spit(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}
// Every file under `dir` with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = slurp(e.path());
  return files;
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

LabelDecision decision(const std::string& image, LabelIssueKind kind, int gt_index, int label, std::optional<Box> box,
                       int suggested_label, std::optional<Box> suggested_box,
                       LabelDecisionState state = LabelDecisionState::Accepted) {
  LabelDecision d;
  d.image = image;
  d.issue.kind = kind;
  d.issue.score = 0.75f;
  d.issue.gt_index = gt_index;
  d.issue.label = label;
  d.issue.box = box;
  d.issue.suggested_label = suggested_label;
  d.issue.suggested_box = suggested_box;
  d.state = state;
  return d;
}

void expect_object(const GtObject& o, int label, Box b, int source_index) {
  EXPECT_EQ(o.label, label);
  EXPECT_FLOAT_EQ(o.box.x1, b.x1);
  EXPECT_FLOAT_EQ(o.box.y1, b.y1);
  EXPECT_FLOAT_EQ(o.box.x2, b.x2);
  EXPECT_FLOAT_EQ(o.box.y2, b.y2);
  EXPECT_EQ(o.source_index, source_index);
}

std::string voc_object(const std::string& name, const std::string& extra, int x1, int y1, int x2, int y2) {
  return "  <object>\n    <name>" + name + "</name>\n" + extra +
         "    <difficult>0</difficult><truncated>0</truncated>\n" + "    <bndbox><xmin>" + std::to_string(x1) +
         "</xmin><ymin>" + std::to_string(y1) + "</ymin><xmax>" + std::to_string(x2) + "</xmax><ymax>" +
         std::to_string(y2) + "</ymax></bndbox>\n  </object>\n";
}
std::string voc_head(const std::string& file) {
  return "<annotation>\n  <folder>JPEGImages</folder>\n  <filename>" + file +
         "</filename>\n  <!-- made by hand -->\n"
         "  <size><width>224</width><height>224</height><depth>3</depth></size>\n  <segmented>0</segmented>\n";
}
const std::string kTail = "</annotation>\n";
// Image a's objects as written: 0 cat, 1 dog (with a pose), 2 dog, 3 and 4 two cats on one thing, 5 dog.
const std::string kObj[] = {
    voc_object("cat", "", 11, 21, 60, 80),   voc_object("dog", "    <pose>Left</pose>\n", 101, 101, 150, 160),
    voc_object("dog", "", 31, 121, 90, 200), voc_object("cat", "", 151, 11, 200, 60),
    voc_object("cat", "", 152, 12, 200, 61), voc_object("dog", "", 1, 150, 40, 224)};

// A VOC folder: a (6 objects) and b (2) in train, c (1) in val only; labels.txt when asked.
fs::path make_voc(const fs::path& root, bool labels) {
  const std::string jpeg = std::string(RCNN_DEFAULT_DATASET) + "/JPEGImages/train_000000.jpg";
  for (const char* id : {"a", "b", "c"}) {
    fs::create_directories(root / "JPEGImages");
    fs::copy_file(jpeg, root / "JPEGImages" / (std::string(id) + ".jpg"));
  }
  std::string a = voc_head("a.jpg");
  for (const auto& o : kObj) a += o;
  spit(root / "Annotations" / "a.xml", a + kTail);
  spit(root / "Annotations" / "b.xml",
       voc_head("b.jpg") + voc_object("cat", "", 21, 21, 80, 80) + voc_object("dog", "", 101, 31, 200, 130) + kTail);
  spit(root / "Annotations" / "c.xml", voc_head("c.jpg") + voc_object("dog", "", 5, 5, 50, 50) + kTail);
  spit(root / "ImageSets" / "Main" / "train.txt", "a\nb\n");
  spit(root / "ImageSets" / "Main" / "val.txt", "c\n");
  if (labels) spit(root / "labels.txt", "cat\ndog\n");
  return root;
}

constexpr int kCat = 0, kDog = 1;
using S = LabelDecisionState;
using K = LabelIssueKind;

}  // namespace

TEST(LabelFixes, VocExportAppliesAcceptedFixesAndKeepsEverythingElse) {
  TempDir tmp("voc");
  const fs::path root = make_voc(tmp.path / "ds", true);
  const auto before = snapshot(root);
  const DatasetInfo ds = open_dataset(root.string());
  ASSERT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(ds.size(), 2u);
  const std::vector<LabelDecision> decisions = {
      decision("a", K::Spurious, 0, kCat, Box{10, 20, 60, 80}, -1, {}),
      decision("a", K::Swapped, 1, kDog, Box{100, 100, 150, 160}, kCat, {}),
      decision("a", K::BadLoc, 2, kDog, Box{30, 120, 90, 200}, -1, Box{39.6f, 129.4f, 100.2f, 209.5f}),
      decision("a", K::Duplicate, 3, kCat, Box{150, 10, 200, 60}, -1, {}),
      decision("a", K::Swapped, 5, kDog, Box{0, 149, 40, 224}, kCat, {}),
      decision("a", K::Spurious, 5, kDog, Box{0, 149, 40, 224}, -1, {}),  // object 5 is already relabelled
      decision("a", K::Missing, -1, kDog, {}, kDog, Box{160.4f, 150.6f, 210.2f, 199.5f}),
      decision("a", K::BadLoc, 4, kCat, Box{151, 11, 200, 61}, -1, Box{0, 0, 10, 10}, S::Rejected),
      decision("b", K::Spurious, 0, kCat, Box{20, 20, 80, 80}, -1, {}, S::Rejected),
      decision("b", K::Swapped, 1, kDog, Box{100, 30, 200, 130}, kCat, {}, S::Undecided),
      decision("zz", K::Spurious, 0, kCat, Box{0, 0, 5, 5}, -1, {}),  // no such image
  };
  const fs::path out = tmp.path / "fixed";
  const auto r = export_corrected(ds, decisions, out.string());
  EXPECT_EQ(r.out, out.string());
  EXPECT_EQ(r.decisions_json, (out / "decisions.json").string());
  EXPECT_EQ(r.added, 1);
  EXPECT_EQ(r.removed, 2);
  EXPECT_EQ(r.relabelled, 2);
  EXPECT_EQ(r.moved, 1);
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_NE(r.notes[0].find("image a: spurious object #5"), std::string::npos) << r.notes[0];
  EXPECT_NE(r.notes[0].find("image a: swapped object #5"), std::string::npos) << r.notes[0];
  EXPECT_NE(r.notes[1].find("image zz"), std::string::npos) << r.notes[1];

  EXPECT_EQ(snapshot(root), before);  // the original is only read
  const auto exported = snapshot(out);
  for (const char* f : {"JPEGImages/a.jpg", "JPEGImages/b.jpg", "JPEGImages/c.jpg", "ImageSets/Main/train.txt",
                        "ImageSets/Main/val.txt", "labels.txt", "Annotations/b.xml", "Annotations/c.xml"}) {
    ASSERT_TRUE(exported.count(f)) << f;
    EXPECT_EQ(exported.at(f), before.at(f)) << f;  // byte for byte
  }
  EXPECT_EQ(exported.size(), before.size() + 1);  // + decisions.json
  // a.xml: objects 0 and 3 gone, 1 and 5 relabelled, 2 moved, one added; the rest of the text as it was.
  std::string moved = kObj[2], relabelled1 = kObj[1], relabelled5 = kObj[5];
  moved.replace(moved.find("<bndbox>"), moved.find("</bndbox>") - moved.find("<bndbox>"),
                "<bndbox><xmin>41</xmin><ymin>130</ymin><xmax>100</xmax><ymax>210</ymax>");
  relabelled1.replace(relabelled1.find("dog"), 3, "cat");
  relabelled5.replace(relabelled5.find("dog"), 3, "cat");
  const std::string added =
      "  <object>\n    <name>dog</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n"
      "    <difficult>0</difficult>\n    <bndbox>\n      <xmin>161</xmin>\n      <ymin>152</ymin>\n"
      "      <xmax>210</xmax>\n      <ymax>200</ymax>\n    </bndbox>\n  </object>\n";
  EXPECT_EQ(exported.at("Annotations/a.xml"),
            voc_head("a.jpg") + relabelled1 + moved + kObj[4] + relabelled5 + added + kTail);

  const DatasetInfo back = open_dataset(out.string());
  EXPECT_EQ(back.class_names, ds.class_names);
  EXPECT_EQ(back.problems, 0u);
  ASSERT_EQ(back.size(), 2u);
  const auto& a = back.images[0].objects;
  ASSERT_EQ(a.size(), 5u);
  expect_object(a[0], kCat, {100, 100, 150, 160}, 0);
  expect_object(a[1], kDog, {40, 129, 100, 210}, 1);
  expect_object(a[2], kCat, {151, 11, 200, 61}, 2);
  expect_object(a[3], kCat, {0, 149, 40, 224}, 3);
  expect_object(a[4], kDog, {160, 151, 210, 200}, 4);
  const auto& b = back.images[1].objects;
  ASSERT_EQ(b.size(), 2u);
  expect_object(b[0], kCat, {20, 20, 80, 80}, 0);
  expect_object(b[1], kDog, {100, 30, 200, 130}, 1);

  const json doc = json::parse(slurp(r.decisions_json));
  EXPECT_EQ(doc["dataset"], root.string());
  EXPECT_EQ(doc["split"], "train");
  EXPECT_EQ(doc["format"], "voc");
  EXPECT_EQ(doc["out"], out.string());
  ASSERT_EQ(doc["decisions"].size(), decisions.size());
  std::vector<std::string> states;
  for (const auto& d : doc["decisions"]) states.push_back(d["state"]);
  EXPECT_EQ(states, (std::vector<std::string>{"accepted", "accepted", "accepted", "accepted", "accepted", "accepted",
                                              "accepted", "rejected", "rejected", "undecided", "accepted"}));
  const auto& swapped = doc["decisions"][1];
  EXPECT_EQ(swapped["image"], "a");
  EXPECT_EQ(swapped["kind"], "swapped");
  EXPECT_EQ(swapped["gt_index"], 1);
  EXPECT_EQ(swapped["class"], "dog");
  EXPECT_EQ(swapped["suggested_class"], "cat");
  EXPECT_EQ(swapped["box"], json::array({100, 100, 150, 160}));
  EXPECT_TRUE(swapped["suggested_box"].is_null());
  EXPECT_FLOAT_EQ(swapped["score"].get<float>(), 0.75f);
  const auto& missing = doc["decisions"][6];
  EXPECT_EQ(missing["kind"], "missing");
  EXPECT_TRUE(missing["gt_index"].is_null());
  EXPECT_TRUE(missing["class"].is_null());
  EXPECT_TRUE(missing["box"].is_null());
  EXPECT_EQ(missing["suggested_class"], "dog");
  ASSERT_EQ(missing["suggested_box"].size(), 4u);
  EXPECT_FLOAT_EQ(missing["suggested_box"][0].get<float>(), 160.4f);
  EXPECT_FLOAT_EQ(missing["suggested_box"][3].get<float>(), 199.5f);
}

TEST(LabelFixes, VocRefusesAnOutThatIsNotEmptyOrLiesInsideTheDataset) {
  TempDir tmp("voc_refuse");
  const fs::path root = make_voc(tmp.path / "ds", true);
  const DatasetInfo ds = open_dataset(root.string());
  const std::vector<LabelDecision> decisions = {decision("a", K::Spurious, 0, kCat, Box{10, 20, 60, 80}, -1, {})};
  const auto before = snapshot(root);
  const fs::path busy = tmp.path / "busy";
  spit(busy / "x.txt", "x");
  EXPECT_NE(error_of([&] { export_corrected(ds, decisions, busy.string()); }).find(busy.string() + ": already exists"),
            std::string::npos);
  for (const fs::path& inside : {root / "fixed", root / "Annotations" / "fixed", root}) {
    const std::string e = error_of([&] { export_corrected(ds, decisions, inside.string()); });
    EXPECT_NE(e.find(inside.string() + ": lies inside the dataset"), std::string::npos) << e;
  }
  EXPECT_EQ(snapshot(root), before);  // nothing written into the dataset
  EXPECT_EQ(snapshot(busy).size(), 1u);
  // An empty directory is a fine place.
  fs::create_directories(tmp.path / "empty");
  EXPECT_EQ(export_corrected(ds, decisions, (tmp.path / "empty").string()).removed, 1);
}

TEST(LabelFixes, VocWithoutLabelsTxtGetsTheClassListItWasOpenedWith) {
  TempDir tmp("voc_nolabels");
  const fs::path root = make_voc(tmp.path / "ds", false);
  const DatasetInfo ds = open_dataset(root.string());  // classes discovered: cat, dog
  ASSERT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  // Every cat removed: discovered again, the copy's classes would be just "dog", numbered 0.
  std::vector<LabelDecision> decisions;
  for (int i : {0, 3, 4}) decisions.push_back(decision("a", K::Spurious, i, kCat, {}, -1, {}));
  decisions.push_back(decision("b", K::Spurious, 0, kCat, {}, -1, {}));
  const fs::path out = tmp.path / "fixed";
  EXPECT_EQ(export_corrected(ds, decisions, out.string()).removed, 4);
  EXPECT_EQ(slurp(out / "labels.txt"), "cat\ndog\n");
  const auto back = open_dataset(out.string());
  EXPECT_EQ(back.class_names, ds.class_names);
  ASSERT_EQ(back.size(), 2u);
  ASSERT_EQ(back.images[0].objects.size(), 3u);
  ASSERT_EQ(back.images[1].objects.size(), 1u);
  for (const auto& im : back.images)
    for (const auto& o : im.objects) EXPECT_EQ(o.label, kDog);
}

namespace {

const char* kCoco = R"({"info": {"description": "made by hand"},
 "images": [{"id": 1, "file_name": "a.jpg", "width": 224, "height": 224},
            {"id": 7, "file_name": "b.jpg", "width": 224, "height": 224}],
 "annotations": [
  {"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 20, 50, 60], "area": 3000, "iscrowd": 0},
  {"id": 11, "image_id": 7, "category_id": 5, "bbox": [5, 5, 20, 20], "area": 400, "iscrowd": 0},
  {"id": 12, "image_id": 1, "category_id": 5, "bbox": [100, 100, 50, 60], "area": 2900, "iscrowd": 0,
   "segmentation": [[100, 100, 150, 100, 150, 160]]},
  {"id": 40, "image_id": 1, "category_id": 3, "bbox": [30, 120, 60, 80], "area": 4800, "iscrowd": 0},
  {"id": 13, "image_id": 7, "category_id": 3, "bbox": [150, 10, 50, 50], "area": 2500, "iscrowd": 0}],
 "categories": [{"id": 5, "name": "dog"}, {"id": 3, "name": "cat"}]}
)";

}  // namespace

TEST(LabelFixes, CocoExportEditsAnnotationsAndKeepsTheRestOfTheDocument) {
  TempDir tmp("coco");
  const fs::path src = tmp.path / "ds" / "annotations" / "instances_train.json";
  spit(src, kCoco);
  const DatasetInfo ds = open_dataset((tmp.path / "ds").string());  // the directory: root is the .json
  EXPECT_EQ(ds.root, src.string());
  ASSERT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));  // by category id: 3, 5
  const std::vector<LabelDecision> decisions = {
      decision("a", K::Spurious, 0, kCat, Box{10, 20, 60, 80}, -1, {}),
      decision("a", K::Swapped, 1, kDog, Box{100, 100, 150, 160}, kCat, {}),
      decision("a", K::BadLoc, 2, kCat, Box{30, 120, 90, 200}, -1, Box{40.004f, 130, 100.5f, 210.5f}),
      decision("b", K::Missing, -1, kCat, {}, kCat, Box{60.25f, 70, 90.75f, 100}),
      decision("b", K::Missing, -1, kDog, {}, kDog, Box{0, 0, 300, 50}),  // clipped to the image
      decision("b", K::Spurious, 0, kDog, Box{5, 5, 25, 25}, -1, {}, S::Rejected),
      decision("b", K::Duplicate, 1, kCat, Box{150, 10, 200, 60}, -1, {}, S::Undecided),
  };
  const fs::path out = tmp.path / "fixed.json";
  const auto r = export_corrected(ds, decisions, out.string());
  EXPECT_EQ(slurp(src), kCoco);
  EXPECT_EQ(r.decisions_json, out.string() + ".decisions.json");
  EXPECT_EQ(r.added, 2);
  EXPECT_EQ(r.removed, 1);
  EXPECT_EQ(r.relabelled, 1);
  EXPECT_EQ(r.moved, 1);
  EXPECT_TRUE(r.notes.empty());

  const json doc = json::parse(slurp(out));
  EXPECT_EQ(doc["info"], json::parse(kCoco)["info"]);
  EXPECT_EQ(doc["images"], json::parse(kCoco)["images"]);
  EXPECT_EQ(doc["categories"], json::parse(kCoco)["categories"]);
  const auto& anns = doc["annotations"];
  ASSERT_EQ(anns.size(), 6u);
  std::vector<int> ids, cats;
  for (const auto& a : anns) ids.push_back(a["id"]), cats.push_back(a["category_id"]);
  EXPECT_EQ(ids, (std::vector<int>{11, 12, 40, 13, 41, 42}));  // 10 removed; new ids above the largest
  EXPECT_EQ(cats, (std::vector<int>{5, 3, 3, 3, 3, 5}));
  EXPECT_EQ(anns[1]["area"], 2900);  // relabelled only
  EXPECT_EQ(anns[1]["segmentation"], json::parse("[[100, 100, 150, 100, 150, 160]]"));
  EXPECT_EQ(anns[2]["bbox"], json::parse("[40, 130, 60.5, 80.5]"));
  EXPECT_EQ(anns[2]["area"], 4870.25);
  EXPECT_EQ(anns[4], json::parse(R"({"id": 41, "image_id": 7, "category_id": 3, "bbox": [60.25, 70, 30.5, 30],
                                     "area": 915, "iscrowd": 0})"));
  EXPECT_EQ(anns[5]["bbox"], json::parse("[0, 0, 224, 50]"));
  EXPECT_EQ(anns[5]["area"], 11200);

  const DatasetInfo back = open_dataset(out.string());
  EXPECT_EQ(back.class_names, ds.class_names);
  ASSERT_EQ(back.size(), 2u);
  const auto& one = back.images[0].objects;
  ASSERT_EQ(one.size(), 2u);
  expect_object(one[0], kCat, {100, 100, 150, 160}, 0);
  expect_object(one[1], kCat, {40, 130, 100.5f, 210.5f}, 1);
  const auto& seven = back.images[1].objects;
  ASSERT_EQ(seven.size(), 4u);
  expect_object(seven[0], kDog, {5, 5, 25, 25}, 0);
  expect_object(seven[1], kCat, {150, 10, 200, 60}, 1);
  expect_object(seven[2], kCat, {60.25f, 70, 90.75f, 100}, 2);
  expect_object(seven[3], kDog, {0, 0, 224, 50}, 3);

  const json dec = json::parse(slurp(r.decisions_json));
  EXPECT_EQ(dec["dataset"], src.string());
  EXPECT_EQ(dec["format"], "coco");
  std::vector<std::string> states;
  for (const auto& d : dec["decisions"]) states.push_back(d["state"]);
  EXPECT_EQ(states, (std::vector<std::string>{"accepted", "accepted", "accepted", "accepted", "accepted", "rejected",
                                              "undecided"}));
  EXPECT_EQ(dec["decisions"][2]["suggested_box"][2], 100.5);
  EXPECT_TRUE(dec["decisions"][2]["suggested_class"].is_null());
}

TEST(LabelFixes, CocoRefusesItsOwnFileAndAFileThatIsNotEmpty) {
  TempDir tmp("coco_refuse");
  const fs::path src = tmp.path / "instances.json";
  spit(src, kCoco);
  const DatasetInfo ds = open_dataset(src.string());
  EXPECT_EQ(ds.root, src.string());
  const std::vector<LabelDecision> decisions = {decision("a", K::Spurious, 0, kCat, Box{10, 20, 60, 80}, -1, {})};
  std::string e = error_of([&] { export_corrected(ds, decisions, src.string()); });
  EXPECT_NE(e.find(src.string() + ": lies inside the dataset"), std::string::npos) << e;
  const fs::path busy = tmp.path / "busy.json";
  spit(busy, "{}");
  e = error_of([&] { export_corrected(ds, decisions, busy.string()); });
  EXPECT_NE(e.find(busy.string() + ": already exists"), std::string::npos) << e;
  EXPECT_EQ(slurp(src), kCoco);
  EXPECT_EQ(slurp(busy), "{}");
  EXPECT_FALSE(fs::exists(busy.string() + ".decisions.json"));
}
