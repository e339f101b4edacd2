#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "config/config_fields.h"
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

TEST(ConfigFields, EveryFieldNamesItsOwnMemberOnce) {
  DetectorConfig c;
  std::set<const void*> seen;
  std::set<std::string> keys;
  const char* lo = reinterpret_cast<const char*>(&c);
  for (const auto& f : config_fields()) {
    const void* p = f.ref(c);
    EXPECT_TRUE(seen.insert(p).second) << f.key << " points at a member another field uses";
    EXPECT_TRUE(keys.insert(f.key).second) << f.key;
    EXPECT_GE(static_cast<const char*>(p), lo);
    EXPECT_LT(static_cast<const char*>(p), lo + sizeof(DetectorConfig));
    EXPECT_FALSE(f.doc.empty()) << f.key << " has no doc line";
    EXPECT_FALSE(f.group.empty()) << f.key;
  }
  EXPECT_EQ(find_field("rpn.iou_hi")->kind, FieldKind::Double);
  EXPECT_EQ(find_field("rpn.nope"), nullptr);
}

TEST(ConfigFields, EveryFieldRoundTripsThroughJsonAndOverrides) {
  // Change every field through --set to a value != its default, save, load:
  // each change must survive, which it can only if the table maps the key
  // to the member and back.
  auto base = load_preset("default");
  for (const auto& f : config_fields()) {
    auto c = base;
    std::string v;
    switch (f.kind) {
      case FieldKind::Bool:
        v = field_json(c, f) == "true" ? "false" : "true";
        break;
      case FieldKind::String: {
        if (f.choices.empty()) {
          v = "\"zz\"";
          break;
        }
        for (const auto& ch : f.choices)
          if ("\"" + ch + "\"" != field_json(c, f)) {
            v = "\"" + ch + "\"";
            break;
          }
        break;
      }
      case FieldKind::StringList:
        continue;  // class_names must match num_classes
      case FieldKind::IntList:
        v = "[3]";
        break;
      case FieldKind::DoubleList:
        v = "[0.75]";
        break;
      case FieldKind::DoubleLists:
        v = "[[0.75, 1.5]]";
        break;
      case FieldKind::FloatList:
        v = "[0.25, 0.5, 0.75]";
        break;
      default: {
        // a value inside the range that differs from the current one
        const double cur = std::stod(field_json(c, f));
        double lo = std::isnan(f.min) ? 0 : f.min, hi = std::isnan(f.max) ? 1e6 : std::min(f.max, 1e6);
        if (f.key == "input.size") {
          v = cur == 256 ? "288" : "256";
          break;
        }
        double x = lo + (hi - lo) * 0.37;
        if (f.kind != FieldKind::Double) x = std::floor(x) == cur ? std::floor(x) + 1 : std::floor(x);
        if (x == cur) x = (x + hi) / 2;
        if (f.key == "rpn.iou_lo" || f.key == "roi.iou_lo") x = 0.1;
        if (f.key == "rpn.iou_hi" || f.key == "roi.iou_hi") x = 0.9;
        std::ostringstream os;
        os << x;
        v = os.str();
      }
    }
    ASSERT_NO_THROW(apply_override(c, f.key + "=" + v)) << f.key << "=" << v;
    EXPECT_NE(field_json(c, f), field_json(base, f)) << f.key;
    auto d = config_from_json_string(config_to_json_string(c), "roundtrip");
    EXPECT_EQ(field_json(d, f), field_json(c, f)) << f.key;
    EXPECT_EQ(changed_fields(base, d), std::vector<std::string>{f.key});
  }
}

TEST(ConfigFields, DirtyStagesAndShapesComeFromTheTable) {
  auto a = load_preset("default");
  auto b = a;
  b.roi.score_thresh = 0.3;
  EXPECT_EQ(changed_stages(a, b), unsigned(kStagePred));
  b = a;
  b.rpn.iou_hi = 0.8;
  EXPECT_EQ(changed_stages(a, b), unsigned(kStageMatch));
  b.input.size = 256;
  EXPECT_EQ(changed_stages(a, b), unsigned(kStageMatch | kStageImage));
  EXPECT_TRUE(same_weight_shapes(a, b));
  b = a;
  b.solver.lr = 0.5;  // training only
  EXPECT_EQ(changed_stages(a, b), 0u);
  EXPECT_TRUE(same_weight_shapes(a, b));
  b = a;
  b.roi.fc_dim = 128;
  EXPECT_FALSE(same_weight_shapes(a, b));
  b = a;  // 3 ratios x 3 scales -> 9 ratios x 1 scale: still 9 anchors per location
  b.anchors.aspect_ratios = {0.25, 0.33, 0.5, 0.7, 1, 1.4, 2, 3, 4};
  b.anchors.scales_per_octave = 1;
  EXPECT_TRUE(same_weight_shapes(a, b));
  b.anchors.scales_per_octave = 2;
  EXPECT_FALSE(same_weight_shapes(a, b));
}

TEST(ConfigFields, RangesOfTheTableAreEnforced) {
  EXPECT_NE(err(R"({"rpn": {"fg_fraction": 1.5}})").find("rpn.fg_fraction: must be in [0, 1], got 1.5"),
            std::string::npos);
  EXPECT_NE(err(R"({"roi": {"level_assignment": "area"}})").find("roi.level_assignment: must be one of"),
            std::string::npos);
  EXPECT_NE(err(R"({"anchors": {"aspect_ratios": [1, -2]}})").find("values must be > 0, got -2"), std::string::npos);
  EXPECT_NE(err(R"({"roi": {"canonical_size": 0}})").find("roi.canonical_size: must be > 0"), std::string::npos);
}

// Found by scripts/fuzz.sh (config): a number beyond double's range was an
// uncaught nlohmann out_of_range, not a ConfigError naming the file.
TEST(Config, NumberOverflowIsAConfigError) {
  const auto e = err(R"({"solver": {"lr": 222E222222222222}})");
  EXPECT_NE(e.find("test.json: malformed JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("number overflow"), std::string::npos) << e;
}
