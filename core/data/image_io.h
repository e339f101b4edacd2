#pragma once
// Image decoding with clear errors (OpenCV underneath).
#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <utility>

namespace rcnn::data {

// Largest image accepted: 50 Mpx (a 20000x20000 image would need 1.2 GB).
constexpr int64_t kMaxImagePixels = 50'000'000;

// Width and height from the file header without decoding (PNG, JPEG, BMP);
// {0, 0} when the format is not recognised. Throws DataError for a missing
// or 0-byte file.
std::pair<int, int> peek_image_size(const std::string& path);

// Decodes to 8-bit RGB (3 channels). Throws DataError naming the file for a
// missing, empty, corrupt or too large image.
cv::Mat load_image_rgb(const std::string& path);

// Writes an RGB image (PNG/JPEG by extension). Throws DataError on failure.
void save_image_rgb(const cv::Mat& rgb, const std::string& path);

}  // namespace rcnn::data
