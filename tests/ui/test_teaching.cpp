// The studio's teaching views driven with QTest under Xvfb, on the bundled
// trained model: the RoI sampling and Losses stages, box-refinement arrows,
// the feature-map view with RoIAlign's taps, and two models compared (the
// Compare panel, side by side). Each saves the screenshots it checks.
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>

#include "api/checkpoint.h"
#include "config/detector_config.h"
#include "panels/dataset_panel.h"
#include "panels/compare_panel.h"
#include "panels/stage_panel.h"
#include "side_by_side.h"
#include "studio_test_util.h"

using rcnn::api::Stage;

class TeachingTest : public QObject, StudioFixture {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(openWindow());
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() != nullptr, 60000);
  }

  void roiSamplingAndLossesShowTheTrainersStep() {
    // A trained model, so that the RoI losses are not those of noise.
    w->openCheckpoint(QString::fromStdString(rcnn::resource_dir() + "/models/fashion_default.pt"));
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() && !w->trace()->random_weights, 60000);
    w->setStage(Stage::RoiSampling);
    quiesce();
    w->canvas()->fit();
    settle();
    const auto t = w->trace();  // held: later traces replace the context's
    QVERIFY2(t->train.valid, t->train.note.c_str());
    const auto& v = t->train;
    auto* table = w->findChild<QTableWidget*>("roiSampleTable");
    QVERIFY(table);
    QCOMPARE(table->rowCount(), int(v.roi.size()));
    QVERIFY(w->stagePanel()->countsText().contains(QString("Sampled %1 positives").arg(v.roi_fg)));
    QVERIFY(w->grab().save(artifacts + "/roi_sampling.png"));
    // Hovering a sampled positive shows its class target and box-target formula with its own numbers.
    std::vector<rcnn::api::Box> fg, gts;
    std::vector<int> fgIndex;
    for (const auto& s : v.roi)
      if (s.fg) fg.push_back(v.rois[size_t(s.index)].box), fgIndex.push_back(s.index);
    for (const auto& g : t->gt) gts.push_back(g.box);
    std::vector<rcnn::api::Box> others;  // the sampled negatives are hit boxes too
    for (const auto& s : v.roi)
      if (!s.fg) others.push_back(v.rois[size_t(s.index)].box);
    for (const auto& g : gts) others.push_back(g);
    const int i = hoverFirstReachable(fg, others);
    QVERIFY2(i >= 0, "no sampled positive RoI can be hovered");
    QTRY_VERIFY2_WITH_TIMEOUT(w->context()->hover().kind == studio::HitKind::TrainRoi,
                              qPrintable(QString("hover kind %1 index %2, wanted RoI %3")
                                             .arg(int(w->context()->hover().kind))
                                             .arg(w->context()->hover().index)
                                             .arg(fgIndex[size_t(i)])),
                              5000);
    QCOMPARE(w->context()->hover().index, fgIndex[size_t(i)]);
    const auto& s = v.roi[size_t(v.rois[size_t(fgIndex[size_t(i)])].sample)];
    QTRY_VERIFY_WITH_TIMEOUT(w->stagePanel()->formulaText().contains(QString("= %1").arg(s.target[0], 0, 'f', 3)), 5000);
    QVERIFY(w->grab().save(artifacts + "/roi_sampling_hover.png"));

    // Losses: the page's numbers are the trace's, which the core tests hold
    // equal to the trainer's forward_train on this image and seed.
    w->setStage(Stage::Losses);
    settle();
    auto text = [&](const char* name) { return w->findChild<QLabel*>(name)->text(); };
    QCOMPARE(text("lossRpnObj"), QString::number(v.rpn_obj, 'f', 4));
    QCOMPARE(text("lossRpnBox"), QString::number(v.rpn_box, 'f', 4));
    QCOMPARE(text("lossRoiCls"), QString::number(v.roi_cls, 'f', 4));
    QCOMPARE(text("lossRoiBox"), QString::number(v.roi_box, 'f', 4));
    QCOMPARE(text("lossTotal"), QString::number(v.total(), 'f', 4));
    // ...and the trainer's forward_train, run apart from the studio on this image, GT and seed, agrees.
    const auto& ds = w->context()->dataset();
    const auto& rec = ds.images[size_t(w->datasetPanel()->currentIndex())];
    const auto tl = rcnn::api::trainer_losses(rcnn::resource_dir() + "/models/fashion_default.pt", rec.path,
                                              rec.objects, t->sample_seed);
    const std::pair<const char*, double> pairs[] = {
        {"rpn_obj", v.rpn_obj}, {"rpn_box", v.rpn_box}, {"roi_cls", v.roi_cls}, {"roi_box", v.roi_box}};
    for (const auto& [k, mine] : pairs)
      QVERIFY2(std::abs(tl.at(k) - mine) <= 1e-6 * std::max(1.0, std::abs(mine)),
               qPrintable(QString("%1: trainer %2, studio %3").arg(k).arg(tl.at(k), 0, 'g', 9).arg(mine, 0, 'g', 9)));
    QVERIFY(w->grab().save(artifacts + "/losses.png"));
    // Hover a sampled RoI: its cross-entropy term with its numbers.
    std::vector<rcnn::api::Box> all;
    for (const auto& x : v.roi) all.push_back(v.rois[size_t(x.index)].box);
    const int j = hoverFirstReachable(all, gts);
    QVERIFY(j >= 0);
    QTRY_VERIFY_WITH_TIMEOUT(w->context()->hover().kind == studio::HitKind::TrainRoi, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(
        w->stagePanel()->formulaText().contains(QString("= %1 →").arg(v.roi[size_t(j)].cls, 0, 'f', 4)), 5000);
    // No stale hover: with the mouse resting on that RoI, switching to Predictions picks the hover from the
    // boxes Predictions draws (a training RoI is not one of them), and its formula is no longer the loss term.
    const QString lossFormula = w->stagePanel()->formulaText();
    w->setStage(Stage::Predictions);
    settle();
    QTRY_VERIFY_WITH_TIMEOUT(w->context()->hover().kind != studio::HitKind::TrainRoi, 5000);
    const auto hk = w->context()->hover().kind;
    QVERIFY2(hk == studio::HitKind::None || hk == studio::HitKind::Gt || hk == studio::HitKind::Detection,
             qPrintable(QString("hover kind %1 on Predictions").arg(int(hk))));
    QVERIFY(w->stagePanel()->formulaText() != lossFormula);
    w->setStage(Stage::Losses);
    settle();
    QTRY_VERIFY_WITH_TIMEOUT(w->context()->hover().kind == studio::HitKind::TrainRoi, 5000);  // and back
    // A re-roll draws new RoI samples; the losses follow.
    const auto before = v.roi.size() ? v.roi.back().index : -1;
    const double total = v.total();
    w->setStage(Stage::RoiSampling);
    const int n = w->tracesReceived();
    QTest::mouseClick(w->findChild<QPushButton*>("roiRerollButton"), Qt::LeftButton);
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->train.valid && (w->trace()->train.roi.back().index != before ||
                                                         w->trace()->train.total() != total),
                             10000);
  }

  void refinementArrowsExplainTheDecodeWithNumbers() {
    // Still the trained model of the test before.
    auto box = [](const rcnn::api::Box& b) {
      return QString("clipped: (%1, %2, %3, %4)")
          .arg(b.x1, 0, 'f', 1)
          .arg(b.y1, 0, 'f', 1)
          .arg(b.x2, 0, 'f', 1)
          .arg(b.y2, 0, 'f', 1);
    };
    w->setStage(Stage::Proposals);
    quiesce();
    auto* rpn = w->findChild<QCheckBox*>("rpnRefineArrows");
    QVERIFY(rpn);
    rpn->setChecked(true);
    w->canvas()->fit();
    settle();
    auto t = w->trace();
    std::vector<rcnn::api::Box> pos;
    for (size_t k = 0; k < t->anchors.size(); ++k)
      if (t->anchor_label[k] == rcnn::api::AnchorLabel::Positive) pos.push_back(t->anchors[k]);
    const int k = hoverAnyOf(pos, studio::HitKind::Anchor);
    QVERIFY2(k >= 0, "no positive anchor can be hovered");
    QCOMPARE(t->anchor_label[size_t(k)], rcnn::api::AnchorLabel::Positive);  // only positives carry arrows
    // The decoded box the formula ends with is the detector's own decode of that anchor (core test BoxRefinement).
    const float one[4] = {1, 1, 1, 1};
    const auto decoded = rcnn::api::apply_deltas(t->anchors[size_t(k)], &t->deltas[size_t(k) * 4], one,
                                                 t->rpn_scale_clamp, t->clip_width, t->clip_height);
    QTRY_VERIFY_WITH_TIMEOUT(w->stagePanel()->formulaText().contains(box(decoded)), 5000);
    QVERIFY(w->grab().save(artifacts + "/refine_rpn.png"));
    rpn->setChecked(false);

    w->setStage(Stage::Predictions);
    auto* roi = w->findChild<QCheckBox*>("roiRefineArrows");
    QVERIFY(roi);
    roi->setChecked(true);
    settle();
    std::vector<rcnn::api::Box> dets;
    for (const auto& d : t->detections) dets.push_back(d.box);
    QVERIFY(!dets.empty());
    const int j = hoverAnyOf(dets, studio::HitKind::Detection);
    QVERIFY(j >= 0);
    // The RoI's class box, decoded from its deltas, is the detection's box.
    QTRY_VERIFY_WITH_TIMEOUT(w->stagePanel()->formulaText().contains(box(t->detections[size_t(j)].box)), 5000);
    QVERIFY(w->grab().save(artifacts + "/refine_roi.png"));
    roi->setChecked(false);
  }

  void featureMapShowsTheSamplePointsTapsWithNumbers() {
    w->setStage(Stage::RoIAlign);
    w->context()->setSelectedRoi(0);
    auto* mode = w->findChild<QComboBox*>("fmapMode");
    auto* channel = w->findChild<QSpinBox*>("fmapChannel");
    QVERIFY(mode && channel);
    mode->setCurrentIndex(3);  // one channel
    const int n = w->tracesReceived();
    channel->setValue(5);
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->feature_channel == 5, 10000);
    quiesce();
    const auto t = w->trace();
    QCOMPARE(t->recomputed, (std::vector<std::string>{"feature_maps"}));  // a channel change refills only the images
    w->canvas()->fit();
    settle();
    const auto& roi = t->proposals[size_t(t->kept[0])].box;  // zoom in around RoI 0
    QTest::mouseMove(w->canvas(), w->canvas()->toWidget(QPointF(0.5 * (roi.x1 + roi.x2), 0.5 * (roi.y1 + roi.y2))).toPoint());
    settle();
    w->canvas()->zoomBy(2.0);
    settle();
    // The middle sample point of RoI 0, hovered where the canvas draws it.
    const int first = t->roi_point_offset[0] / 2, count = (t->roi_point_offset[1] - t->roi_point_offset[0]) / 2;
    const int k = first + count / 2 + 1;
    auto* c = w->canvas();
    const QPoint p = c->toWidget(QPointF(t->roi_points[size_t(2 * k)], t->roi_points[size_t(2 * k + 1)])).toPoint();
    QVERIFY2(c->rect().contains(p), "the sample point is off the canvas");
    QTest::mouseMove(c, p + QPoint(1, 0));
    settle();
    QTest::mouseMove(c, p);
    settle();
    QTRY_VERIFY_WITH_TIMEOUT(w->context()->hover().kind == studio::HitKind::SamplePoint, 5000);
    const int h = w->context()->hover().index;
    QVERIFY(std::abs(h - k) <= 1);  // the pixel the mouse lands on may round to a neighbour
    // Its feature-map x, and the weighted sum of its four taps (the kernel's make_tap) on channel 5.
    const auto& m = t->feature_maps[size_t(t->roi_level[0])];
    const float fx = t->roi_points_fmap[size_t(2 * h)], fy = t->roi_points_fmap[size_t(2 * h + 1)];
    const auto tap = rcnn::api::roi_align_tap(m.height, m.width, fx, fy);
    double sum = 0;
    for (int q = 0; q < 4; ++q) sum += tap.weight[q] * m.channel[size_t(tap.cell[q])];
    const QString f = w->stagePanel()->formulaText();
    QVERIFY2(f.contains(QString("= %1").arg(fx, 0, 'f', 3)), qPrintable(f));
    QVERIFY2(f.contains(QString("Σ w·f = %1").arg(sum, 0, 'f', 3)), qPrintable(f));
    QVERIFY(f.contains(QString("w %1").arg(tap.weight[0], 0, 'f', 3)));
    QVERIFY(w->grab().save(artifacts + "/feature_map.png"));
    mode->setCurrentIndex(0);
  }

  void compareSetsTwoModelsSideBySide() {
    // A: the bundled model (opened by the tests above); B: random weights of the same config.
    QVERIFY(!w->trace()->random_weights);
    auto* cp = w->comparePanel();
    w->findChild<QDockWidget*>("Compare")->raise();
    cp->setOther("");
    cp->run();
    QTRY_VERIFY_WITH_TIMEOUT(!cp->running(), 600000);
    const auto* r = cp->report();
    QVERIFY(r);
    QVERIFY2(r->a.map50 > r->b.map50 + 0.3, qPrintable(QString("A %1 B %2").arg(r->a.map50).arg(r->b.map50)));
    QVERIFY(!r->found_by_a_only.empty());
    auto* classes = cp->findChild<QTableWidget*>("compareClasses");
    auto* gts = cp->findChild<QTableWidget*>("compareGts");
    auto* images = cp->findChild<QTableWidget*>("compareImages");
    QCOMPARE(classes->rowCount(), int(r->a.class_names.size()));
    QCOMPARE(gts->rowCount(), int(r->found_by_a_only.size() + r->found_by_b_only.size()));
    QCOMPARE(images->rowCount(), int(r->a.image_paths.size()));
    // Most different image first.
    auto diff = [&](int row) {
      auto v = [&](int c) { return images->item(row, c)->data(Qt::DisplayRole).toInt(); };
      return std::abs(v(2) - v(1)) + std::abs(v(4) - v(3));
    };
    for (int row = 1; row < images->rowCount(); ++row) QVERIFY(diff(row - 1) >= diff(row));
    QVERIFY(diff(0) > 0);
    settle();
    QVERIFY(w->grab().save(artifacts + "/compare.png"));
    // Double-clicking a GT only A detects opens its image at A's Predictions stage with the GT selected.
    int row = 0;
    while (row < gts->rowCount() && gts->item(row, 2)->text() != "A only") ++row;
    QVERIFY(row < gts->rowCount());
    const auto& c = r->found_by_a_only[size_t(gts->item(row, 0)->data(Qt::UserRole).toInt())];
    const int n = w->tracesReceived();
    emit gts->cellDoubleClicked(row, 0);
    waitNewTrace(n);
    QTRY_COMPARE_WITH_TIMEOUT(w->stage(), Stage::Predictions, 10000);
    QCOMPARE(w->context()->selectedGt(), c.index_a);
    w->findChild<QDockWidget*>("Stage")->raise();
  }

  void sideBySideFollowsStageZoomAndSaysWhatDiffers() {
    w->setStage(Stage::Predictions);
    w->showSideBySide("");  // B: random weights of the current settings
    auto* side = w->sideBySide();
    QVERIFY(side->isVisible());
    QTRY_VERIFY_WITH_TIMEOUT(side->headerText().contains("this image"), 60000);
    QCOMPARE(side->context().stage(), Stage::Predictions);
    w->setStage(Stage::Proposals);
    QCOMPARE(side->context().stage(), Stage::Proposals);
    // Zoom and pan are shared: an image point lands on the same pixel of both canvases.
    w->canvas()->zoomBy(1.5);
    settle();
    QCOMPARE(side->canvas()->toWidget({10, 20}), w->canvas()->toWidget({10, 20}));
    // The header's counts are the two traces' funnels on this image.
    const auto ta = w->trace();
    const auto tb = side->context().trace();
    QCOMPARE(ta->gt.size(), tb->gt.size());
    int da = 0, db = 0, n = 0;
    QStringList lost;
    for (size_t g = 0; g < ta->gt.size(); ++g) {
      if (ta->gt[g].funnel == rcnn::api::Funnel::Ignored) continue;
      ++n;
      const bool a = ta->gt[g].funnel == rcnn::api::Funnel::Detected, b = tb->gt[g].funnel == rcnn::api::Funnel::Detected;
      da += a;
      db += b;
      if (a && !b) lost << QString("B lost at %1").arg(rcnn::api::funnel_name(tb->gt[g].funnel));
    }
    QVERIFY2(side->headerText().contains(QString("A detects %1 of %2 GTs, B %3").arg(da).arg(n).arg(db)),
             qPrintable(side->headerText()));
    for (const auto& l : lost) QVERIFY(side->headerText().contains(l));
    w->setStage(Stage::Predictions);
    settle();
    QVERIFY(w->grab().save(artifacts + "/side_by_side.png"));
    // The next image reaches B too.
    const int nb = side->tracesReceived();
    QTest::keyClick(w, Qt::Key_Right);
    QTRY_VERIFY_WITH_TIMEOUT(side->tracesReceived() > nb, 60000);
    w->hideSideBySide();
    QVERIFY(!side->isVisible());
  }

  void cleanupTestCase() { delete w; }
};

QTEST_MAIN(TeachingTest)
#include "test_teaching.moc"
