#include "api/dataset.h"

#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "api/dataset_convert.h"
#include "data/corrupt.h"
#include "data/dataset.h"
#include "data/fashion_synth.h"
#include "data/image_io.h"

namespace rcnn::api {

size_t DatasetInfo::num_objects() const {
  size_t n = 0;
  for (const auto& im : images) n += im.objects.size();
  return n;
}

std::vector<GtObject> to_gt_objects(const data::ImageRecord& r) {
  std::vector<GtObject> out;
  for (const auto& a : r.objects)
    out.push_back({{a.x1, a.y1, a.x2, a.y2}, a.label, a.difficult, a.crowd, a.source_index});
  return out;
}

DatasetInfo to_info(const data::Dataset& ds) {
  DatasetInfo d;
  d.format = ds.format == data::Format::VOC ? "voc" : ds.format == data::Format::COCO ? "coco" : "folder";
  d.root = ds.root;
  d.split = ds.split;
  d.class_names = ds.class_names;
  d.issues = ds.issues;
  d.problems = ds.problem_count();
  d.skipped_images = ds.skipped_images;
  d.skipped_objects = ds.skipped_objects;
  d.clipped_objects = ds.clipped_objects;
  d.images.reserve(ds.images.size());
  for (const auto& r : ds.images) d.images.push_back({r.path, r.id, r.width, r.height, to_gt_objects(r)});
  return d;
}

DatasetInfo open_dataset(const std::string& path, const OpenOptions& opt) {
  data::LoadOptions lo;
  lo.split = opt.split;
  lo.strict = opt.strict;
  lo.class_names = opt.class_names;
  return to_info(data::open_dataset(path, lo));
}

std::string default_dataset_dir() {
  return data::default_dataset_dir();
}

std::vector<std::string> list_images(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& r : data::read_image_folder(dir, {}).images) out.push_back(r.path);
  return out;
}

Image load_image(const std::string& path) {
  cv::Mat rgb = data::load_image_rgb(path);
  Image im;
  im.width = rgb.cols;
  im.height = rgb.rows;
  im.rgb.assign(rgb.data, rgb.data + rgb.total() * 3);
  return im;
}

namespace {
cv::Scalar class_color(int label) {
  const Rgb8 c = class_rgb(label);  // the image is RGB
  return {double(c.r), double(c.g), double(c.b)};
}
}  // namespace

void save_annotated_png(const std::string& image_path, const std::vector<Detection>& dets,
                        const std::vector<std::string>& names, const std::string& png) {
  cv::Mat img = data::load_image_rgb(image_path);
  for (const auto& d : dets) {
    const auto& b = d.box_original;
    const std::string cls = d.label < int(names.size()) ? names[size_t(d.label)] : std::to_string(d.label);
    cv::rectangle(img, cv::Point2f(b.x1, b.y1), cv::Point2f(b.x2, b.y2), class_color(d.label), 2);
    char lab[96];
    std::snprintf(lab, sizeof lab, "%s %.2f", cls.c_str(), d.score);
    cv::putText(img, lab, cv::Point2f(b.x1 + 2, std::max(10.f, b.y1 - 3)), cv::FONT_HERSHEY_SIMPLEX, 0.4,
                class_color(d.label), 1, cv::LINE_AA);
  }
  data::save_image_rgb(img, png);
}

CorruptionCounts make_fashion_dataset(const FashionRequest& req, const std::function<void(int, int)>& progress) {
  data::FashionOptions fo;
  fo.out = req.out;
  fo.train = req.train;
  fo.val = req.val;
  fo.test = req.test;
  fo.seed = req.seed;
  fo.source_dir = req.source_dir;
  data::CorruptOptions co;
  if (!req.corrupt.empty()) data::parse_corruption_rates(req.corrupt, co);  // before writing anything
  data::make_fashion_dataset(fo, progress);
  if (req.corrupt.empty()) return {};
  co.seed = req.seed;
  const auto s = data::corrupt_voc_annotations(req.out, co);
  return {s.images, s.corrupted_images, s.missing, s.swap, s.badloc, s.spurious, s.duplicate};
}

}  // namespace rcnn::api
