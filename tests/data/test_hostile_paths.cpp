// Hostile inputs a user's disk really holds: names with spaces and
// non-ASCII characters, symbolic-link loops, a COCO file with a million
// annotations, XML entity tricks, an image header declaring 60000 x 60000 px.
// Each must be read, or refused with a message naming the file, without a
// hang or an out-of-memory kill.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "data/dataset.h"
#include "data/image_io.h"

namespace fs = std::filesystem;
using namespace rcnn::data;

namespace {

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_png(const fs::path& p, int w, int h) {
  ASSERT_TRUE(cv::imwrite(p.string(), cv::Mat(h, w, CV_8UC3, cv::Scalar(30, 60, 90)))) << p;
}

std::string all_issues(const Dataset& ds) {
  std::string s;
  for (const auto& i : ds.issues) s += i + "\n";
  return s;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

}  // namespace

TEST(HostilePaths, SpacesAndNonAsciiNames) {
  // The dataset's own directory, its images and their ids all carry spaces
  // and UTF-8 (Latin, CJK, an emoji).
  const auto root = fresh_dir("rcnn hostile dåtå 日本");
  for (auto d : {"JPEGImages", "Annotations", "ImageSets/Main"}) fs::create_directories(root / d);
  std::ofstream(root / "labels.txt") << "chat\n犬\n";
  const std::vector<std::string> ids = {"chat noir été", "写真 1", "🐈 two  spaces"};
  for (size_t k = 0; k < ids.size(); ++k) {
    write_png(root / "JPEGImages" / (ids[k] + ".png"), 40 + int(k), 30);
    std::ofstream(root / "Annotations" / (ids[k] + ".xml"))
        << "<annotation><filename>" << ids[k] << ".png</filename><size><width>" << 40 + k
        << "</width><height>30</height></size><object><name>" << (k == 1 ? "犬" : "chat")
        << "</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object></annotation>";
  }
  {
    std::ofstream f(root / "ImageSets" / "Main" / "train.txt");
    for (const auto& i : ids) f << i << "\n";
  }
  LoadOptions strict;
  strict.strict = true;
  const Dataset voc = open_dataset(root.string(), strict);
  ASSERT_EQ(voc.size(), 3u);
  EXPECT_EQ(voc.class_names, (std::vector<std::string>{"chat", "犬"}));
  for (size_t k = 0; k < ids.size(); ++k) {
    EXPECT_EQ(voc.images[k].id, ids[k]);
    ASSERT_EQ(voc.images[k].objects.size(), 1u);
    EXPECT_EQ(voc.images[k].objects[0].label, k == 1 ? 1 : 0);
    const cv::Mat m = load_image_rgb(voc.images[k].path);
    EXPECT_EQ(m.cols, 40 + int(k)) << voc.images[k].path;
  }
  // The same images as a folder, and through a COCO file.
  const Dataset folder = open_dataset((root / "JPEGImages").string(), strict);
  ASSERT_EQ(folder.size(), 3u);
  EXPECT_EQ(folder.images[0].id, "chat noir été");  // sorted by bytes
  std::ofstream(root / "Annotations" / "coco ünï.json")
      << R"({"images":[{"id":1,"file_name":"写真 1.png","width":41,"height":30}],"categories":[{"id":3,"name":"猫"}],
            "annotations":[{"id":1,"image_id":1,"category_id":3,"bbox":[1,2,10,10]}]})";
  LoadOptions coco_opt = strict;
  const Dataset coco = read_coco((root / "Annotations" / "coco ünï.json").string(), (root / "JPEGImages").string(),
                                 coco_opt);
  ASSERT_EQ(coco.size(), 1u);
  EXPECT_EQ(coco.class_names[0], "猫");
  EXPECT_EQ(load_image_rgb(coco.images[0].path).cols, 41);
  // A missing file with such a name is named in the error, bytes intact.
  fs::remove(root / "JPEGImages" / "写真 1.png");
  try {
    open_dataset(root.string(), strict);
    FAIL() << "a missing image must be an error in strict mode";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("写真 1.png"), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}

TEST(HostilePaths, SymlinkLoopsInAnImageFolder) {
  const auto dir = fresh_dir("rcnn_hostile_links");
  write_png(dir / "real.png", 32, 24);
  fs::create_directory_symlink(".", dir / "self");        // a directory loop
  fs::create_directory_symlink("..", dir / "parent.png");  // a directory with an image's name
  fs::create_symlink("b.png", dir / "a.png");              // a.png -> b.png -> a.png: ELOOP
  fs::create_symlink("a.png", dir / "b.png");
  fs::create_symlink("gone.png", dir / "dangling.png");
  fs::create_symlink("real.png", dir / "alias.png");  // a good link is an image like any other
  const Dataset ds = open_dataset(dir.string());
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.images[0].id, "alias");
  EXPECT_EQ(ds.images[1].id, "real");
  EXPECT_EQ(ds.skipped_images, 3);
  const std::string all = all_issues(ds);
  EXPECT_NE(all.find("a.png: cannot be read (Too many levels of symbolic links)"), std::string::npos) << all;
  EXPECT_NE(all.find("b.png: cannot be read (Too many levels of symbolic links)"), std::string::npos) << all;
  EXPECT_NE(all.find("dangling.png: cannot be read (a symbolic link to a file that does not exist)"),
            std::string::npos)
      << all;
  LoadOptions strict;
  strict.strict = true;
  EXPECT_THROW(open_dataset(dir.string(), strict), DataError);
  // Decoding through the loop names the file.
  try {
    load_image_rgb((dir / "a.png").string());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("a.png"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(HostilePaths, CocoWithAMillionAnnotations) {
  // 10^6 annotations on 1000 images (92 MB of JSON): every 4th carries a
  // polygon segmentation, 1500 are bad (an unknown category).
  const auto dir = fresh_dir("rcnn_hostile_coco");
  const auto path = dir / "instances_train.json";
  constexpr int kImages = 1000, kAnns = 1000000, kBadEvery = 666;
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("{\"images\":[", f);
    for (int i = 1; i <= kImages; ++i)
      std::fprintf(f, "%s{\"id\":%d,\"file_name\":\"im%d.png\",\"width\":200,\"height\":100}", i > 1 ? "," : "", i, i);
    std::fputs("],\"annotations\":[", f);
    for (int k = 0; k < kAnns; ++k) {
      const int x = k % 150, y = (k / 150) % 60, cat = (k % kBadEvery == 0) ? 99 : 1 + k % 80;
      std::fprintf(f, "%s{\"id\":%d,\"image_id\":%d,\"category_id\":%d,\"bbox\":[%d,%d,%d.5,%d],\"area\":100,",
                   k ? "," : "", k + 1, 1 + k % kImages, cat, x, y, 10 + k % 40, 12 + k % 30);
      if (k % 4 == 0) std::fprintf(f, "\"segmentation\":[[%d,%d,%d,%d,%d,%d,%d,%d]],", x, y, x + 9, y, x + 9, y + 9, x, y + 9);
      std::fputs("\"iscrowd\":0}", f);
    }
    std::fputs("],\"categories\":[", f);  // after the annotations, as in COCO's own files
    for (int c = 1; c <= 80; ++c) std::fprintf(f, "%s{\"id\":%d,\"name\":\"class %d\"}", c > 1 ? "," : "", c, c);
    std::fputs("]}", f);
    std::fclose(f);
  }
  const int bad = (kAnns + kBadEvery - 1) / kBadEvery;  // k = 0, 666, 1332, ...
  const double before = peak_rss_mib();
  const Dataset ds = read_coco(path.string(), dir.string(), LoadOptions{});
  const double grew = peak_rss_mib() - before;
  ASSERT_EQ(ds.size(), size_t(kImages));
  EXPECT_EQ(ds.num_objects(), size_t(kAnns - bad));
  EXPECT_EQ(ds.skipped_objects, bad);
  // Every problem is counted; the first 1000 are listed.
  EXPECT_EQ(ds.issues.size(), Dataset::kMaxIssueLines);
  EXPECT_EQ(ds.problem_count(), size_t(bad));
  EXPECT_NE(ds.issues[1].find("annotation 667 has unknown category_id 99"), std::string::npos) << ds.issues[1];
  // Spot-check one box: annotation k = 12345 on image 346.
  const auto& im = ds.images[345];
  bool found = false;
  for (const auto& o : im.objects)
    if (o.x1 == 12345 % 150 && o.y1 == (12345 / 150) % 60 && o.x2 == o.x1 + 10 + 12345 % 40 + 0.5f) found = true;
  EXPECT_TRUE(found);
  // The annotations are held as boxes, not as a JSON tree (~1 GB for this
  // file): the reader's peak stays below 400 MiB. (Not under AddressSanitizer,
  // whose allocator pads every block and keeps freed memory in quarantine.)
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(grew, 400.0) << "peak resident memory grew by " << grew << " MiB";
#endif
  std::printf("1e6 COCO annotations: peak resident memory +%.0f MiB\n", grew);
  fs::remove_all(dir);
}

TEST(HostilePaths, XmlEntityTricksAndAHugeImageHeader) {
  const auto root = fresh_dir("rcnn_hostile_xml");
  for (auto d : {"JPEGImages", "Annotations", "ImageSets/Main"}) fs::create_directories(root / d);
  std::ofstream(root / "labels.txt") << "lol\n";
  write_png(root / "JPEGImages" / "a.png", 100, 80);
  // Billion laughs: pugixml does not expand DTD entities, so the name stays
  // the literal "&lol9;" (an unknown class), in microseconds.
  std::string dtd = "<!DOCTYPE lolz [<!ENTITY lol \"lol\">";
  for (int k = 1; k <= 9; ++k) {
    dtd += "<!ENTITY lol" + std::to_string(k) + " \"";
    for (int r = 0; r < 10; ++r) dtd += k == 1 ? "&lol;" : "&lol" + std::to_string(k - 1) + ";";
    dtd += "\">";
  }
  dtd += "]>";
  std::ofstream(root / "Annotations" / "a.xml")
      << "<?xml version=\"1.0\"?>" << dtd
      << "<annotation><size><width>100</width><height>80</height></size><object><name>&lol9;</name><bndbox>"
         "<xmin>1</xmin><ymin>1</ymin><xmax>50</xmax><ymax>40</ymax></bndbox></object>"
         "<object><name>lol</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>99999999999999999999</xmax>"
         "<ymax>40</ymax></bndbox></object></annotation>";
  // An image whose PNG header declares 60000 x 60000 px (10.8 GB decoded).
  {
    std::ofstream f(root / "JPEGImages" / "huge.png", std::ios::binary);
    const unsigned char hdr[] = {0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a, '\n', 0,    0, 0, 13, 'I', 'H', 'D',
                                 'R',  0,   0,   0xea, 0x60, 0,    0,    0xea, 0x60, 8, 2, 0,  0,   0};
    f.write(reinterpret_cast<const char*>(hdr), sizeof hdr);
  }
  std::ofstream(root / "Annotations" / "huge.xml") << "<annotation><size><width>60000</width><height>60000</height>"
                                                      "</size></annotation>";
  std::ofstream(root / "ImageSets" / "Main" / "train.txt") << "a\nhuge\n";
  const Dataset ds = open_dataset(root.string());
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_TRUE(ds.images[0].objects.empty());
  EXPECT_EQ(ds.skipped_images, 1);
  EXPECT_EQ(ds.skipped_objects, 2);
  const std::string all = all_issues(ds);
  EXPECT_NE(all.find("'&lol9;'"), std::string::npos) << all;
  EXPECT_NE(all.find("\"99999999999999999999\" is outside"), std::string::npos) << all;
  EXPECT_NE(all.find("huge.png"), std::string::npos) << all;
  EXPECT_NE(all.find("60000x60000"), std::string::npos) << all;
  try {
    load_image_rgb((root / "JPEGImages" / "huge.png").string());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("60000x60000"), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}
