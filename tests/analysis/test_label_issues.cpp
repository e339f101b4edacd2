// The label doctor's finder (api/label_issues.h) on built cases: for each
// kind, one case where it is the only right answer and one where the label
// is correct and nothing is raised.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "api/label_issues.h"

using namespace rcnn::api;

namespace {

const std::vector<std::string> kNames{"a", "b", "c"};

GtObject gt(float x1, float y1, float x2, float y2, int label, int source_index = -1) {
  GtObject g;
  g.box = {x1, y1, x2, y2};
  g.label = label;
  g.source_index = source_index;
  return g;
}

Detection det(float x1, float y1, float x2, float y2, int label, float score) {
  Detection d;
  d.box = d.box_original = {x1, y1, x2, y2};
  d.label = label;
  d.score = score;
  return d;
}

LabeledImage image(std::vector<GtObject> g, std::vector<Detection> p, const std::string& id = "im") {
  LabeledImage im;
  im.id = id;
  im.width = im.height = 224;
  im.gt = std::move(g);
  im.predictions = std::move(p);
  return im;
}

// The finder without the common-swap discount (tested on its own below).
LabelIssueReport find(const std::vector<LabeledImage>& ims) {
  LabelIssueOptions o;
  o.swap_pair_prior = 0;
  return find_label_issues(ims, kNames, o);
}

void expect_box(const std::optional<Box>& b, float x1, float y1, float x2, float y2) {
  ASSERT_TRUE(b.has_value());
  EXPECT_FLOAT_EQ(b->x1, x1);
  EXPECT_FLOAT_EQ(b->y1, y1);
  EXPECT_FLOAT_EQ(b->x2, x2);
  EXPECT_FLOAT_EQ(b->y2, y2);
}

}  // namespace

TEST(LabelIssues, MissingIsAConfidentBoxOverNoGt) {
  const auto r = find({image({gt(0, 0, 10, 10, 0)}, {det(0, 0, 10, 10, 0, 0.9f), det(50, 50, 70, 70, 1, 0.8f),
                                                     det(51, 50, 70, 70, 2, 0.6f),  // same spot, less sure: no 2nd box
                                                     det(120, 120, 140, 140, 2, 0.2f)})});  // not confident (< 0.25)
  ASSERT_EQ(r.issues.size(), 1u);
  const auto& is = r.issues[0];
  EXPECT_EQ(is.kind, LabelIssueKind::Missing);
  EXPECT_FLOAT_EQ(is.score, 0.8f);
  EXPECT_EQ(is.gt_index, -1);
  EXPECT_EQ(is.suggested_label, 1);
  EXPECT_EQ(is.prediction, 1);
  EXPECT_FALSE(is.box.has_value());
  expect_box(is.suggested_box, 50, 50, 70, 70);
  EXPECT_FLOAT_EQ(r.image_scores[0], 0.8f);
}

TEST(LabelIssues, MissingRaisesNothingWhenTheObjectIsLabelled) {
  const auto r = find({image({gt(0, 0, 10, 10, 0), gt(50, 50, 70, 70, 1)},
                             {det(0, 0, 10, 10, 0, 0.9f), det(50, 50, 70, 70, 1, 0.8f)})});
  EXPECT_TRUE(r.issues.empty());
  EXPECT_FLOAT_EQ(r.image_scores[0], 0.f);
}

TEST(LabelIssues, APredictionOnADifficultGtIsNotMissingAndTheDifficultGtIsNeverReported) {
  auto d = gt(50, 50, 70, 70, 1);
  d.difficult = true;
  const auto r = find({image({gt(0, 0, 10, 10, 0), d}, {det(0, 0, 10, 10, 0, 0.9f), det(50, 50, 70, 70, 2, 0.9f)})});
  EXPECT_TRUE(r.issues.empty());
}

TEST(LabelIssues, SwappedIsAnotherClassCoveringTheGt) {
  // pred b covers the a-labelled GT at IoU 19/20 = 0.95; a scores 0.2 there.
  const auto r = find({image({gt(0, 0, 20, 20, 0, 4)}, {det(1, 0, 20, 20, 1, 0.9f), det(0, 0, 20, 20, 0, 0.2f)})});
  ASSERT_EQ(r.issues.size(), 1u);
  const auto& is = r.issues[0];
  EXPECT_EQ(is.kind, LabelIssueKind::Swapped);
  EXPECT_FLOAT_EQ(is.score, 0.9f * (1 - 0.2f));
  EXPECT_EQ(is.gt_index, 4);  // the file position, not the vector position
  EXPECT_EQ(is.label, 0);
  EXPECT_EQ(is.suggested_label, 1);
  EXPECT_FLOAT_EQ(is.iou, 0.95f);
  expect_box(is.box, 0, 0, 20, 20);
  EXPECT_FALSE(is.suggested_box.has_value());
}

TEST(LabelIssues, SwappedRaisesNothingWhenTheClassIsRight) {
  const auto r = find({image({gt(0, 0, 20, 20, 1)}, {det(1, 0, 20, 20, 1, 0.9f), det(0, 0, 20, 20, 0, 0.2f)})});
  EXPECT_TRUE(r.issues.empty());
  // A confident other class, but its own class is surer there: the model hesitates, the label stands.
  const auto h = find({image({gt(0, 0, 20, 20, 1)}, {det(1, 0, 20, 20, 1, 0.9f), det(0, 0, 20, 20, 0, 0.6f)})});
  EXPECT_TRUE(h.issues.empty());
}

TEST(LabelIssues, BadlocIsASameClassBoxOverlappingOnlyPartly) {
  // IoU([0,0,20,20], [10,0,30,20]) = 200 / 600.
  const auto r = find({image({gt(0, 0, 20, 20, 0)}, {det(10, 0, 30, 20, 0, 0.9f)})});
  ASSERT_EQ(r.issues.size(), 1u);
  const auto& is = r.issues[0];
  EXPECT_EQ(is.kind, LabelIssueKind::BadLoc);
  EXPECT_NEAR(is.iou, 1.f / 3, 1e-6);
  EXPECT_NEAR(is.score, 0.9 * (1 - (1.0 / 3) / 0.6), 1e-6);
  EXPECT_EQ(is.suggested_label, -1);
  expect_box(is.box, 0, 0, 20, 20);
  expect_box(is.suggested_box, 10, 0, 30, 20);
}

TEST(LabelIssues, BadlocRaisesNothingWhenTheBoxFits) {
  const auto r = find({image({gt(10, 0, 30, 20, 0)}, {det(10, 0, 30, 20, 0, 0.9f)})});
  EXPECT_TRUE(r.issues.empty());
}

TEST(LabelIssues, BadlocLeavesABoxThatBelongsToAnotherGt) {
  // The a box sits on GT 1 exactly; it overlaps GT 0 partly (IoU 1/3), but it is GT 1's; and it is near
  // enough to GT 0 (>= 0.3) that GT 0 is not spurious either.
  const auto r = find({image({gt(0, 0, 20, 20, 0), gt(10, 0, 30, 20, 0)}, {det(10, 0, 30, 20, 0, 0.9f)})});
  EXPECT_TRUE(r.issues.empty());
}

namespace {
// Three images where a confident a box finds its GT, so class a's recall is 3 / (3 + extra).
std::vector<LabeledImage> found_a() {
  std::vector<LabeledImage> v;
  for (int k = 0; k < 3; ++k)
    v.push_back(image({gt(0, 0, 20, 20, 0)}, {det(0, 0, 20, 20, 0, 0.9f)}, "f" + std::to_string(k)));
  return v;
}
}  // namespace

TEST(LabelIssues, SpuriousIsAGtNothingIsNearOfAClassFoundElsewhere) {
  auto ims = found_a();
  // a prediction far away and a low-scored one nearby (IoU 256 / 544 = 0.47 >= 0.3) of another class.
  ims.push_back(image({gt(100, 100, 120, 120, 0)}, {det(104, 104, 124, 124, 1, 0.2f), det(0, 0, 30, 30, 2, 0.1f)}));
  const auto r = find(ims);
  ASSERT_EQ(r.issues.size(), 1u);
  const auto& is = r.issues[0];
  EXPECT_EQ(is.kind, LabelIssueKind::Spurious);
  EXPECT_EQ(is.image, 3);
  EXPECT_EQ(is.gt_index, 0);
  EXPECT_FLOAT_EQ(r.class_recall[0], 0.75f);
  EXPECT_NEAR(is.score, (1 - 0.2) * 0.75, 1e-6);
  expect_box(is.box, 100, 100, 120, 120);
  EXPECT_FALSE(is.suggested_box.has_value());
}

TEST(LabelIssues, SpuriousRaisesNothingForAFoundGtOrAClassTheModelNeverFinds) {
  auto ims = found_a();
  const auto clean = find(ims);
  EXPECT_TRUE(clean.issues.empty());
  // class c: no c GT is ever found, so an unfound c GT says nothing about the label.
  ims.push_back(image({gt(100, 100, 120, 120, 2)}, {}));
  const auto r = find(ims);
  EXPECT_FLOAT_EQ(r.class_recall[2], 0.f);
  EXPECT_TRUE(r.issues.empty());
}

TEST(LabelIssues, DuplicateRemovesTheLessSupportedOfTwoGtsOnOneObject) {
  // IoU([0,0,20,20], [0,0,20,19]) = 380 / 400 = 0.95.
  const auto r = find({image({gt(0, 0, 20, 20, 0, 0), gt(0, 0, 20, 19, 0, 1)}, {det(0, 0, 20, 20, 0, 0.9f)})});
  ASSERT_EQ(r.issues.size(), 1u);
  const auto& is = r.issues[0];
  EXPECT_EQ(is.kind, LabelIssueKind::Duplicate);
  EXPECT_EQ(is.gt_index, 1);
  EXPECT_EQ(is.other_gt, 0);
  EXPECT_FLOAT_EQ(is.score, 0.95f);
  expect_box(is.box, 0, 0, 20, 19);
}

TEST(LabelIssues, DuplicateRaisesNothingForTwoObjectsSideBySide) {
  const auto r = find(
      {image({gt(0, 0, 20, 20, 0), gt(15, 0, 35, 20, 0)}, {det(0, 0, 20, 20, 0, 0.9f), det(15, 0, 35, 20, 0, 0.9f)})});
  EXPECT_TRUE(r.issues.empty());
}

TEST(LabelIssues, ImageScoreCombinesItsIssuesAndTheListIsRanked) {
  // A missing box (0.8) and a swapped GT (0.9 * (1 - 0)) in one image; a missing box (0.6) in another.
  const auto r = find({image({gt(0, 0, 20, 20, 0)}, {det(0, 0, 20, 20, 1, 0.9f), det(100, 100, 130, 130, 2, 0.8f)}),
                       image({}, {det(10, 10, 40, 40, 0, 0.6f)}, "second")});
  ASSERT_EQ(r.issues.size(), 3u);
  EXPECT_EQ(r.issues[0].kind, LabelIssueKind::Swapped);
  EXPECT_EQ(r.issues[1].kind, LabelIssueKind::Missing);
  EXPECT_EQ(r.issues[2].image, 1);
  EXPECT_NEAR(r.image_scores[0], 1 - (1 - 0.9) * (1 - 0.8), 1e-6);
  EXPECT_FLOAT_EQ(r.image_scores[1], 0.6f);
}

TEST(LabelIssues, ThresholdsAreOptions) {
  const auto im = image({gt(0, 0, 20, 20, 0)}, {det(10, 0, 30, 20, 0, 0.9f)});  // badloc at IoU 1/3
  LabelIssueOptions o;
  o.swap_pair_prior = 0;
  o.badloc_max_iou = 0.3f;
  EXPECT_TRUE(find_label_issues({im}, kNames, o).issues.empty());
  o = {};
  o.confident = 0.95f;  // the box is no longer sure enough to propose a move
  const auto r = find_label_issues({im}, kNames, o);
  for (const auto& is : r.issues) EXPECT_NE(is.kind, LabelIssueKind::BadLoc);
}

TEST(LabelIssues, JsonRoundTripsEveryField) {
  const std::vector<LabeledImage> ims{
      image({gt(0, 0, 20, 20, 0, 2)}, {det(1, 0, 20, 20, 1, 0.9f), det(100, 100, 130, 130, 2, 0.8f)}, "x"),
      image({gt(0, 0, 20, 20, 0)}, {det(10, 0, 30, 20, 0, 0.9f)}, "y")};
  const auto r = find(ims);
  ASSERT_EQ(r.issues.size(), 3u);
  const auto path = std::filesystem::temp_directory_path() / "rcnn_label_issues_roundtrip.json";
  std::ofstream(path) << label_issues_to_json(r, ims, kNames);
  const auto back = read_label_issues_json(path.string(), ims, kNames);
  ASSERT_EQ(back.issues.size(), r.issues.size());
  for (size_t k = 0; k < r.issues.size(); ++k) {
    const auto &a = r.issues[k], &b = back.issues[k];
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.image, b.image);
    EXPECT_EQ(a.gt_index, b.gt_index);
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(a.suggested_label, b.suggested_label);
    EXPECT_FLOAT_EQ(a.score, b.score);
    EXPECT_EQ(a.box.has_value(), b.box.has_value());
    EXPECT_EQ(a.suggested_box.has_value(), b.suggested_box.has_value());
    EXPECT_EQ(a.why, b.why);
  }
  for (size_t i = 0; i < ims.size(); ++i) EXPECT_FLOAT_EQ(back.image_scores[i], r.image_scores[i]);
  // A damaged entry names the file and the entry.
  std::ofstream(path) << R"({"issues": [{"image": "x", "kind": "swapped", "score": 0.5, "gt_index": 0,
                           "class": "a", "box": [0, 0, 1, 1], "suggested_class": "zebra", "suggested_box": null}]})";
  try {
    read_label_issues_json(path.string(), ims, kNames);
    FAIL() << "an unknown class was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": issues[0]: suggested_class 'zebra'"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(path);
}

TEST(LabelIssues, ASwapTheModelProposesOftenIsDiscounted) {
  // Four a-labelled GTs: three with a confident b box over them (a -> b on 3 / 4 of a's GTs), one with a c box
  // (a -> c on 1 / 4). Raw scores 0.9 each; with the prior 0.05: 0.9 / (1 + 15) and 0.9 / (1 + 5).
  std::vector<LabeledImage> ims;
  for (int k = 0; k < 4; ++k)
    ims.push_back(image({gt(0, 0, 20, 20, 0)}, {det(0, 0, 20, 20, k < 3 ? 1 : 2, 0.9f)}, "i" + std::to_string(k)));
  const auto r = find_label_issues(ims, kNames);
  ASSERT_EQ(r.issues.size(), 4u);
  EXPECT_EQ(r.issues[0].image, 3);  // the rare swap first
  EXPECT_EQ(r.issues[0].suggested_label, 2);
  EXPECT_NEAR(r.issues[0].score, 0.9 / (1 + 0.25 / 0.05), 1e-6);
  for (size_t k = 1; k < 4; ++k) EXPECT_NEAR(r.issues[k].score, 0.9 / (1 + 0.75 / 0.05), 1e-6);
  EXPECT_NE(r.issues[0].why.find("25.0 % of the label's GTs"), std::string::npos) << r.issues[0].why;
}
