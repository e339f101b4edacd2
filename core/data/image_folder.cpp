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
  std::vector<std::string> problems;
  std::error_code ec;
  // Not recursive: a symbolic link to a directory (a loop back to "." too)
  // is passed over like any subdirectory.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (!(ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp")) continue;
    std::error_code fec;
    const fs::file_status st = fs::status(p, fec);  // follows links: a loop is ELOOP, a dangling link not_found
    if (st.type() == fs::file_type::regular) {
      files.push_back(p);
    } else if (st.type() == fs::file_type::not_found) {  // it was listed, so it is a dangling link
      problems.push_back(p.string() + ": cannot be read (a symbolic link to a file that does not exist)");
    } else if (fec) {
      problems.push_back(p.string() + ": cannot be read (" + fec.message() + ")");
    }
  }
  if (ec) throw DataError(dir + ": cannot list the folder (" + ec.message() + ")");
  std::sort(problems.begin(), problems.end());
  for (auto& m : problems) {
    if (opt.strict) throw DataError(m);
    ds.report(m + " (image skipped)");
    ds.skipped_images++;
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
