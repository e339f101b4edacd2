// Captures (api/capture.h): the whole trace saved and read back, the .npy
// members against numpy's rules by hand, float16 against exact values, the
// damaged and newer files, and the diff of two captures.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api/capture.h"
#include "api/capture_diff.h"
#include "api/dataset.h"
#include "api/session.h"
#include "capture/npy.h"
#include "capture/zip_archive.h"
#include "config/detector_config.h"

using namespace rcnn;

namespace {
std::string resources() {
  return std::getenv("RCNN_RESOURCES") ? std::getenv("RCNN_RESOURCES") : "resources";
}

struct Live {
  std::unique_ptr<api::Session> s;
  api::Capture c;
};
// The bundled model on a val image, or random weights.
Live live(bool trained, int image = 3) {
  api::OpenOptions oo;
  oo.split = "val";
  const auto ds = api::open_dataset(api::default_dataset_dir(), oo);
  Live l;
  auto cfg = load_preset("default");
  cfg.num_classes = int(ds.class_names.size());
  cfg.class_names = ds.class_names;
  l.s = std::make_unique<api::Session>(cfg, "cpu");
  if (trained) l.s->load_checkpoint(resources() + "/models/fashion_default.pt");
  const auto& im = ds.images[size_t(image)];
  l.s->open_image(im.path, im.objects, ds.class_names);
  l.c = l.s->capture(R"({"stage": "Proposals", "selection": {"kind": "proposal", "index": 2}})");
  return l;
}

template <class T>
void expect_same(const std::vector<T>& a, const std::vector<T>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(0, a.empty() ? 0 : std::memcmp(a.data(), b.data(), a.size() * sizeof(T))) << what;
}

std::string nlohmann_view_stage(const std::string& view) {
  return nlohmann::json::parse(view).value("stage", "");
}

std::map<std::string, std::string> members(const std::string& bytes) {
  capture::ZipReader z(bytes, "test");
  std::map<std::string, std::string> m;
  for (const auto& n : z.names()) m[n] = z.read(n);
  return m;
}

// Rewrites one member of a capture's archive (or adds it).
std::string with_member(const std::string& bytes, const std::string& name, const std::string& value) {
  auto m = members(bytes);
  m[name] = value;
  capture::ZipWriter w;
  for (auto& [n, v] : m) w.add(n, v);
  return w.finish();
}
}  // namespace

TEST(Npy, HeaderIsNumpysVersionOneDictPaddedTo64) {
  const int32_t v[6] = {1, 2, 3, 4, 5, 6};
  const auto b = capture::npy_encode(capture::Dtype::I32, {2, 3}, v, sizeof v);
  ASSERT_EQ(b.size() % 64, sizeof v % 64);  // the header (magic .. '\n') is a multiple of 64 bytes
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hl = size_t(uint8_t(b[8])) | size_t(uint8_t(b[9])) << 8;
  EXPECT_EQ((10 + hl) % 64, 0u);
  EXPECT_EQ(b.substr(10, 59), "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(b[10 + hl - 1], '\n');
  const auto a = capture::npy_decode(b);
  EXPECT_EQ(a.shape, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(0, std::memcmp(a.data.data(), v, sizeof v));
  const auto one = capture::npy_encode(capture::Dtype::F32, {5}, nullptr, 0);  // a 1-tuple keeps its comma
  EXPECT_NE(one.find("'shape': (5,)"), std::string::npos);
  EXPECT_THROW(capture::npy_decode(one), capture::NpyError);  // 5 floats promised, none there
  std::string fortran = b;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_THROW(capture::npy_decode(fortran), capture::NpyError);
  std::string big = b;
  big.replace(big.find("<i4"), 3, ">i4");
  EXPECT_THROW(capture::npy_decode(big), capture::NpyError);
}

TEST(Npy, HalfPrecisionRoundsToNearestEven) {
  EXPECT_EQ(capture::float_to_half(1.f), 0x3c00);
  EXPECT_EQ(capture::float_to_half(-2.f), 0xc000);
  EXPECT_EQ(capture::float_to_half(65504.f), 0x7bff);             // the largest half
  EXPECT_EQ(capture::float_to_half(65520.f), 0x7c00);             // rounds up to infinity
  EXPECT_EQ(capture::float_to_half(1.f + 0x1p-11f), 0x3c00);      // a tie: to the even significand
  EXPECT_EQ(capture::float_to_half(1.f + 3 * 0x1p-11f), 0x3c02);  // a tie: up to the even one
  EXPECT_EQ(capture::float_to_half(0x1p-24f), 0x0001);            // the smallest subnormal
  EXPECT_EQ(capture::float_to_half(0x1p-25f), 0x0000);            // half of it: a tie, to even (zero)
  EXPECT_EQ(capture::float_to_half(0x1.8p-24f), 0x0002);          // 1.5 ulp: a tie, to even (2)
  EXPECT_EQ(capture::float_to_half(0x1p-14f), 0x0400);            // the smallest normal
  for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(capture::float_to_half(capture::half_to_float(uint16_t(h))), h);
  EXPECT_EQ(capture::half_to_float(0x3555), 0x1.554p-2f);
}

TEST(Capture, EveryStageReadsBackAsSaved) {
  auto l = live(true);
  const auto& a = l.c.trace;
  ASSERT_FALSE(a.detections.empty());
  ASSERT_TRUE(a.train.valid);
  const std::string bytes = api::capture_bytes(l.c);
  const auto c = api::read_capture(bytes, "mem");
  const auto& b = c.trace;
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.model.family, "seed");
  EXPECT_EQ(c.model.checkpoint, "fashion_default.pt");
  EXPECT_EQ(c.model.weights_hash.size(), 16u);
  EXPECT_EQ(c.image.rgb, l.c.image.rgb);
  EXPECT_EQ(c.gt.size(), l.c.gt.size());
  EXPECT_EQ(nlohmann_view_stage(c.view_json), "Proposals");
  // Everything the JSON export lists, and every per-anchor, per-proposal and per-RoI array.
  EXPECT_EQ(api::trace_to_json(b), api::trace_to_json(a));
  expect_same(b.input_rgb, a.input_rgb, "input");
  expect_same(b.anchors.empty() ? std::vector<float>{}
                                : std::vector<float>(&b.anchors[0].x1, &b.anchors[0].x1 + 4 * b.anchors.size()),
              std::vector<float>(&a.anchors[0].x1, &a.anchors[0].x1 + 4 * a.anchors.size()), "anchors");
  expect_same(b.anchor_iou, a.anchor_iou, "anchor_iou");
  expect_same(b.anchor_gt, a.anchor_gt, "anchor_gt");
  expect_same(b.anchor_label, a.anchor_label, "anchor_label");
  expect_same(b.iou_matrix, a.iou_matrix, "iou_matrix");
  expect_same(b.anchor_rescued, a.anchor_rescued, "anchor_rescued");
  expect_same(b.sampled_fg, a.sampled_fg, "fg");
  expect_same(b.sampled_bg, a.sampled_bg, "bg");
  expect_same(b.objectness, a.objectness, "objectness");
  expect_same(b.deltas, a.deltas, "deltas");
  ASSERT_EQ(b.proposals.size(), a.proposals.size());
  for (size_t i = 0; i < a.proposals.size(); ++i) {
    const auto &p = a.proposals[i], &q = b.proposals[i];
    ASSERT_TRUE(p.box.x1 == q.box.x1 && p.box.y2 == q.box.y2 && p.objectness == q.objectness && p.level == q.level &&
                p.anchor == q.anchor && p.state == q.state && p.suppressed_by == q.suppressed_by &&
                p.kept_index == q.kept_index)
        << "proposal " << i;
  }
  expect_same(b.kept, a.kept, "kept");
  expect_same(b.roi_level, a.roi_level, "roi_level");
  expect_same(b.roi_points, a.roi_points, "roi_points");
  expect_same(b.roi_points_fmap, a.roi_points_fmap, "roi_points_fmap");
  expect_same(b.roi_point_offset, a.roi_point_offset, "roi_point_offset");
  expect_same(b.roi_grid, a.roi_grid, "roi_grid");
  ASSERT_EQ(b.feature_maps.size(), a.feature_maps.size());
  for (size_t i = 0; i < a.feature_maps.size(); ++i) {
    expect_same(b.feature_maps[i].mean, a.feature_maps[i].mean, "fmap mean");
    expect_same(b.feature_maps[i].max, a.feature_maps[i].max, "fmap max");
    expect_same(b.feature_maps[i].channel, a.feature_maps[i].channel, "fmap channel");
    EXPECT_EQ(b.feature_maps[i].step, a.feature_maps[i].step);
  }
  expect_same(b.class_probs, a.class_probs, "class_probs");
  expect_same(b.roi_class_boxes, a.roi_class_boxes, "roi_class_boxes");
  expect_same(b.roi_deltas, a.roi_deltas, "roi_deltas");
  ASSERT_EQ(b.detections.size(), a.detections.size());
  for (size_t i = 0; i < a.detections.size(); ++i) {
    EXPECT_EQ(b.detections[i].score, a.detections[i].score);
    EXPECT_EQ(b.detections[i].proposal, a.detections[i].proposal);
    EXPECT_EQ(b.detections[i].box_original.x2, a.detections[i].box_original.x2);
    EXPECT_EQ(b.verdicts[i].outcome, a.verdicts[i].outcome);
    EXPECT_EQ(b.verdicts[i].error, a.verdicts[i].error);
  }
  for (size_t g = 0; g < a.gt.size(); ++g) {
    EXPECT_EQ(b.gt[g].funnel, a.gt[g].funnel);
    EXPECT_EQ(b.gt[g].funnel_reason, a.gt[g].funnel_reason);
    EXPECT_EQ(b.gt[g].best_iou_per_level_shape, a.gt[g].best_iou_per_level_shape);
  }
  EXPECT_EQ(b.train.total(), a.train.total());
  ASSERT_EQ(b.train.rois.size(), a.train.rois.size());
  ASSERT_EQ(b.train.roi.size(), a.train.roi.size());
  for (size_t i = 0; i < a.train.roi.size(); ++i) {
    EXPECT_EQ(b.train.roi[i].cls, a.train.roi[i].cls);
    EXPECT_EQ(b.train.roi[i].pred[3], a.train.roi[i].pred[3]);
  }
  EXPECT_EQ(b.train.rpn.size(), a.train.rpn.size());
  EXPECT_EQ(b.timings_ms, a.timings_ms);
  // The seed family's RoI features are pooled again from the FPN levels the capture keeps: bit for bit.
  ASSERT_EQ(l.c.levels.size(), a.levels.size());
  expect_same(b.roi_features, a.roi_features, "roi_features (pooled again)");
  // Without the levels they are stored as float16 (within half an ulp).
  auto f16 = l.c;
  f16.levels.clear();
  const auto h = api::read_capture(api::capture_bytes(f16), "f16").trace.roi_features;
  ASSERT_EQ(h.size(), a.roi_features.size());
  for (size_t i = 0; i < h.size(); ++i)
    ASSERT_LE(std::abs(h[i] - a.roi_features[i]), std::abs(a.roi_features[i]) * 0x1p-11f + 0x1p-25f) << i;
  // The crops as the view's 8 bits.
  ASSERT_EQ(b.roi_crops.size(), a.roi_crops.size());
  for (size_t i = 0; i < a.roi_crops.size(); ++i)
    ASSERT_EQ(std::clamp(int(b.roi_crops[i] * 255), 0, 255), std::clamp(int(a.roi_crops[i] * 255), 0, 255)) << i;
  // Saving what was read gives the same members, byte for byte.
  EXPECT_EQ(members(api::capture_bytes(c)), members(bytes));
  EXPECT_NO_THROW(api::validate_trace(b));
}

TEST(Capture, DamagedFilesAreErrorsNamingTheMember) {
  auto l = live(false);
  const std::string bytes = api::capture_bytes(l.c);
  auto err = [](const std::string& b) -> std::string {
    try {
      api::read_capture(b, "x.rcnncap");
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(err(bytes.substr(0, bytes.size() / 2)).find("x.rcnncap: not a capture"), std::string::npos);
  EXPECT_NE(err("plain text").find("x.rcnncap: not a capture"), std::string::npos);
  // A bit flipped inside a deflated member: its CRC (or its stream) fails, and the message names it.
  {
    // The member's deflated bytes follow its name in its local header (the first place the name occurs).
    std::string damaged = bytes;
    const size_t at = damaged.find("proposals/objectness.npy");
    ASSERT_NE(at, std::string::npos);
    damaged[at + 24 + 2000] ^= 0x10;
    const auto e = err(damaged);
    EXPECT_NE(e.find("x.rcnncap: member proposals/objectness.npy"), std::string::npos) << e;
  }
  const auto nojson = err(with_member(bytes, "capture.json", "{not json"));
  EXPECT_NE(nojson.find("member capture.json is not JSON"), std::string::npos) << nojson;
  auto doc = nlohmann::json::parse(capture::ZipReader(bytes, "x").read("capture.json"));
  auto cut = doc;
  cut["trace"]["proposals"].erase("rpn_scale_clamp");
  EXPECT_NE(err(with_member(bytes, "capture.json", cut.dump())).find("trace.proposals.rpn_scale_clamp is missing"),
            std::string::npos);
  auto wrong = doc;
  wrong["trace"]["image"]["input_width"] = "wide";
  EXPECT_NE(err(with_member(bytes, "capture.json", wrong.dump())).find("trace.image.input_width is malformed"),
            std::string::npos);
  // A member of the wrong type, of the wrong shape, or one that points outside the trace.
  const float f[3] = {1, 2, 3};
  EXPECT_NE(err(with_member(bytes, "proposals/kept.npy", capture::npy_encode(capture::Dtype::F32, {3}, f, sizeof f)))
                .find("member proposals/kept.npy holds <f4, not <i4"),
            std::string::npos);
  EXPECT_NE(err(with_member(bytes, "rpn/deltas.npy", capture::npy_encode(capture::Dtype::F32, {1, 3}, f, sizeof f)))
                .find("member rpn/deltas.npy has a shape that does not fit"),
            std::string::npos);
  std::vector<int32_t> kept = l.c.trace.kept;
  kept[0] = 1 << 20;
  const auto e =
      err(with_member(bytes, "proposals/kept.npy",
                      capture::npy_encode(capture::Dtype::I32, {kept.size()}, kept.data(), 4 * kept.size())));
  EXPECT_NE(e.find("x.rcnncap: proposals/kept.npy: proposal 1048576 is out of range"), std::string::npos) << e;
  EXPECT_NE(err(with_member(bytes, "anchors/boxes.npy", capture::npy_encode(capture::Dtype::F32, {0, 4}, f, 0)))
                .find("x.rcnncap: matching/anchor_iou.npy holds " + std::to_string(l.c.trace.anchors.size()) +
                      " values, the trace's sizes need 0"),
            std::string::npos);
}

TEST(Capture, NewerFieldsOpenWithAWarning) {
  auto l = live(false);
  const std::string bytes = api::capture_bytes(l.c);
  auto doc = nlohmann::json::parse(capture::ZipReader(bytes, "x").read("capture.json"));
  doc["version"] = api::kCaptureVersion + 1;
  doc["trace"]["proposals"]["rotated"] = true;
  doc["trace"]["masks"] = {{"count", 3}};
  doc["provenance"] = "future";
  const auto newer = with_member(with_member(bytes, "capture.json", doc.dump()), "masks/logits.npy",
                                 capture::npy_encode(capture::Dtype::U8, {0}, nullptr, 0));
  const auto c = api::read_capture(newer, "n.rcnncap");
  std::string all;
  for (const auto& w : c.warnings) all += w + "\n";
  EXPECT_EQ(c.warnings.size(), 5u) << all;
  EXPECT_NE(all.find("newer version (2"), std::string::npos) << all;
  EXPECT_NE(all.find("trace.proposals.rotated"), std::string::npos) << all;
  EXPECT_NE(all.find("trace section \"masks\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"provenance\""), std::string::npos) << all;
  EXPECT_NE(all.find("member masks/logits.npy"), std::string::npos) << all;
  EXPECT_EQ(c.trace.proposals.size(), l.c.trace.proposals.size());
}

TEST(Capture, SaveReplacesAFileOnlyWithACompleteCapture) {
  auto l = live(false);
  const auto dir = std::filesystem::temp_directory_path() / "rcnn_capture_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "a.rcnncap").string();
  std::ofstream(path) << "kept";
  auto broken = l.c;
  broken.image.rgb.pop_back();  // pixels that do not match the image's size
  EXPECT_THROW(api::save_capture(path, broken), std::invalid_argument);
  std::ifstream in(path);
  std::string was;
  in >> was;
  EXPECT_EQ(was, "kept");
  api::save_capture(path, l.c);
  EXPECT_EQ(api::load_capture(path).trace.anchors.size(), l.c.trace.anchors.size());
  EXPECT_FALSE(std::filesystem::exists(path + ".part"));
  std::filesystem::remove_all(dir);
}

TEST(CaptureDiff, ACaptureAgainstItselfIsEmpty) {
  auto l = live(true);
  const auto c = api::read_capture(api::capture_bytes(l.c), "a");
  const auto d = api::diff_captures(l.c, c);
  EXPECT_TRUE(d.empty()) << api::diff_to_json(d);
  EXPECT_NE(api::diff_to_text(d, l.c, c).find("no change"), std::string::npos);
}

TEST(CaptureDiff, NamesEveryChangeAtItsStage) {
  auto l = live(true);
  api::Capture b = l.c;
  auto& t = b.trace;
  ASSERT_GE(t.anchor_label.size(), 10u);
  ASSERT_FALSE(t.detections.empty());
  ASSERT_GE(t.kept.size(), 2u);
  // Flip two anchors, move one kept proposal out, reclassify one RoI kept by both, drop a detection, and lose
  // the GT at the proposals.
  const int flipped = int(t.anchor_label[5] == api::AnchorLabel::Positive ? 6 : 5);
  t.anchor_label[size_t(flipped)] = api::AnchorLabel::Positive;
  t.anchor_label[7] =
      t.anchor_label[7] == api::AnchorLabel::Negative ? api::AnchorLabel::Neutral : api::AnchorLabel::Negative;
  const int left = t.kept[0];
  t.proposals[size_t(left)].anchor = -1;  // no longer the same anchor's proposal: keyed by its box
  t.proposals[size_t(left)].box.x1 += 1;
  const int C1 = t.num_classes() + 1;
  float* p = &t.class_probs[size_t(1) * size_t(C1)];
  const int top = int(std::max_element(p, p + C1) - p);
  std::swap(p[top], p[(top + 1) % C1]);
  const auto removed = t.detections.back();
  t.detections.pop_back();
  t.verdicts.pop_back();
  ASSERT_EQ(t.gt.size(), 1u);
  const auto was = t.gt[0].funnel;
  t.gt[0].funnel = api::Funnel::SuppressedByNms;
  const auto d = api::diff_captures(l.c, b);
  ASSERT_EQ(d.anchor_flips.size(), 2u);
  EXPECT_EQ(d.anchor_flips[0].anchor, std::min(flipped, 7));
  EXPECT_EQ(d.proposals_left, std::vector<int>{left});
  EXPECT_EQ(d.proposals_entered, std::vector<int>{left});  // the moved box is another proposal
  ASSERT_EQ(d.rois.size(), 1u);
  EXPECT_EQ(d.rois[0].a, 1);
  EXPECT_EQ(d.rois[0].class_a, top);
  EXPECT_EQ(d.rois[0].class_b, (top + 1) % C1);
  EXPECT_EQ(d.detections_removed, std::vector<int>{int(l.c.trace.detections.size()) - 1});
  EXPECT_TRUE(d.detections_added.empty());
  ASSERT_EQ(d.gt.size(), 1u);
  EXPECT_EQ(d.gt[0].from, was);
  EXPECT_EQ(d.gt[0].to, api::Funnel::SuppressedByNms);
  EXPECT_EQ(d.gt[0].stage, api::Stage::Proposals);  // the earlier of the two verdicts in pipeline order
  (void)removed;
}

TEST(CaptureDiff, TheBundledModelAgainstRandomWeightsNamesEveryChangedVerdict) {
  auto a = live(true), b = live(false);
  const auto d = api::diff_captures(a.c, b.c);
  ASSERT_TRUE(d.same_anchors);
  ASSERT_TRUE(d.same_gt);
  size_t changed = 0;
  for (size_t g = 0; g < a.c.trace.gt.size(); ++g) changed += a.c.trace.gt[g].funnel != b.c.trace.gt[g].funnel;
  ASSERT_GT(changed, 0u);
  ASSERT_EQ(d.gt.size(), changed);
  for (const auto& g : d.gt) {
    EXPECT_EQ(g.from, a.c.trace.gt[size_t(g.gt)].funnel);
    EXPECT_EQ(g.to, b.c.trace.gt[size_t(g.gt)].funnel);
  }
  EXPECT_FALSE(d.detections_added.empty());
  const auto j = nlohmann::json::parse(api::diff_to_json(d));
  EXPECT_EQ(j["gt"]["changed"].size(), changed);
  EXPECT_FALSE(j["empty"].get<bool>());
}
