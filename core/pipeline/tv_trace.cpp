#include "pipeline/tv_trace.h"

#include <algorithm>

#include "modeling/torchvision/tv_box_ops.h"

namespace rcnn::api {
namespace mt = modeling::tv;

void fill_tv_proposals(PipelineTrace& T, const modeling::tv::ProposalCandidates& c, double nms_thresh) {
  T.rpn_scale_clamp = mt::default_bbox_clip();
  T.proposals.clear();
  T.kept.clear();
  auto boxes = c.boxes.to(torch::kCPU, torch::kFloat).contiguous();
  auto acc = boxes.accessor<float, 2>();
  auto sc = to_vec(c.scores);
  auto anchor = c.anchor.cpu().contiguous(), lvl = c.levels.cpu().contiguous();
  auto small = c.small.cpu().contiguous(), low = c.low.cpu().contiguous();
  const int64_t P = boxes.size(0);
  // Candidates are level-major in objectness order, as the trace wants them.
  for (int64_t i = 0; i < P; ++i) {
    Proposal p;
    p.box = box_of(acc, i);
    p.objectness = sc[size_t(i)];
    p.level = int(lvl[i].item<int64_t>());
    p.anchor = int(anchor[i].item<int64_t>());
    p.state = small[i].item<bool>() ? ProposalState::TooSmall
              : low[i].item<bool>() ? ProposalState::BelowScore
                                    : ProposalState::Suppressed;
    T.proposals.push_back(p);
  }
  // NMS survivors: the first post_top_n are the proposals (the RoI head's
  // input, in this order), the rest were cut by the per-image top-n.
  auto keep = c.nms_keep.cpu().contiguous();
  std::vector<uint8_t> survivor(size_t(P), 0);
  for (int64_t k = 0; k < keep.numel(); ++k) {
    const int i = int(keep[k].item<int64_t>());
    survivor[size_t(i)] = 1;
    auto& p = T.proposals[size_t(i)];
    if (k < c.post_top_n) {
      p.state = ProposalState::Kept;
      p.kept_index = int(T.kept.size());
      T.kept.push_back(i);
    } else {
      p.state = ProposalState::CutByPostTopk;
    }
  }
  // A suppressed candidate's suppressor: greedy NMS removes a box for the
  // first survivor of its level, in score order, whose IoU with it exceeds the
  // threshold.
  std::vector<int> order;
  for (int64_t i = 0; i < P; ++i)
    if (survivor[size_t(i)]) order.push_back(int(i));
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return T.proposals[size_t(a)].objectness > T.proposals[size_t(b)].objectness; });
  for (int64_t i = 0; i < P; ++i) {
    auto& p = T.proposals[size_t(i)];
    if (p.state != ProposalState::Suppressed) continue;
    for (int s : order) {
      const auto& q = T.proposals[size_t(s)];
      if (q.level != p.level || q.objectness < p.objectness) continue;
      if (box_iou(q.box, p.box) > float(nms_thresh)) {
        p.suppressed_by = s;
        break;
      }
    }
  }
}

void fill_tv_predictions(PipelineTrace& T, const modeling::tv::TvInference& r_, const TorchvisionOptions& o) {
  const auto& di = r_.detections_input[0];
  const auto& dor = r_.detections[0];
  auto bi = di.boxes.to(torch::kCPU, torch::kFloat).contiguous();
  auto bo = dor.boxes.to(torch::kCPU, torch::kFloat).contiguous();
  auto ai = bi.accessor<float, 2>();
  auto ao = bo.accessor<float, 2>();
  T.detections.clear();
  for (int64_t i = 0; i < bi.size(0); ++i) {
    Detection d;
    d.box = box_of(ai, i);
    d.box_original = box_of(ao, i);
    d.score = di.scores[i].item<float>();
    d.label = int(di.labels[i].item<int64_t>()) - 1;
    d.proposal = int(di.proposal[i].item<int64_t>());
    T.detections.push_back(d);
  }
  T.score_thresh = o.box_score_thresh;
  T.nms_thresh = o.box_nms_thresh;
  T.detections_per_image = o.box_detections_per_img;
  T.box_regression = true;
  const auto boxes = r_.proposals[0].boxes;
  const int64_t R = boxes.size(0);
  if (R > 0) {
    const std::array<double, 4> w{o.bbox_reg_weights[0], o.bbox_reg_weights[1], o.bbox_reg_weights[2],
                                  o.bbox_reg_weights[3]};
    auto pb = mt::decode_boxes(r_.box_regression.reshape({R, -1}), boxes, w, mt::default_bbox_clip()).reshape({R, -1, 4});
    const auto [h, wd] = r_.batch.sizes[0];
    pb = mt::clip_boxes_to_image(pb, h, wd);
    T.roi_class_boxes = to_vec(pb.slice(1, 1));
    T.roi_deltas = to_vec(r_.box_regression.reshape({R, -1, 4}).slice(1, 1));
  } else {
    T.roi_class_boxes.clear();
    T.roi_deltas.clear();
  }
  for (int c = 0; c < 4; ++c) T.roi_box_weights[c] = float(o.bbox_reg_weights[size_t(c)]);
  T.roi_scale_clamp = mt::default_bbox_clip();
}

}  // namespace rcnn::api
