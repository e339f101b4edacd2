// The maps' arithmetic and their outputs (api/explain.h): Grad-CAM's
// weighting, D-RISE's similarity, the JSON and the blended PNG.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "api/explain.h"
#include "data/image_io.h"

namespace rcnn::api {

std::vector<float> gradcam_map(const std::vector<float>& A, const std::vector<float>& G, int C, int H, int W,
                               bool elementwise) {
  const size_t hw = size_t(H) * size_t(W);
  if (A.size() != size_t(C) * hw || G.size() != A.size())
    throw std::invalid_argument("gradcam_map: activations and gradients must both be C x H x W");
  std::vector<double> cam(hw, 0.0);
  for (int c = 0; c < C; ++c) {
    const float* a = A.data() + size_t(c) * hw;
    const float* g = G.data() + size_t(c) * hw;
    if (elementwise) {
      for (size_t i = 0; i < hw; ++i) cam[i] += double(g[i]) * a[i];
      continue;
    }
    double w = 0;
    for (size_t i = 0; i < hw; ++i) w += g[i];
    w /= double(hw);
    for (size_t i = 0; i < hw; ++i) cam[i] += w * a[i];
  }
  std::vector<float> out(hw);
  for (size_t i = 0; i < hw; ++i) out[i] = float(std::max(cam[i], 0.0));
  return out;
}

std::vector<float> inputgrad_map(const std::vector<float>& X, const std::vector<float>& G, int C, int H, int W) {
  const size_t hw = size_t(H) * size_t(W);
  if (X.size() != size_t(C) * hw || G.size() != X.size())
    throw std::invalid_argument("inputgrad_map: the input and its gradient must both be C x H x W");
  std::vector<double> sum(hw, 0.0);
  for (int c = 0; c < C; ++c)
    for (size_t i = 0; i < hw; ++i) sum[i] += double(X[size_t(c) * hw + i]) * G[size_t(c) * hw + i];
  std::vector<float> out(hw);
  for (size_t i = 0; i < hw; ++i) out[i] = float(std::abs(sum[i]));
  return out;
}

double drise_similarity(const Box& tb, const std::vector<float>& tp, const Box& b, const std::vector<float>& p) {
  if (tp.size() != p.size()) throw std::invalid_argument("drise_similarity: probability vectors differ in length");
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < p.size(); ++i)
    dot += double(tp[i]) * p[i], na += double(tp[i]) * tp[i], nb += double(p[i]) * p[i];
  const double cos = na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
  return double(box_iou(tb, b)) * cos;
}

double deletion_auc(const std::vector<double>& c) {
  if (c.size() < 2) return c.empty() ? 0.0 : c[0];
  double a = 0;
  for (size_t i = 1; i < c.size(); ++i) a += 0.5 * (c[i - 1] + c[i]);
  return a / double(c.size() - 1);
}

std::string explain_to_json(const ExplainResult& r) {
  nlohmann::json j;
  j["target"] = {{"kind", r.target_kind},
                 {"index", r.index},
                 {"class", r.class_name},
                 {"score", r.score},
                 {"explained", r.score_space},
                 {"value", r.value},
                 {"box", {r.box.x1, r.box.y1, r.box.x2, r.box.y2}}};
  j["roi"] = {r.roi.x1, r.roi.y1, r.roi.x2, r.roi.y2};
  if (!r.delta.empty()) j["target"]["delta"] = r.delta;
  j["method"] = r.method;
  if (r.level >= 0) j["level"] = r.level, j["level_name"] = r.level_name;
  j["width"] = r.width;
  j["height"] = r.height;
  nlohmann::json rows = nlohmann::json::array();
  for (int y = 0; y < r.height; ++y)
    rows.push_back(
        std::vector<float>(r.map.begin() + ptrdiff_t(y) * r.width, r.map.begin() + ptrdiff_t(y + 1) * r.width));
  j["map"] = std::move(rows);
  return j.dump();
}

void save_explain_png(const std::string& image_path, const ExplainResult& r, const std::string& png_path) {
  cv::Mat rgb = data::load_image_rgb(image_path);
  if (rgb.cols != r.width || rgb.rows != r.height)
    throw std::invalid_argument(image_path + ": the map is " + std::to_string(r.width) + "x" +
                                std::to_string(r.height));
  const float mx = r.map.empty() ? 0.f : *std::max_element(r.map.begin(), r.map.end());
  cv::Mat m8(r.height, r.width, CV_8UC1);
  for (int y = 0; y < r.height; ++y)
    for (int x = 0; x < r.width; ++x)
      m8.at<uint8_t>(y, x) =
          uint8_t(mx > 0 ? std::lround(255.f * r.map[size_t(y) * size_t(r.width) + size_t(x)] / mx) : 0);
  cv::Mat heat, bgr, out;
  cv::applyColorMap(m8, heat, cv::COLORMAP_JET);
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  cv::addWeighted(bgr, 0.5, heat, 0.5, 0, out);
  cv::rectangle(out, cv::Point(int(r.box.x1), int(r.box.y1)), cv::Point(int(r.box.x2), int(r.box.y2)),
                cv::Scalar(255, 255, 255), 2);
  if (!cv::imwrite(png_path, out)) throw std::runtime_error(png_path + ": cannot write");
}

}  // namespace rcnn::api
