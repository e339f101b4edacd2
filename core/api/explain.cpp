// Session::explain and the deletion curve (api/explain.h): the target on the
// trace, the detector's gradients or masked detections, the map in the
// original image's pixels.
#include "api/explain.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "api/session.h"
#include "pipeline/session_impl.h"

namespace rcnn::api {

namespace {

using Kind = pipeline::GradientTarget::Kind;

// D-RISE's saliency in the input frame (h x w): sum_i (w_i - mean w) M_i / N, or the paper's sum_i w_i M_i / N
// (baseline "none"); the masks drawn on the CPU from `seed`.
torch::Tensor drise_map(pipeline::Detector& det, const ExplainRequest& q, int h, int w, const Box& tbox,
                        const std::vector<float>& tprobs) {
  if (q.masks < 1 || q.grid < 1 || q.batch < 1 || !(q.prob > 0 && q.prob <= 1))
    throw std::invalid_argument("drise: need masks, grid and batch >= 1 and 0 < prob <= 1");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(q.seed);
  const int ch = (h + q.grid - 1) / q.grid, cw = (w + q.grid - 1) / q.grid;
  if (q.baseline != "mean" && q.baseline != "none")
    throw std::invalid_argument("drise: baseline '" + q.baseline + "' is not mean or none");
  torch::Tensor sum = torch::zeros({h, w}), mask_sum = torch::zeros({h, w});
  double weight_sum = 0;
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
      mask_sum += masks[i][0];
      weight_sum += best;
    }
    done += n;
    if (q.progress && !q.progress(done, q.masks)) throw std::runtime_error("explain: cancelled");
  }
  if (q.baseline == "mean") sum -= mask_sum * (weight_sum / double(q.masks));
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

std::string level_name(char prefix, float step) {
  return prefix + std::to_string(int(std::lround(std::log2(double(step)))));
}

// The target on the trace: what gradients() differentiates, and for D-RISE the box and class vector a masked
// image's detections are compared with (input coordinates).
struct Resolved {
  pipeline::GradientTarget g;
  Box input_box;
  std::vector<float> probs;  // det: its RoI's softmax; gt: one-hot of its class
  int level = 0;             // the RoI's pooling level, or the anchor's level
};

Resolved resolve(const ExplainRequest& req, const PipelineTrace& t, ExplainResult& r) {
  auto out_of = [&](size_t n, const char* what) {
    if (req.index < 0 || size_t(req.index) >= n)
      throw std::invalid_argument(req.target + ":" + std::to_string(req.index) + ": the image has " +
                                  std::to_string(n) + " " + what);
  };
  Resolved s;
  const int C1 = t.num_classes() + 1;
  if (req.target == "det" || req.target == "gt" || req.target == "roi") {
    int roi = -1;
    if (req.target == "roi") {
      out_of(t.kept.size(), "kept RoIs");
      roi = req.index;
      // Its most probable class (not the background): what the head would call it.
      const float* p = t.class_probs.data() + size_t(roi) * size_t(C1);
      r.label = int(std::max_element(p + 1, p + C1) - (p + 1));
      s.input_box = t.proposals[size_t(t.kept[size_t(roi)])].box;
      r.box = to_original_box(s.input_box, t);
    } else if (req.target == "det") {
      out_of(t.detections.size(), "detections");
      const auto& d = t.detections[size_t(req.index)];
      roi = d.proposal;
      r.label = d.label;
      r.box = d.box_original;
      s.input_box = d.box;
    } else {
      out_of(t.gt.size(), "GTs");
      const auto& g = t.gt[size_t(req.index)];
      float best = -1;
      for (size_t k = 0; k < t.kept.size(); ++k) {
        const float iou = box_iou(t.proposals[size_t(t.kept[k])].box, g.box);
        if (iou > best) best = iou, roi = int(k);
      }
      r.label = g.label;
      r.box = g.box_original;
      s.input_box = g.box;
    }
    if (roi < 0 || size_t(roi) >= t.kept.size()) throw std::invalid_argument("the target has no RoI to explain");
    if (r.label < 0) throw std::invalid_argument("the target's class is not one the model has");
    r.class_name = size_t(r.label) < t.class_names.size() ? t.class_names[size_t(r.label)] : "";
    s.g.box = t.proposals[size_t(t.kept[size_t(roi)])].box;
    s.g.column = r.label + 1;
    r.roi = to_original_box(s.g.box, t);
    s.level = s.g.level = size_t(roi) < t.roi_level.size() ? t.roi_level[size_t(roi)] : 0;
    r.score = t.class_probs[size_t(roi) * size_t(C1) + size_t(r.label) + 1];
    if (req.target != "gt")
      s.probs.assign(t.class_probs.begin() + ptrdiff_t(roi) * C1, t.class_probs.begin() + ptrdiff_t(roi + 1) * C1);
    else
      s.probs.assign(size_t(C1), 0.f), s.probs[size_t(r.label + 1)] = 1.f;
    if (!req.delta.empty()) {
      static const char* names[] = {"dx", "dy", "dw", "dh"};
      const auto* it = std::find(std::begin(names), std::end(names), req.delta);
      if (it == std::end(names)) throw std::invalid_argument("--delta: '" + req.delta + "' is not dx, dy, dw or dh");
      s.g.kind = Kind::RoiDelta;
      s.g.delta = int(it - std::begin(names));
      r.delta = req.delta;
    }
  } else if (req.target == "proposal" || req.target == "anchor") {
    if (!req.delta.empty()) throw std::invalid_argument("--delta: only a det or gt target has box deltas");
    int anchor = req.index;
    if (req.target == "proposal") {
      out_of(t.proposals.size(), "proposals");
      const auto& p = t.proposals[size_t(req.index)];
      anchor = p.anchor;
      r.box = to_original_box(p.box, t);
      s.input_box = p.box;
    } else {
      out_of(t.anchors.size(), "anchors");
    }
    if (anchor < 0 || size_t(anchor) >= t.anchors.size())
      throw std::invalid_argument(req.target + ":" + std::to_string(req.index) + " has no anchor");
    const Box& a = t.anchors[size_t(anchor)];
    if (req.target == "anchor") r.box = to_original_box(a, t), s.input_box = a;
    r.roi = to_original_box(a, t);
    r.class_name = "object";
    s.g.kind = Kind::Objectness;
    s.g.anchor = anchor;
    for (size_t l = 0; l < t.levels.size(); ++l)
      if (anchor >= t.levels[l].offset) s.level = int(l);
  } else {
    throw std::invalid_argument("--target: '" + req.target + "' is not det:K, gt:K, roi:K, proposal:K or anchor:K");
  }
  return s;
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
  if (req.score != "logit" && req.score != "prob")
    throw std::invalid_argument("--explained: '" + req.score + "' is not logit or prob");
  auto s = resolve(req, t, r);
  if (req.method == "drise") {
    if (s.g.kind != Kind::RoiClass)
      throw std::invalid_argument("drise explains a detection or a GT's class (black box: no deltas, no objectness)");
    r.score_space = "drise";
    const auto m = drise_map(*D.det, req, t.input_height, t.input_width, s.input_box, s.probs);
    r.map = to_original(to_vec(m), int(m.size(0)), int(m.size(1)), 1.f, 0.5f, t);
    return r;
  }
  if (req.method != "gradcam" && req.method != "hirescam" && req.method != "inputgrad")
    throw std::invalid_argument("--method: '" + req.method + "' is not gradcam, hirescam, inputgrad or drise");
  s.g.logit = req.score == "logit";
  s.g.from = req.method == "inputgrad" ? pipeline::GradientTarget::From::Input
             : req.backbone            ? pipeline::GradientTarget::From::Backbone
                                       : pipeline::GradientTarget::From::Fpn;
  const auto g = D.det->gradients(s.g);
  if (s.g.kind == Kind::Objectness) r.score = g.probability;
  r.value = g.value;
  r.score_space = s.g.kind == Kind::RoiDelta ? "delta" : req.score;
  if (req.method == "inputgrad") {
    const int C = int(g.input.size(1)), H = int(g.input.size(2)), W = int(g.input.size(3));
    r.map = to_original(inputgrad_map(to_vec(g.input[0]), to_vec(g.input_grad[0]), C, H, W), H, W, 1.f, 0.5f, t);
    return r;
  }
  r.level = req.level >= 0 ? req.level : s.level;
  if (r.level >= int(g.feats.size()))
    throw std::invalid_argument("--level: the model has " + std::to_string(g.feats.size()) + " FPN levels");
  const float step = g.steps[size_t(r.level)];
  const torch::Tensor *A = &g.feats[size_t(r.level)], *G = &g.grads[size_t(r.level)];
  r.level_name = level_name('p', step);
  if (req.backbone) {
    const auto it = std::find(g.body_steps.begin(), g.body_steps.end(), step);
    if (it == g.body_steps.end())
      throw std::invalid_argument("--level " + r.level_name + ": no backbone output has its stride (" +
                                  std::to_string(int(step)) + "); the FPN makes it");
    const size_t b = size_t(it - g.body_steps.begin());
    A = &g.body[b], G = &g.body_grads[b];
    r.level_name = level_name('c', step);
  }
  const int C = int(A->size(1)), H = int(A->size(2)), W = int(A->size(3));
  const auto cam = gradcam_map(to_vec((*A)[0]), to_vec((*G)[0]), C, H, W, req.method == "hirescam");
  r.map = to_original(cam, H, W, step, g.offset, t);
  return r;
}

std::vector<double> Session::deletion_curve(const ExplainRequest& req, const std::vector<float>& map, int steps,
                                            uint64_t seed) {
  const PipelineTrace& t = run();
  ExplainResult r;
  const auto s = resolve(req, t, r);
  if (s.g.kind != Kind::RoiClass) throw std::invalid_argument("deletion: a det or gt target's class score only");
  const int W = t.image_width, H = t.image_height, w = t.input_width, h = t.input_height;
  if (map.size() != size_t(W) * size_t(H) || steps < 1)
    throw std::invalid_argument("deletion: the map must have the image's " + std::to_string(W) + "x" +
                                std::to_string(H) + " pixels, steps >= 1");
  // Most salient first; equal values in a random order (a map of zeros removes nothing in particular).
  std::vector<uint32_t> order(map.size());
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return map[a] > map[b]; });
  // Each input pixel reads the original pixel under its centre (the padding is never removed).
  std::vector<int64_t> src(size_t(w) * size_t(h), -1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int X = int(std::floor((float(x) + 0.5f - t.pad_x) / t.scale_x));
      const int Y = int(std::floor((float(y) + 0.5f - t.pad_y) / t.scale_y));
      if (X >= 0 && X < W && Y >= 0 && Y < H) src[size_t(y) * size_t(w) + size_t(x)] = int64_t(Y) * W + X;
    }
  std::vector<float> rank(map.size());
  for (size_t k = 0; k < order.size(); ++k) rank[order[k]] = float(k);
  std::vector<float> rank_in(src.size(), -1.f);
  for (size_t i = 0; i < src.size(); ++i) rank_in[i] = src[i] < 0 ? -1.f : rank[size_t(src[i])];
  const auto R = torch::from_blob(rank_in.data(), {1, 1, h, w}, torch::kFloat).clone();
  std::vector<double> curve;
  for (int from = 0; from <= steps;) {
    const int n = std::min(8, steps + 1 - from);
    std::vector<torch::Tensor> masks;
    for (int k = from; k < from + n; ++k) {
      const double removed = double(k) / steps * double(map.size());  // pixels removed after part k
      masks.push_back(((R < 0) | (R >= float(removed))).to(torch::kFloat));
    }
    const auto dets = d_->det->detect_masked(torch::cat(masks), /*mean_fill=*/true);
    for (const auto& list : dets) {
      double best = 0;
      for (const auto& d : list) best = std::max(best, drise_similarity(s.input_box, s.probs, d.box, d.probs));
      curve.push_back(best);
    }
    from += n;
  }
  return curve;
}

}  // namespace rcnn::api
