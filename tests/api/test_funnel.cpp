// The GT funnel on constructed traces, one case per way of losing a GT.
#include <gtest/gtest.h>

#include "api/session.h"

using namespace rcnn::api;

namespace {
const Box kGt{10, 10, 50, 50};
const Box kFar{150, 150, 190, 190};

PipelineTrace base() {
  PipelineTrace t;
  t.class_names = {"a", "b"};
  t.score_thresh = 0.5;
  GtInfo g;
  g.box = kGt;
  g.box_original = kGt;  // detections are matched in original pixels, as the evaluation does
  g.label = 1;
  g.positive_anchors = 3;
  t.gt.push_back(g);
  return t;
}
void add(PipelineTrace& t, Box b, ProposalState s, std::vector<float> probs = {}) {
  Proposal p;
  p.box = b;
  p.state = s;
  if (s == ProposalState::Kept) {
    p.kept_index = int(t.kept.size());
    t.kept.push_back(int(t.proposals.size()));
    t.class_probs.insert(t.class_probs.end(), probs.begin(), probs.end());
  }
  t.proposals.push_back(p);
}
Funnel run(PipelineTrace t) {
  compute_gt_funnel(t);
  return t.gt[0].funnel;
}
}  // namespace

TEST(Funnel, EachWayOfLosingAGt) {
  auto t = base();
  t.gt[0].positive_anchors = 0;
  EXPECT_EQ(run(t), Funnel::NoPositiveAnchor);

  t = base();
  add(t, kFar, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  EXPECT_EQ(run(t), Funnel::NoCoveringCandidate);  // no candidate beyond the top-k in this trace either

  t = base();
  add(t, kGt, ProposalState::Suppressed);
  add(t, kFar, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  EXPECT_EQ(run(t), Funnel::SuppressedByNms);

  t = base();
  add(t, kGt, ProposalState::CutByPostTopk);
  EXPECT_EQ(run(t), Funnel::CutByPostNmsTopk);

  t = base();
  add(t, kGt, ProposalState::Kept, {0.1f, 0.8f, 0.1f});  // argmax is class a, GT is b
  EXPECT_EQ(run(t), Funnel::Misclassified);

  t = base();
  add(t, kGt, ProposalState::Kept, {0.55f, 0.0f, 0.45f});  // argmax background...
  EXPECT_EQ(run(t), Funnel::Misclassified);
  t = base();
  add(t, kGt, ProposalState::Kept, {0.3f, 0.3f, 0.4f});  // right argmax, 0.4 < 0.5
  EXPECT_EQ(run(t), Funnel::BelowScoreThreshold);

  t = base();
  add(t, kGt, ProposalState::Kept, {0.1f, 0.1f, 0.8f});  // would be detected, but no detection survived
  EXPECT_EQ(run(t), Funnel::RemovedByFinalNms);

  t = base();
  add(t, kGt, ProposalState::Kept, {0.1f, 0.1f, 0.8f});
  Detection d;
  d.box = {12, 10, 50, 52};
  d.box_original = d.box;
  d.label = 1;
  d.score = 0.8f;
  t.detections.push_back(d);
  auto u = t;
  compute_gt_funnel(u);
  EXPECT_EQ(u.gt[0].funnel, Funnel::Detected);
  EXPECT_EQ(u.gt[0].matched_detection, 0);
  EXPECT_STREQ(funnel_name(Funnel::SuppressedByNms), "suppressed by NMS");
}
