// Every bad input gets an error naming the file and the problem (strict) or a
// counted, reported skip (lenient). Cases are written into a temp directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "api/eval_job.h"
#include "data/dataset.h"
#include "data/image_io.h"

namespace fs = std::filesystem;
using namespace rcnn::data;

namespace {

struct VocCase {
  fs::path root;
  explicit VocCase(const std::string& name) {
    root = fs::temp_directory_path() / ("rcnn_bad_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "JPEGImages");
    fs::create_directories(root / "Annotations");
    fs::create_directories(root / "ImageSets" / "Main");
    std::ofstream(root / "labels.txt") << "cat\ndog\n";
  }
  void image(const std::string& id, int w = 40, int h = 30) {
    cv::imwrite((root / "JPEGImages" / (id + ".png")).string(), cv::Mat(h, w, CV_8UC3, cv::Scalar(9, 9, 9)));
  }
  void xml(const std::string& id, const std::string& objects, int w = 40, int h = 30) {
    std::ofstream(root / "Annotations" / (id + ".xml"))
        << "<annotation><filename>" << id << ".png</filename><size><width>" << w << "</width><height>" << h
        << "</height></size>" << objects << "</annotation>";
  }
  static std::string obj(const std::string& name, int x1, int y1, int x2, int y2) {
    return "<object><name>" + name + "</name><bndbox><xmin>" + std::to_string(x1) + "</xmin><ymin>" +
           std::to_string(y1) + "</ymin><xmax>" + std::to_string(x2) + "</xmax><ymax>" + std::to_string(y2) +
           "</ymax></bndbox></object>";
  }
  void split(const std::vector<std::string>& ids) {
    std::ofstream f(root / "ImageSets" / "Main" / "train.txt");
    for (const auto& i : ids) f << i << "\n";
  }
  std::string strict_error() {
    LoadOptions o;
    o.strict = true;
    try {
      open_dataset(root.string(), o);
    } catch (const DataError& e) {
      return e.what();
    }
    return "";
  }
  Dataset lenient() { return read_voc(root.string(), LoadOptions{}); }
};

void expect_has(const std::string& msg, const std::string& a, const std::string& b) {
  EXPECT_NE(msg.find(a), std::string::npos) << msg;
  EXPECT_NE(msg.find(b), std::string::npos) << msg;
}

// The error a strict open of `path` throws ("" when it opens).
std::string strict_open_error(const fs::path& path) {
  LoadOptions strict;
  strict.strict = true;
  try {
    open_dataset(path.string(), strict);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(BadInput, MalformedXml) {
  VocCase c("xml");
  c.image("a");
  std::ofstream(c.root / "Annotations" / "a.xml") << "<annotation><object><name>cat</name>";
  c.image("b");
  c.xml("b", VocCase::obj("cat", 1, 1, 10, 10));
  c.split({"a", "b"});
  expect_has(c.strict_error(), "a.xml", "malformed XML");
  auto ds = c.lenient();
  EXPECT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds.skipped_images, 1);
  ASSERT_EQ(ds.issues.size(), 1u);
  expect_has(ds.issues[0], "a.xml", "image skipped");
}

TEST(BadInput, UnknownClass) {
  VocCase c("cls");
  c.image("a");
  c.xml("a", VocCase::obj("zebra", 1, 1, 10, 10) + VocCase::obj("cat", 1, 1, 10, 10));
  c.split({"a"});
  expect_has(c.strict_error(), "a.xml", "unknown class 'zebra'");
  auto ds = c.lenient();
  EXPECT_EQ(ds.skipped_objects, 1);
  EXPECT_EQ(ds.images[0].objects.size(), 1u);
}

TEST(BadInput, DegenerateAndOutsideBoxes) {
  VocCase c("box");
  c.image("a");
  // x2 <= x1 (VOC xmax 5 < xmin 9), wholly outside, overshooting (clipped), fine.
  c.xml("a", VocCase::obj("cat", 9, 1, 5, 10) + VocCase::obj("cat", 60, 1, 70, 10) + VocCase::obj("dog", 1, 1, 45, 10) +
                 VocCase::obj("dog", 2, 2, 8, 8));
  c.split({"a"});
  expect_has(c.strict_error(), "a.xml", "x2 <= x1");
  auto ds = c.lenient();
  EXPECT_EQ(ds.skipped_objects, 2);
  EXPECT_EQ(ds.clipped_objects, 1);
  ASSERT_EQ(ds.images[0].objects.size(), 2u);
  EXPECT_FLOAT_EQ(ds.images[0].objects[0].x2, 40.f);  // clipped to the image
  bool outside = false;
  for (const auto& i : ds.issues) outside |= i.find("lies outside the 40x30 image") != std::string::npos;
  EXPECT_TRUE(outside);
}

TEST(BadInput, MissingZeroByteCorruptAndHugeImages) {
  VocCase c("img");
  c.xml("missing", VocCase::obj("cat", 1, 1, 10, 10));
  std::ofstream(c.root / "JPEGImages" / "zero.png").close();
  c.xml("zero", VocCase::obj("cat", 1, 1, 10, 10));
  std::ofstream(c.root / "JPEGImages" / "corrupt.png") << "\x89PNG\r\n\x1a\n garbage garbage garbage";
  c.xml("corrupt", VocCase::obj("cat", 1, 1, 10, 10), 0, 0);
  // A 20000x20000 PNG header (IHDR) without the pixel data.
  {
    std::ofstream f(c.root / "JPEGImages" / "huge.png", std::ios::binary);
    const unsigned char hdr[] = {0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a, '\n', 0,    0, 0, 13, 'I', 'H', 'D',
                                 'R',  0,   0,   0x4e, 0x20, 0,    0,    0x4e, 0x20, 8, 2, 0,  0,   0};
    f.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
  }
  c.xml("huge", VocCase::obj("cat", 1, 1, 10, 10), 0, 0);
  c.image("ok");
  c.xml("ok", VocCase::obj("cat", 1, 1, 10, 10));
  c.split({"missing", "zero", "corrupt", "huge", "ok"});
  auto ds = c.lenient();
  EXPECT_EQ(ds.size(), 2u);  // corrupt passes the header check; decoding fails later
  EXPECT_EQ(ds.skipped_images, 3);
  std::string all;
  for (const auto& i : ds.issues) all += i + "\n";
  expect_has(all, "missing.png", "not found");
  expect_has(all, "zero.png", "0 bytes");
  expect_has(all, "huge.png", "20000x20000");
  // Decoding the corrupt file names it.
  try {
    load_image_rgb((c.root / "JPEGImages" / "corrupt.png").string());
    FAIL();
  } catch (const DataError& e) {
    expect_has(e.what(), "corrupt.png", "cannot decode");
  }
  EXPECT_THROW(load_image_rgb((c.root / "JPEGImages" / "huge.png").string()), DataError);
}

TEST(BadInput, EmptySplitAndMissingSplitFile) {
  VocCase c("empty");
  c.split({});
  expect_has(c.strict_error(), "split 'train'", "is empty");
  fs::remove(c.root / "ImageSets" / "Main" / "train.txt");
  expect_has(c.strict_error(), "train.txt", "split file not found");
}

TEST(BadInput, MalformedCocoJson) {
  auto dir = fs::temp_directory_path() / ("rcnn_bad_coco_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "broken.json") << "{\"images\": [";
  try {
    open_dataset((dir / "broken.json").string());
    FAIL();
  } catch (const DataError& e) {
    expect_has(e.what(), "broken.json", "malformed JSON");
  }
  std::ofstream(dir / "badcat.json") << R"({"images":[{"id":1,"file_name":"x.png","width":10,"height":10}],
    "categories":[{"id":1,"name":"a"}],"annotations":[{"id":5,"image_id":1,"category_id":9,"bbox":[1,1,2,2]}]})";
  expect_has(strict_open_error(dir / "badcat.json"), "annotation 5", "unknown category_id 9");
  auto ds = open_dataset((dir / "badcat.json").string());
  EXPECT_EQ(ds.skipped_objects, 1);
  // Found by scripts/fuzz.sh (coco): a number beyond double's range was an
  // uncaught nlohmann out_of_range (the process ended), not a DataError.
  std::ofstream(dir / "overflow.json") << R"({"images":[{"id":1,"file_name":"x.png","width":1e400,"height":10}]})";
  try {
    open_dataset((dir / "overflow.json").string());
    FAIL();
  } catch (const DataError& e) {
    expect_has(e.what(), "overflow.json", "number overflow");
  }
}

TEST(BadInput, NumbersThatAreNotNumbers) {
  // "<xmin>five</xmin>" used to be read as x = 0 and the object kept with a wrong box.
  VocCase c("nan_fields");
  c.image("a");
  c.xml("a", VocCase::obj("cat", 2, 2, 20, 20) +
                 "<object><name>dog</name><bndbox><xmin>five</xmin><ymin>3</ymin><xmax>30</xmax><ymax>25</ymax>"
                 "</bndbox></object>" +
                 "<object><name>dog</name><bndbox><xmin>4</xmin><ymin>3</ymin><xmax>12px</xmax><ymax>25</ymax>"
                 "</bndbox></object>" +
                 "<object><name>cat</name><difficult>maybe</difficult><bndbox><xmin>4</xmin><ymin>3</ymin>"
                 "<xmax>12</xmax><ymax>25</ymax></bndbox></object>" +
                 "<object><name>cat</name><bndbox><xmin> 5 </xmin><ymin>3</ymin><xmax>1e400</xmax><ymax>25</ymax>"
                 "</bndbox></object>");
  c.split({"a"});
  expect_has(c.strict_error(), "a.xml: object #1 ('dog') <xmin>", "\"five\" is not a number");
  const auto ds = c.lenient();
  ASSERT_EQ(ds.images.size(), 1u);
  ASSERT_EQ(ds.images[0].objects.size(), 1u);  // only the good cat
  EXPECT_EQ(ds.images[0].objects[0].x1, 1.f);
  EXPECT_EQ(ds.skipped_objects, 4);
  std::string all;
  for (const auto& i : ds.issues) all += i + "\n";
  expect_has(all, "object #2 ('dog') <xmax>: \"12px\" is not a number", "object #3 ('cat') <difficult>: \"maybe\"");
  expect_has(all, "object #4 ('cat') <xmax>: \"1e400\" is not a finite number", "(object skipped)");
  // <size> too: a word is an error (strict) or a reported fallback to the image's own size.
  VocCase s("nan_size");
  s.image("b", 40, 30);
  std::ofstream(s.root / "Annotations" / "b.xml") << "<annotation><filename>b.png</filename><size><width>forty</width>"
                                                     "<height>30</height></size>" +
                                                         VocCase::obj("cat", 2, 2, 20, 20) + "</annotation>";
  s.split({"b"});
  expect_has(s.strict_error(), "b.xml: <size><width>", "\"forty\" is not a number");
  const auto sd = s.lenient();
  ASSERT_EQ(sd.images.size(), 1u);
  EXPECT_EQ(sd.images[0].width, 40);
  EXPECT_EQ(sd.images[0].objects.size(), 1u);
  ASSERT_FALSE(sd.issues.empty());
  expect_has(sd.issues[0], "<size><width>", "(the image's own size is used)");
  // COCO: a bbox entry that is a string, an iscrowd that is not 0/1.
  auto dir = fs::temp_directory_path() / ("rcnn_bad_coco_num_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "num.json") << R"({"images":[{"id":1,"file_name":"x.png","width":10,"height":10}],
    "categories":[{"id":1,"name":"a"}],"annotations":[
      {"id":5,"image_id":1,"category_id":1,"bbox":["five",1,2,2]},
      {"id":6,"image_id":1,"category_id":1,"bbox":[1,1,2,2],"iscrowd":"yes"},
      {"id":7,"image_id":1,"category_id":1,"bbox":[1,1,2,2]}]})";
  expect_has(strict_open_error(dir / "num.json"), "num.json: annotation 5", "bbox[0] (x) is \"five\", not a number");
  const auto coco = open_dataset((dir / "num.json").string());
  EXPECT_EQ(coco.skipped_objects, 2);
  ASSERT_EQ(coco.images.size(), 1u);
  EXPECT_EQ(coco.images[0].objects.size(), 1u);
  fs::remove_all(dir);
}

// Found by fuzzing (coco): a number that JSON holds but an id or a float
// coordinate cannot (2.2e129 as image_id) was converted anyway, which is
// undefined behaviour (UBSan: "outside the range of representable values").
// Each is now the field's error, strict or lenient.
TEST(BadInput, CocoNumbersOutOfRangeAreNamed) {
  auto dir = fs::temp_directory_path() / ("rcnn_bad_coco_range_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "range.json") << R"({"images":[{"id":1,"file_name":"x.png","width":10,"height":10},
      {"id":2.5,"file_name":"y.png"},{"id":3,"file_name":"z.png","width":1e300},
      {"id":18446744073709551615,"file_name":"w.png"},{"id":4.0,"file_name":"v.png","width":20,"height":8}],
    "categories":[{"id":1,"name":"a"}],"annotations":[
      {"id":5,"image_id":2222222222222222222222222222222222222222222222222222222222222222222222222222222222,
       "category_id":1,"bbox":[1,1,2,2]},
      {"id":6,"image_id":1,"category_id":1e300,"bbox":[1,1,2,2]},
      {"id":7,"image_id":1,"category_id":1,"bbox":[1,1e300,2,2]},
      {"id":8,"image_id":1,"category_id":1,"bbox":[1,1,2,2]},
      {"id":9,"image_id":4,"category_id":1.0,"bbox":[1,1,2,2]}]})";
  expect_has(strict_open_error(dir / "range.json"), "range.json: image {", "id is 2.5, not an integer id");
  const auto ds = open_dataset((dir / "range.json").string());
  // Images 2.5, width 1e300 and 2^64 - 1 are skipped; 1 and 4.0 (integral) are kept.
  ASSERT_EQ(ds.images.size(), 2u);
  EXPECT_EQ(ds.skipped_images, 3);
  EXPECT_EQ(ds.images[1].id, "4");
  EXPECT_EQ(ds.images[1].width, 20);
  EXPECT_EQ(ds.skipped_objects, 3);
  EXPECT_EQ(ds.images[0].objects.size(), 1u);
  EXPECT_EQ(ds.images[1].objects.size(), 1u);
  std::string all;
  for (const auto& i : ds.issues) all += i + "\n";
  expect_has(all, "range.json: annotation 5: image_id is 2.22222", "not an integer id");
  expect_has(all, "annotation 6: category_id is 1e+300, not an integer id", "(object skipped)");
  expect_has(all, "annotation 7: bbox[1] (y) is 1e+300, out of range [-1e9, 1e9]", "(object skipped)");
  expect_has(all, "width is 1e+300, not a size in 0..1000000", "(image skipped)");
  expect_has(all, "id is 18446744073709551615, not an integer id", "(image skipped)");
  fs::remove_all(dir);
}

// The same for `rcnn eval --detections`: a label outside the classes would
// index past the evaluator's tables, a huge number would not convert.
TEST(BadInput, DetectionsFileNumbersAreChecked) {
  auto dir = fs::temp_directory_path() / ("rcnn_bad_dets_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "gt.json") << R"({"images":[{"id":1,"file_name":"x.png","width":40,"height":40}],
    "categories":[{"id":1,"name":"a"}],"annotations":[{"id":5,"image_id":1,"category_id":1,"bbox":[4,4,10,10]}]})";
  auto eval = [&](const std::string& dets) -> std::string {
    std::ofstream(dir / "dets.json") << dets;
    try {
      const auto rep = rcnn::api::evaluate_detections_file((dir / "dets.json").string(), (dir / "gt.json").string(), "");
      return "mAP50 " + std::to_string(rep.result.map50);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  };
  // One exact detection of the one GT: AP 1.
  EXPECT_EQ(eval(R"([{"image":"x.png","detections":[{"box":[4,4,14,14],"label":0,"score":0.9}]}])"), "mAP50 1.000000");
  expect_has(eval(R"([{"image":"x.png","detections":[{"box":[4,4,14,14],"label":0,"score":0.9},
                     {"box":[4,4,14,14],"label":7,"score":0.9}]}])"),
             "dets.json: x.png, detection 1: label is 7", "not a class index in 0..0");
  expect_has(eval(R"([{"image":"x.png","detections":[{"box":[4,4,14,14],"label":2.2e129,"score":0.9}]}])"),
             "detection 0: label is 2.2e+129", "not a class index");
  expect_has(eval(R"([{"image":"x.png","detections":[{"box":[4,1e300,14,14],"label":0,"score":0.9}]}])"),
             "detection 0: box[1] is 1e+300", "not a number in [-1e9, 1e9]");
  expect_has(eval(R"([{"image":"x.png","detections":[{"box":[4,4,14,14],"label":0,"score":"high"}]}])"),
             "detection 0: score is \"high\"", "not a finite number");
  fs::remove_all(dir);
}
