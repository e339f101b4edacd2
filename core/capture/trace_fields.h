#pragma once
// Every field of a PipelineTrace and where a capture keeps it: the one list
// the capture's writer and reader both walk (api/capture.cpp), so a field is
// saved exactly when it is read back. docs/capture-format.md is this list in
// words.
//
// An Archive offers
//   value(section, key, v)                  capture.json's trace.<section>.<key> (any JSON-able v)
//   array(stage, field, vector& v, inner[, rows])  <stage>/<field>.npy, shape (v.size() / prod(inner), inner...)
//                                           (`rows` rows when prod(inner) is 0)
//   column(stage, field, rows, width, get)  <stage>/<field>.npy, shape (rows, width) (or (rows) at width 1)
//                                           of the `width` values get(row) points at
//   half_array(stage, field, floats, inner) as array, stored as float16 (what is only drawn normalised)
//   pixel_array(stage, field, floats, inner) as array, values in [0, 1] stored as uint8 q = int(v * 255)
//                                           clamped (the view's own conversion), read back as (q + 0.5) / 255
// Enums are stored as their underlying integer, bools as uint8.
#include <string>

#include "api/trace.h"

namespace rcnn::capture {

template <class Ar>
void feature_map_fields(Ar& ar, api::PipelineTrace& t) {
  ar.value("roialign", "feature_maps", t.feature_maps);  // sizes and frames (the images are arrays below)
  for (size_t i = 0; i < t.feature_maps.size(); ++i) {
    auto& f = t.feature_maps[i];
    const std::string name = i < t.levels.size() ? t.levels[i].name : "level" + std::to_string(i);
    ar.array("feature_maps", name + "_mean", f.mean, {size_t(f.width)});
    ar.array("feature_maps", name + "_max", f.max, {size_t(f.width)});
    ar.array("feature_maps", name + "_channel", f.channel, {size_t(f.width)});
  }
}

template <class Ar>
void train_fields(Ar& ar, api::TrainView& v) {
  ar.value("train", "valid", v.valid);
  ar.value("train", "note", v.note);
  ar.value("train", "rpn_fg", v.rpn_fg);
  ar.value("train", "roi_fg", v.roi_fg);
  ar.value("train", "rpn_count", v.rpn_count);
  ar.value("train", "roi_count", v.roi_count);
  ar.value("train", "rpn_obj", v.rpn_obj);
  ar.value("train", "rpn_box", v.rpn_box);
  ar.value("train", "roi_cls", v.roi_cls);
  ar.value("train", "roi_box", v.roi_box);
  ar.value("train", "rpn_box_weight", v.rpn_box_weight);
  ar.value("train", "roi_box_weight", v.roi_box_weight);
  ar.value("train", "roi_iou_lo", v.roi_iou_lo);
  ar.value("train", "roi_iou_hi", v.roi_iou_hi);
  ar.value("train", "roi_fg_fraction", v.roi_fg_fraction);
  ar.value("train", "roi_batch", v.roi_batch);
  ar.value("train", "pre_nms_topk_train", v.pre_nms_topk_train);
  ar.value("train", "post_nms_topk_train", v.post_nms_topk_train);
  ar.value("train", "num_proposals", v.num_proposals);
  ar.value("train", "add_gt", v.add_gt);
  ar.value("train", "batchnorm", v.batchnorm);
  ar.value("train", "rpn_smooth_l1", v.rpn_smooth_l1);
  ar.value("train", "seed", v.seed);
  ar.column("train", "roi_box", v.rois, 4, [](api::TrainRoi& r) { return &r.box.x1; });
  ar.column("train", "roi_from_gt", v.rois, 1, [](api::TrainRoi& r) { return &r.from_gt; });
  ar.column("train", "roi_level", v.rois, 1, [](api::TrainRoi& r) { return &r.level; });
  ar.column("train", "roi_label", v.rois, 1, [](api::TrainRoi& r) { return &r.label; });
  ar.column("train", "roi_gt", v.rois, 1, [](api::TrainRoi& r) { return &r.gt; });
  ar.column("train", "roi_iou", v.rois, 1, [](api::TrainRoi& r) { return &r.iou; });
  ar.column("train", "roi_class_target", v.rois, 1, [](api::TrainRoi& r) { return &r.class_target; });
  ar.column("train", "roi_sample", v.rois, 1, [](api::TrainRoi& r) { return &r.sample; });
  for (auto* terms : {&v.rpn, &v.roi}) {
    const std::string p = terms == &v.rpn ? "rpn_term_" : "roi_term_";
    ar.column("train", p + "index", *terms, 1, [](api::LossTerm& x) { return &x.index; });
    ar.column("train", p + "fg", *terms, 1, [](api::LossTerm& x) { return &x.fg; });
    ar.column("train", p + "target_class", *terms, 1, [](api::LossTerm& x) { return &x.target_class; });
    ar.column("train", p + "prob", *terms, 1, [](api::LossTerm& x) { return &x.prob; });
    ar.column("train", p + "cls", *terms, 1, [](api::LossTerm& x) { return &x.cls; });
    ar.column("train", p + "box", *terms, 1, [](api::LossTerm& x) { return &x.box; });
    ar.column("train", p + "target", *terms, 4, [](api::LossTerm& x) { return x.target; });
    ar.column("train", p + "pred", *terms, 4, [](api::LossTerm& x) { return x.pred; });
    ar.column("train", p + "gt", *terms, 1, [](api::LossTerm& x) { return &x.gt; });
  }
}

template <class Ar>
void trace_fields(Ar& ar, api::PipelineTrace& t) {
  // Image+GT
  ar.value("image", "width", t.image_width);
  ar.value("image", "height", t.image_height);
  ar.value("image", "path", t.image_path);
  ar.value("image", "input_size", t.input_size);
  ar.value("image", "input_width", t.input_width);
  ar.value("image", "input_height", t.input_height);
  ar.value("image", "scale_x", t.scale_x);
  ar.value("image", "scale_y", t.scale_y);
  ar.value("image", "pad_x", t.pad_x);
  ar.value("image", "pad_y", t.pad_y);
  ar.value("image", "clip_width", t.clip_width);
  ar.value("image", "clip_height", t.clip_height);
  ar.value("image", "input_note", t.input_note);
  ar.array("image", "input", t.input_rgb, {size_t(t.input_width), 3});
  ar.value("model", "class_names", t.class_names);
  ar.value("model", "random_weights", t.random_weights);
  ar.value("model", "torchvision", t.torchvision);
  ar.value("model", "label", t.model_label);
  ar.value("model", "device", t.device);
  ar.value("model", "precision", t.precision);
  // Anchors
  ar.value("anchors", "levels", t.levels);
  ar.column("anchors", "boxes", t.anchors, 4, [](api::Box& b) { return &b.x1; });
  // Matching
  ar.value("matching", "gt", t.gt);
  ar.value("matching", "crowd", t.crowd);
  ar.value("matching", "iou_lo", t.iou_lo);
  ar.value("matching", "iou_hi", t.iou_hi);
  ar.value("matching", "low_quality", t.low_quality);
  ar.array("matching", "anchor_iou", t.anchor_iou, {});
  ar.array("matching", "anchor_gt", t.anchor_gt, {});
  ar.array("matching", "anchor_label", t.anchor_label, {});
  ar.array("matching", "iou_matrix", t.iou_matrix, {t.gt.size()}, t.anchors.size());  // (K, 0) with no GT
  ar.array("matching", "anchor_rescued", t.anchor_rescued, {});
  // Sampling
  ar.array("sampling", "fg", t.sampled_fg, {});
  ar.array("sampling", "bg", t.sampled_bg, {});
  ar.value("sampling", "target_fg", t.target_fg);
  ar.value("sampling", "target_bg", t.target_bg);
  ar.value("sampling", "num_samples", t.num_samples);
  ar.value("sampling", "seed", t.sample_seed);
  // RPN predictions
  ar.array("rpn", "objectness", t.objectness, {});
  ar.array("rpn", "deltas", t.deltas, {4});
  // Proposals
  ar.column("proposals", "box", t.proposals, 4, [](api::Proposal& p) { return &p.box.x1; });
  ar.column("proposals", "objectness", t.proposals, 1, [](api::Proposal& p) { return &p.objectness; });
  ar.column("proposals", "level", t.proposals, 1, [](api::Proposal& p) { return &p.level; });
  ar.column("proposals", "anchor", t.proposals, 1, [](api::Proposal& p) { return &p.anchor; });
  ar.column("proposals", "state", t.proposals, 1, [](api::Proposal& p) { return &p.state; });
  ar.column("proposals", "suppressed_by", t.proposals, 1, [](api::Proposal& p) { return &p.suppressed_by; });
  ar.column("proposals", "kept_index", t.proposals, 1, [](api::Proposal& p) { return &p.kept_index; });
  ar.array("proposals", "kept", t.kept, {});
  ar.value("proposals", "rpn_scale_clamp", t.rpn_scale_clamp);
  // RoIAlign
  ar.value("roialign", "roi_size", t.roi_size);
  ar.value("roialign", "feature_channels", t.feature_channels);
  ar.value("roialign", "crop_size", t.crop_size);
  ar.value("roialign", "level_assignment", t.level_assignment);
  ar.value("roialign", "canonical_size", t.canonical_size);
  ar.value("roialign", "canonical_level", t.canonical_level);
  ar.value("roialign", "sampling_ratio", t.sampling_ratio);
  ar.value("roialign", "aligned", t.aligned);
  ar.value("roialign", "feature_channel", t.feature_channel);
  const size_t S = size_t(t.roi_size), F = size_t(t.feature_channels), c = size_t(t.crop_size);
  ar.array("roialign", "level", t.roi_level, {});
  ar.array("roialign", "points", t.roi_points, {2});
  ar.array("roialign", "points_fmap", t.roi_points_fmap, {2});
  ar.array("roialign", "point_offset", t.roi_point_offset, {});
  ar.array("roialign", "grid", t.roi_grid, {2});
  ar.half_array("roialign", "features", t.roi_features, {F, S, S});
  ar.pixel_array("roialign", "crops", t.roi_crops, {3, c, c});
  feature_map_fields(ar, t);
  // Predictions
  ar.array("predictions", "class_probs", t.class_probs, {size_t(t.num_classes() + 1)});
  ar.column("predictions", "det_box", t.detections, 4, [](api::Detection& d) { return &d.box.x1; });
  ar.column("predictions", "det_box_original", t.detections, 4, [](api::Detection& d) { return &d.box_original.x1; });
  ar.column("predictions", "det_label", t.detections, 1, [](api::Detection& d) { return &d.label; });
  ar.column("predictions", "det_score", t.detections, 1, [](api::Detection& d) { return &d.score; });
  ar.column("predictions", "det_proposal", t.detections, 1, [](api::Detection& d) { return &d.proposal; });
  ar.column("predictions", "verdict_outcome", t.verdicts, 1, [](api::DetectionVerdict& v) { return &v.outcome; });
  ar.column("predictions", "verdict_error", t.verdicts, 1, [](api::DetectionVerdict& v) { return &v.error; });
  ar.column("predictions", "verdict_gt", t.verdicts, 1, [](api::DetectionVerdict& v) { return &v.gt; });
  ar.column("predictions", "verdict_iou", t.verdicts, 1, [](api::DetectionVerdict& v) { return &v.iou; });
  ar.column("predictions", "verdict_crowd", t.verdicts, 1, [](api::DetectionVerdict& v) { return &v.crowd; });
  ar.array("predictions", "roi_class_boxes", t.roi_class_boxes, {size_t(t.num_classes()), 4});
  ar.array("predictions", "roi_deltas", t.roi_deltas, {size_t(t.num_classes()), 4});
  ar.value("predictions", "box_regression", t.box_regression);
  ar.value("predictions", "roi_box_weights", t.roi_box_weights);
  ar.value("predictions", "roi_scale_clamp", t.roi_scale_clamp);
  ar.value("predictions", "detections_per_image", t.detections_per_image);
  ar.value("predictions", "score_thresh", t.score_thresh);
  ar.value("predictions", "nms_thresh", t.nms_thresh);
  // Training step
  train_fields(ar, t.train);
  // The run
  ar.value("run", "timings_ms", t.timings_ms);
  ar.value("run", "flops", t.flops);
  ar.value("run", "recomputed", t.recomputed);
}

}  // namespace rcnn::capture
