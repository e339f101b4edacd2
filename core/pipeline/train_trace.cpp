#include "pipeline/train_trace.h"

#include "pipeline/tv_trace.h"
#include "modeling/matcher.h"

namespace rcnn::api {
namespace {

std::vector<int64_t> to_long(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

AnchorLabel label_of(int64_t v) {
  return v == modeling::kForeground ? AnchorLabel::Positive
                                    : (v == modeling::kBackground ? AnchorLabel::Negative : AnchorLabel::Neutral);
}

// Deltas of fg sample i from (F, 4) rows.
void copy4(float* dst, const std::vector<float>& rows, size_t i) {
  for (size_t c = 0; c < 4; ++c) dst[c] = rows[i * 4 + c];
}

}  // namespace

void fill_train_view(PipelineTrace& t, const modeling::TrainStep& step, TrainView settings, uint64_t seed) {
  TrainView v = std::move(settings);
  v.valid = true;
  v.seed = seed;
  v.rpn_obj = step.losses.at("rpn_obj").item<double>();
  v.rpn_box = step.losses.at("rpn_box").item<double>();
  v.roi_cls = step.losses.at("roi_cls").item<double>();
  v.roi_box = step.losses.at("roi_box").item<double>();

  // RPN: the sampled anchors (one image, so rows are anchor indices).
  const auto& R = step.rpn;
  v.rpn_fg = int(R.num_fg);
  v.rpn_count = int(R.count);
  auto fg = to_long(R.fg), bg = to_long(R.bg), fg_gt = to_long(R.fg_gt);
  auto obj = to_vec(R.obj_terms), bt = to_vec(R.box_targets), bp = to_vec(R.box_pred), bterm = to_vec(R.box_terms);
  for (size_t i = 0; i < fg.size() + bg.size(); ++i) {
    LossTerm s;
    s.fg = i < fg.size();
    s.index = int(s.fg ? fg[i] : bg[i - fg.size()]);
    s.target_class = s.fg ? 1 : 0;
    s.prob = size_t(s.index) < t.objectness.size() ? t.objectness[size_t(s.index)] : 0.f;
    s.cls = obj[i];
    if (s.fg) {
      s.box = bterm[i];
      copy4(s.target, bt, i);
      copy4(s.pred, bp, i);
      s.gt = int(fg_gt[i]);
    }
    v.rpn.push_back(s);
  }

  // Second stage: every candidate RoI, then the sampled ones.
  const auto& Q = step.roi;
  auto boxes = to_vec(Q.boxes);
  auto from_gt = to_long(Q.from_gt), lv = to_long(Q.levels), lab = to_long(Q.labels), gi = to_long(Q.gt_index);
  auto iou = to_vec(Q.max_iou);
  auto cls = to_long(Q.class_target);
  for (size_t q = 0; q < lab.size(); ++q) {
    TrainRoi r;
    r.box = {boxes[q * 4], boxes[q * 4 + 1], boxes[q * 4 + 2], boxes[q * 4 + 3]};
    r.from_gt = from_gt[q] != 0;
    r.level = int(lv[q]);
    r.label = label_of(lab[q]);
    r.gt = int(gi[q]);
    r.iou = iou[q];
    r.class_target = int(cls[q]);
    v.num_proposals += r.from_gt ? 0 : 1;
    v.rois.push_back(r);
  }
  auto rfg = to_long(Q.fg), rbg = to_long(Q.bg);
  auto probs = to_vec(Q.probs), ce = to_vec(Q.cls_terms);
  auto rt = to_vec(Q.box_targets), rp = to_vec(Q.box_pred), rterm = to_vec(Q.box_terms);
  const size_t C1 = Q.probs.size(1);
  const bool has_box = Q.box_terms.numel() > 0;
  v.roi_fg = int(rfg.size());
  v.roi_count = int(Q.count);
  for (size_t i = 0; i < rfg.size() + rbg.size(); ++i) {
    LossTerm s;
    s.fg = i < rfg.size();
    s.index = int(s.fg ? rfg[i] : rbg[i - rfg.size()]);
    auto& roi = v.rois[size_t(s.index)];
    roi.sample = int(i);
    s.target_class = roi.class_target;
    s.prob = probs[i * C1 + size_t(s.target_class)];
    s.cls = ce[i];
    if (s.fg) {
      s.gt = roi.gt;
      if (has_box) {
        s.box = rterm[i];
        copy4(s.target, rt, i);
        copy4(s.pred, rp, i);
      }
    }
    v.roi.push_back(s);
  }
  t.train = std::move(v);
}

}  // namespace rcnn::api
