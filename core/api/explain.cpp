// Session::explain and the maps (api/explain.h).
#include "api/explain.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "api/session.h"
#include "data/image_io.h"
#include "pipeline/session_impl.h"

namespace rcnn::api {

std::vector<float> gradcam_map(const std::vector<float>& A, const std::vector<float>& G, int C, int H, int W) {
  const size_t hw = size_t(H) * size_t(W);
  if (A.size() != size_t(C) * hw || G.size() != A.size())
    throw std::invalid_argument("gradcam_map: activations and gradients must both be C x H x W");
  std::vector<float> cam(hw, 0.f);
  for (int c = 0; c < C; ++c) {
    double w = 0;
    for (size_t i = 0; i < hw; ++i) w += G[size_t(c) * hw + i];
    w /= double(hw);
    for (size_t i = 0; i < hw; ++i) cam[i] += float(w * A[size_t(c) * hw + i]);
  }
  for (auto& v : cam) v = std::max(v, 0.f);
  return cam;
}

double drise_similarity(const Box& tb, const std::vector<float>& tp, const Box& b, const std::vector<float>& p) {
  if (tp.size() != p.size()) throw std::invalid_argument("drise_similarity: probability vectors differ in length");
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < p.size(); ++i)
    dot += double(tp[i]) * p[i], na += double(tp[i]) * tp[i], nb += double(p[i]) * p[i];
  const double cos = na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
  return double(box_iou(tb, b)) * cos;
}

namespace {

// D-RISE's saliency in the input frame (h x w): sum_i w_i M_i / N (the masks drawn on the CPU from `seed`).
torch::Tensor drise_map(pipeline::Detector& det, const ExplainRequest& q, int h, int w, const Box& tbox,
                        const std::vector<float>& tprobs) {
  if (q.masks < 1 || q.grid < 1 || q.batch < 1 || !(q.prob > 0 && q.prob <= 1))
    throw std::invalid_argument("drise: need masks, grid and batch >= 1 and 0 < prob <= 1");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(q.seed);
  const int ch = (h + q.grid - 1) / q.grid, cw = (w + q.grid - 1) / q.grid;
  torch::Tensor sum = torch::zeros({h, w});
  for (int done = 0; done < q.masks;) {
    const int n = std::min(q.batch, q.masks - done);
    const auto cells = (torch::rand({n, 1, q.grid, q.grid}, gen) < q.prob).to(torch::kFloat);
    const auto up = torch::nn::functional::interpolate(
        cells, torch::nn::functional::InterpolateFuncOptions()
                   .size(std::vector<int64_t>{int64_t(q.grid + 1) * ch, int64_t(q.grid + 1) * cw})
                   .mode(torch::kBilinear)
                   .align_corners(false));
    std::vector<torch::Tensor> crops;
    for (int i = 0; i < n; ++i) {
      const int64_t dy = torch::randint(ch, {1}, gen).item<int64_t>(),
                    dx = torch::randint(cw, {1}, gen).item<int64_t>();
      crops.push_back(up[i].narrow(1, dy, h).narrow(2, dx, w));
    }
    auto masks = torch::stack(crops);  // (n, 1, h, w)
    const auto dets = det.detect_masked(masks, q.fill == "mean");
    for (int i = 0; i < n; ++i) {
      double best = 0;
      for (const auto& d : dets[size_t(i)]) best = std::max(best, drise_similarity(tbox, tprobs, d.box, d.probs));
      if (best > 0) sum += masks[i][0] * best;
    }
    done += n;
    if (q.progress && !q.progress(done, q.masks)) throw std::runtime_error("explain: cancelled");
  }
  return sum / double(q.masks);
}

std::vector<float> to_vec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

// A map on a grid whose cell v sits at input pixel (v + offset) * step, read at every original pixel's centre.
std::vector<float> to_original(const std::vector<float>& m, int H, int W, float step, float offset,
                               const PipelineTrace& t) {
  std::vector<float> out(size_t(t.image_width) * size_t(t.image_height));
  auto at = [&](int y, int x) {
    return m[size_t(std::clamp(y, 0, H - 1)) * size_t(W) + size_t(std::clamp(x, 0, W - 1))];
  };
  for (int Y = 0; Y < t.image_height; ++Y) {
    const float v = ((float(Y) + 0.5f) * t.scale_y + t.pad_y) / step - offset;
    const int y0 = int(std::floor(v));
    const float fy = v - float(y0);
    for (int X = 0; X < t.image_width; ++X) {
      const float u = ((float(X) + 0.5f) * t.scale_x + t.pad_x) / step - offset;
      const int x0 = int(std::floor(u));
      const float fx = u - float(x0);
      out[size_t(Y) * size_t(t.image_width) + size_t(X)] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
                                                           fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
    }
  }
  return out;
}

Box to_original_box(const Box& b, const PipelineTrace& t) {
  return {(b.x1 - t.pad_x) / t.scale_x, (b.y1 - t.pad_y) / t.scale_y, (b.x2 - t.pad_x) / t.scale_x,
          (b.y2 - t.pad_y) / t.scale_y};
}

}  // namespace

ExplainResult Session::explain(const ExplainRequest& req) {
  const PipelineTrace& t = run();
  auto& D = *d_;
  ExplainResult r;
  r.target_kind = req.target;
  r.index = req.index;
  r.method = req.method;
  r.width = t.image_width;
  r.height = t.image_height;
  int roi = -1;
  if (req.target == "det") {
    if (req.index < 0 || size_t(req.index) >= t.detections.size())
      throw std::invalid_argument("det:" + std::to_string(req.index) + ": the image has " +
                                  std::to_string(t.detections.size()) + " detections");
    const auto& d = t.detections[size_t(req.index)];
    roi = d.proposal;
    r.label = d.label;
    r.box = d.box_original;
  } else if (req.target == "gt") {
    if (req.index < 0 || size_t(req.index) >= t.gt.size())
      throw std::invalid_argument("gt:" + std::to_string(req.index) + ": the image has " + std::to_string(t.gt.size()) +
                                  " GTs");
    const auto& g = t.gt[size_t(req.index)];
    float best = -1;
    for (size_t k = 0; k < t.kept.size(); ++k) {
      const float iou = box_iou(t.proposals[size_t(t.kept[k])].box, g.box);
      if (iou > best) best = iou, roi = int(k);
    }
    r.label = g.label;
    r.box = g.box_original;
  } else {
    throw std::invalid_argument("--target: '" + req.target + "' is not det:K or gt:K");
  }
  if (req.score != "logit" && req.score != "prob")
    throw std::invalid_argument("--score-space: '" + req.score + "' is not logit or prob");
  if (roi < 0 || size_t(roi) >= t.kept.size()) throw std::invalid_argument("the target has no RoI to explain");
  r.class_name = r.label >= 0 && size_t(r.label) < t.class_names.size() ? t.class_names[size_t(r.label)] : "";
  const Box roi_box = t.proposals[size_t(t.kept[size_t(roi)])].box;
  r.roi = to_original_box(roi_box, t);
  const int roi_level = size_t(roi) < t.roi_level.size() ? t.roi_level[size_t(roi)] : 0;
  if (req.method == "drise") {
    const int C1 = t.num_classes() + 1;
    std::vector<float> tp(size_t(C1), 0.f);
    Box tbox;
    if (req.target == "det") {
      const auto& d = t.detections[size_t(req.index)];
      tbox = d.box;
      tp.assign(t.class_probs.begin() + ptrdiff_t(roi) * C1, t.class_probs.begin() + ptrdiff_t(roi + 1) * C1);
    } else {
      tbox = t.gt[size_t(req.index)].box;
      tp[size_t(r.label + 1)] = 1.f;
    }
    r.score = t.class_probs[size_t(roi) * size_t(C1) + size_t(r.label) + 1];
    r.score_space = "drise";
    const auto m = drise_map(*D.det, req, t.input_height, t.input_width, tbox, tp);
    r.map = to_original(to_vec(m), int(m.size(0)), int(m.size(1)), 1.f, 0.5f, t);
    return r;
  }
  const auto g = D.det->roi_gradients(roi_box, roi_level, r.label + 1, req.score == "logit");
  r.score = g.probability;
  r.value = g.value;
  r.score_space = req.score;
  if (req.method == "gradcam") {
    r.level = req.level >= 0 ? req.level : roi_level;
    if (r.level >= int(g.feats.size()))
      throw std::invalid_argument("--level: the model has " + std::to_string(g.feats.size()) + " levels");
    const auto& A = g.feats[size_t(r.level)];
    const int C = int(A.size(1)), H = int(A.size(2)), W = int(A.size(3));
    const auto cam = gradcam_map(to_vec(A[0]), to_vec(g.grads[size_t(r.level)][0]), C, H, W);
    r.map = to_original(cam, H, W, g.steps[size_t(r.level)], g.offset, t);
  } else if (req.method == "inputgrad") {
    const auto m = (g.input * g.input_grad).sum(1)[0].abs();
    r.map = to_original(to_vec(m), int(m.size(0)), int(m.size(1)), 1.f, 0.5f, t);
  } else {
    throw std::invalid_argument("--method: '" + req.method + "' is not gradcam, inputgrad or drise");
  }
  return r;
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
  j["method"] = r.method;
  if (r.level >= 0) j["level"] = r.level;
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
