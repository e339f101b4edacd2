// A plain folder of images, no annotations: for inspection and detection.
#include <algorithm>
#include <filesystem>

#include "data/dataset.h"

namespace fs = std::filesystem;

namespace rcnn::data {

Dataset read_image_folder(const std::string& dir, const LoadOptions& opt) {
  Dataset ds;
  ds.format = Format::Folder;
  ds.root = dir;
  ds.split = opt.split;
  ds.class_names = opt.class_names;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    ImageRecord r;
    r.path = f.string();
    r.id = f.stem().string();
    ds.images.push_back(std::move(r));
  }
  return ds;
}

}  // namespace rcnn::data
