#include <gtest/gtest.h>

#include <filesystem>

#include "config/detector_config.h"

using namespace rcnn;

namespace {
std::string err(const std::string& json) {
  try {
    config_from_json_string(json, "test.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, SeedPresetIsTheSeed) {
  auto c = load_preset("seed");
  EXPECT_EQ(c.backbone.name, "regnetx_400mf");
  EXPECT_EQ(c.backbone.fpn_channels, 64);
  EXPECT_DOUBLE_EQ(c.anchors.stride_scale, 8);
  EXPECT_EQ(c.anchors.aspect_ratios, (std::vector<double>{0.5, 1.0, 2.0}));
  EXPECT_DOUBLE_EQ(c.rpn.iou_lo, 0.3);
  EXPECT_DOUBLE_EQ(c.rpn.iou_hi, 0.6);
  EXPECT_EQ(c.rpn.batch_size_per_image, 16);
  EXPECT_DOUBLE_EQ(c.rpn.fg_fraction, 0.5);
  EXPECT_EQ(c.rpn.pre_nms_topk_test, 400);
  EXPECT_EQ(c.rpn.post_nms_topk_test, 100);
  EXPECT_DOUBLE_EQ(c.rpn.nms_thresh, 0.7);
  EXPECT_FALSE(c.roi.box_regression);
  EXPECT_DOUBLE_EQ(c.roi.fg_fraction, 0.25);
  EXPECT_NO_THROW(load_preset("default"));
  EXPECT_NO_THROW(load_preset("fast"));
}

TEST(Config, InvalidValuesNameTheField) {
  EXPECT_NE(err(R"({"rpn": {"iou_lo": 0.7, "iou_hi": 0.6}})").find("rpn.iou_lo"), std::string::npos);
  EXPECT_NE(err(R"({"rpn": {"nms_thresh": -0.1}})").find("rpn.nms_thresh"), std::string::npos);
  EXPECT_NE(err(R"({"anchors": {"aspect_ratios": []}})").find("anchors.aspect_ratios: must not be empty"),
            std::string::npos);
  EXPECT_NE(err(R"({"rpn": {"iou_hii": 0.6}})").find("rpn.iou_hii: unknown key"), std::string::npos);
  EXPECT_NE(err(R"({"solver": {"lr": "fast"}})").find("solver.lr: expected a number"), std::string::npos);
  EXPECT_NE(err(R"({"rpn": {"batch_size_per_image": 1.5}})").find("expected an integer"), std::string::npos);
  EXPECT_NE(err("{ not json").find("test.json: malformed JSON"), std::string::npos);
  EXPECT_EQ(err("{}"), "");
}

TEST(Config, SaveLoadRoundTripAndOverrides) {
  auto c = load_preset("default");
  apply_override(c, "rpn.iou_hi=0.65");
  apply_override(c, "anchors.aspect_ratios=[1.0]");
  EXPECT_DOUBLE_EQ(c.rpn.iou_hi, 0.65);
  EXPECT_EQ(c.anchors.aspect_ratios.size(), 1u);
  EXPECT_THROW(apply_override(c, "rpn.nope=1"), ConfigError);
  EXPECT_THROW(apply_override(c, "rpn.iou_lo=0.9"), ConfigError);
  const auto path = (std::filesystem::temp_directory_path() / "rcnn_cfg_roundtrip.json").string();
  save_config(c, path);
  auto d = load_config(path);
  EXPECT_EQ(config_to_json_string(c), config_to_json_string(d));
  EXPECT_THROW(load_config("/nonexistent/x.json"), ConfigError);
}
