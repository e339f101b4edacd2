#include "data/image_io.h"

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "data/dataset.h"

namespace rcnn::data {

std::pair<int, int> peek_image_size(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw DataError(path + ": image file not found");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) throw DataError(path + ": image file is empty (0 bytes)");
  std::ifstream f(path, std::ios::binary);
  std::vector<unsigned char> h(std::min<uintmax_t>(size, 65536));
  f.read(reinterpret_cast<char*>(h.data()), static_cast<std::streamsize>(h.size()));
  h.resize(static_cast<size_t>(f.gcount()));
  auto be16 = [&](size_t i) { return (h[i] << 8) | h[i + 1]; };
  auto be32 = [&](size_t i) { return int((uint32_t(h[i]) << 24) | (h[i + 1] << 16) | (h[i + 2] << 8) | h[i + 3]); };
  if (h.size() >= 24 && h[0] == 0x89 && h[1] == 'P' && h[2] == 'N' && h[3] == 'G' && h[12] == 'I' && h[13] == 'H' &&
      h[14] == 'D' && h[15] == 'R')
    return {be32(16), be32(20)};
  if (h.size() >= 26 && h[0] == 'B' && h[1] == 'M') {
    auto le32 = [&](size_t i) { return int(h[i] | (h[i + 1] << 8) | (h[i + 2] << 16) | (uint32_t(h[i + 3]) << 24)); };
    return {std::abs(le32(18)), std::abs(le32(22))};
  }
  if (h.size() >= 4 && h[0] == 0xFF && h[1] == 0xD8) {
    size_t i = 2;
    while (i + 9 < h.size()) {
      if (h[i] != 0xFF) {
        ++i;
        continue;
      }
      const int marker = h[i + 1];
      if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
        i += 2;
        continue;
      }
      const int len = be16(i + 2);
      // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC) carry the frame size.
      if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
        return {be16(i + 7), be16(i + 5)};
      i += 2 + static_cast<size_t>(len);
    }
  }
  return {0, 0};
}

cv::Mat load_image_rgb(const std::string& path) {
  auto [w, h] = peek_image_size(path);
  if (int64_t(w) * int64_t(h) > kMaxImagePixels)
    throw DataError(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) + ", larger than the " +
                    std::to_string(kMaxImagePixels / 1000000) + " Mpx limit");
  cv::Mat bgr;
  try {
    bgr = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw DataError(path + ": cannot decode image: " + e.what());
  }
  if (bgr.empty()) throw DataError(path + ": cannot decode image (corrupt or unsupported format)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

void save_image_rgb(const cv::Mat& rgb, const std::string& path) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, bgr);
  } catch (const cv::Exception& e) {
    throw DataError(path + ": cannot write image: " + e.what());
  }
  if (!ok) throw DataError(path + ": cannot write image");
}

}  // namespace rcnn::data
