// The studio driven with QTest under Xvfb: open the default dataset, step
// through all stages (a screenshot of each is saved as a test artifact),
// check that parameter changes change what is shown, train and stop.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QtTest>

#include "config/config_fields.h"
#include "api/dataset.h"
#include "main_window.h"
#include "panels/analysis_panel.h"
#include "panels/compare_panel.h"
#include "panels/dataset_panel.h"
#include "side_by_side.h"
#include "panels/coverage_panel.h"
#include "panels/params_panel.h"
#include "studio_context.h"
#include <QTableWidget>
#include "panels/stage_panel.h"
#include "panels/training_panel.h"

using rcnn::api::Stage;

class StudioTest : public QObject {
  Q_OBJECT
  studio::MainWindow* w = nullptr;
  QString artifacts;

  void waitNewTrace(int before) { QTRY_VERIFY_WITH_TIMEOUT(w->tracesReceived() > before, 60000); }
  // Waits until no new trace has arrived for 600 ms (a checkpoint load can
  // bring more than one).
  void quiesce() {
    int n = -1;
    for (int i = 0; i < 100 && n != w->tracesReceived(); ++i) {
      n = w->tracesReceived();
      QTest::qWait(600);
    }
  }
  void settle() {
    for (int i = 0; i < 5; ++i) {
      w->canvas()->update();
      QTest::qWait(30);
    }
  }

 private slots:
  void initTestCase() {
    qApp->setProperty("rcnn_no_dialogs", true);
    artifacts = qEnvironmentVariable("RCNN_ARTIFACTS", QDir::currentPath() + "/artifacts");
    QDir().mkpath(artifacts);
    w = new studio::MainWindow;
    w->resize(1500, 950);
    w->show();
    QVERIFY(QTest::qWaitForWindowExposed(w));
    QApplication::setActiveWindow(w);
    QVERIFY(w->openDataset(QString::fromStdString(rcnn::api::default_dataset_dir()), "val"));
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() != nullptr, 60000);
    QCOMPARE(int(w->trace()->levels.size()), 3);
    QVERIFY(!w->trace()->gt.empty());
  }

  void stepsThroughEveryStage() {
    for (int s = 0; s < rcnn::api::kNumStages; ++s) {
      QTest::keyClick(w, Qt::Key(Qt::Key_1 + s));
      QCOMPARE(int(w->stage()), s);
      settle();
      QVERIFY2(w->grab().save(QString("%1/stage_%2.png").arg(artifacts).arg(s + 1)), "screenshot");
      QVERIFY(!w->stagePanel()->countsText().isEmpty());
    }
    w->setStage(Stage::Matching);
    settle();
    QVERIFY(w->canvas()->drawnPrimitives() > 0);
  }

  void hoverShowsTheFormulaWithNumbers() {
    w->setStage(Stage::Anchors);
    auto* c = w->canvas();
    c->fit();
    QTest::mouseMove(c, QPoint(c->width() / 2, c->height() / 2));
    settle();
    QTest::mouseMove(c, QPoint(c->width() / 2 + 3, c->height() / 2 + 2));
    settle();
    // The hovered anchor's own numbers must appear: its box, as the formula's last line.
    QTRY_VERIFY_WITH_TIMEOUT(w->context()->hover().kind == studio::HitKind::Anchor, 5000);
    const int k = w->context()->hover().index;
    const auto& a = w->trace()->anchors[size_t(k)];
    const QString box = QString("anchor = (%1, %2, %3, %4)")
                            .arg(a.x1, 0, 'f', 1)
                            .arg(a.y1, 0, 'f', 1)
                            .arg(a.x2, 0, 'f', 1)
                            .arg(a.y2, 0, 'f', 1);
    QTRY_VERIFY_WITH_TIMEOUT(w->stagePanel()->formulaText().contains(box), 5000);
    QVERIFY(w->stagePanel()->formulaText().contains("cell (i="));
    QVERIFY(w->grab().save(artifacts + "/anchors_hover.png"));
  }

  // Moves the mouse onto a point of the first box in `boxes` that the
  // canvas's hover rule (the smallest hit box under the mouse, GT included)
  // resolves to that box; returns its index, or -1.
  int hoverFirstReachable(const std::vector<rcnn::api::Box>& boxes, const std::vector<rcnn::api::Box>& others) {
    auto* c = w->canvas();
    for (size_t i = 0; i < boxes.size(); ++i) {
      const auto& b = boxes[i];
      const float area = b.width() * b.height();
      for (int gy = 1; gy < 8; ++gy)
        for (int gx = 1; gx < 8; ++gx) {
          const float x = b.x1 + b.width() * gx / 8.f, y = b.y1 + b.height() * gy / 8.f;
          auto covers = [&](const rcnn::api::Box& o) {
            return x >= o.x1 && x <= o.x2 && y >= o.y1 && y <= o.y2 && o.width() * o.height() <= area;
          };
          bool mine = true;
          for (size_t j = 0; j < boxes.size() && mine; ++j) mine = j == i || !covers(boxes[j]);
          for (size_t j = 0; j < others.size() && mine; ++j) mine = !covers(others[j]);
          if (!mine) continue;
          const QPoint p = c->toWidget(QPointF(x, y)).toPoint();
          QTest::mouseMove(c, p + QPoint(1, 1));  // a move the canvas sees, then the point
          settle();
          QTest::mouseMove(c, p);
          settle();
          return int(i);
        }
    }
    return -1;
  }

  // Moves the mouse over the centres of `boxes` until the canvas hovers an
  // item of `kind`; returns its index, or -1.
  int hoverAnyOf(const std::vector<rcnn::api::Box>& boxes, studio::HitKind kind) {
    auto* c = w->canvas();
    // The centre, then points near the corners (inside the box, often outside smaller boxes on top).
    const double fx[] = {0.5, 0.1, 0.9, 0.1, 0.9}, fy[] = {0.5, 0.1, 0.1, 0.9, 0.9};
    for (size_t i = 0; i < boxes.size() && i < 40; ++i)
      for (int q = 0; q < 5; ++q) {
        const auto& b = boxes[i];
        const QPoint p = c->toWidget(QPointF(b.x1 + fx[q] * b.width(), b.y1 + fy[q] * b.height())).toPoint();
        QTest::mouseMove(c, p + QPoint(1, 1));
        QTest::qWait(20);
        QTest::mouseMove(c, p);
        QTest::qWait(20);
        if (w->context()->hover().kind == kind) return w->context()->hover().index;
      }
    return -1;
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
    QVERIFY(w->grab().save(artifacts + "/losses.png"));
    // Hover a sampled RoI: its cross-entropy term with its numbers.
    std::vector<rcnn::api::Box> all;
    for (const auto& x : v.roi) all.push_back(v.rois[size_t(x.index)].box);
    const int j = hoverFirstReachable(all, gts);
    QVERIFY(j >= 0);
    QTRY_VERIFY_WITH_TIMEOUT(w->context()->hover().kind == studio::HitKind::TrainRoi, 5000);
    QTRY_VERIFY_WITH_TIMEOUT(
        w->stagePanel()->formulaText().contains(QString("= %1 →").arg(v.roi[size_t(j)].cls, 0, 'f', 4)), 5000);
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

  void raisingIouHiLowersThePositiveCount() {
    w->setStage(Stage::Matching);
    // Without low-quality matching the count follows the threshold alone.
    int n = w->tracesReceived();
    QVERIFY(w->paramsPanel()->setValue("rpn.allow_low_quality_matches", "false"));
    QVERIFY(w->paramsPanel()->setValue("rpn.iou_hi", "0.5"));
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->iou_hi == 0.5, 10000);
    const int before = w->stagePanel()->positiveCount();
    QVERIFY(before > 0);
    QVERIFY(w->stagePanel()->countsText().contains(QString("%1 positive").arg(before)));
    n = w->tracesReceived();
    QVERIFY(w->paramsPanel()->setValue("rpn.iou_hi", "0.8"));
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->iou_hi == 0.8, 10000);
    QVERIFY2(w->stagePanel()->positiveCount() < before, qPrintable(w->stagePanel()->countsText()));
    // An invalid value is refused with a message naming the field; the last good config stays.
    QVERIFY(!w->paramsPanel()->setValue("rpn.iou_lo", "0.95"));
    QCOMPARE(w->paramsPanel()->config().rpn.iou_lo, w->trace()->iou_lo);
    QVERIFY(w->paramsPanel()->setValue("rpn.iou_hi", "0.7"));
  }

  void parametersPanelShowsEveryFieldOfTheTable() {
    for (const auto& f : rcnn::config_fields()) {
      auto* wgt = w->paramsPanel()->findChild<QWidget*>(QString::fromStdString(f.key));
      QVERIFY2(wgt, f.key.c_str());
      QVERIFY2(wgt->toolTip().startsWith(QString::fromStdString(f.doc)), f.key.c_str());
      QCOMPARE(wgt->isEnabled(), !f.from_model);
    }
    auto* dock = w->findChild<QDockWidget*>("Parameters");
    QVERIFY(dock);
    dock->raise();
    settle();
    QVERIFY(w->grab().save(artifacts + "/parameters.png"));
    w->findChild<QDockWidget*>("Stage")->raise();
  }

  void rerollChangesTheSample() {
    w->setStage(Stage::Sampling);
    auto before = w->trace()->sampled_bg;
    const int n = w->tracesReceived();
    auto* reroll = w->findChild<QPushButton*>("rerollButton");
    QVERIFY(reroll);
    QTest::mouseClick(reroll, Qt::LeftButton);
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->sampled_bg != before, 10000);
  }

  void postProcessingDoesNotRerunTheBackbone() {
    w->setStage(Stage::Predictions);
    const int n = w->tracesReceived();
    QVERIFY(w->paramsPanel()->setValue("roi.score_thresh", "0.3"));
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->score_thresh == 0.3, 10000);
    const auto& rc = w->trace()->recomputed;
    auto has = [&](const char* s) { return std::find(rc.begin(), rc.end(), std::string(s)) != rc.end(); };
    QVERIFY(has("predictions"));
    QVERIFY(!has("backbone+rpn_head"));
    QVERIFY(!has("image"));
    QVERIFY(!has("roi_align+head"));
  }

  void analysisPanelAccountsForEveryGtAndOpensALostOne() {
    auto* ap = w->analysisPanel();
    w->findChild<QDockWidget*>("Analysis")->raise();
    ap->run();
    QTRY_VERIFY_WITH_TIMEOUT(!ap->running(), 120000);
    QVERIFY(ap->report());
    const auto& r = *ap->report();
    int total = 0;
    for (int v : r.funnel) total += v;
    QCOMPARE(total, int(r.gts.size()));
    QVERIFY(r.gts.size() > 0);
    settle();
    QVERIFY(w->grab().save(artifacts + "/analysis.png"));
    // Double-click a lost GT: its image opens at the stage that lost it, with it selected.
    auto* lost = ap->lostTable();
    QVERIFY2(lost->rowCount() > 0, "the bundled model at score 0.3 misses some GT of the val split");
    const int rec = lost->item(0, 0)->data(Qt::UserRole).toInt();
    const auto& g = r.gts[size_t(rec)];
    const int n = w->tracesReceived();
    // A test before may have left this very image open: then no new trace is needed (or sent).
    const int cur = w->datasetPanel()->currentIndex();
    const bool open = cur >= 0 && w->context()->dataset().images[size_t(cur)].path == r.image_paths[size_t(g.image)];
    emit lost->cellDoubleClicked(0, 0);
    if (!open) waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->image_width > 0, 10000);
    QCOMPARE(w->context()->selectedGt(), g.index);
    QVERIFY(int(w->stage()) >= int(Stage::Matching));
    QTRY_COMPARE_WITH_TIMEOUT(int(w->trace()->gt[size_t(g.index)].funnel), int(g.stage), 20000);
    w->findChild<QDockWidget*>("Stage")->raise();
  }

  void anchorsDatasetPanelCoversTheSplitLiveAndAppliesSuggestions() {
    auto* cp = w->coveragePanel();
    w->findChild<QDockWidget*>("Anchors (dataset)")->raise();
    cp->run();
    QTRY_VERIFY_WITH_TIMEOUT(!cp->busy() && cp->report(), 60000);
    const double before = cp->report()->all.mean_positives();
    // Live: raising the positive threshold recomputes by itself and lowers positives per GT.
    auto* first = cp->report();
    QVERIFY(w->paramsPanel()->setValue("rpn.iou_hi", "0.85"));
    QTRY_VERIFY_WITH_TIMEOUT(cp->report() != first && !cp->busy(), 60000);
    QCOMPARE(cp->report()->iou_hi, 0.85);
    QVERIFY(cp->report()->all.mean_positives() < before);
    // ... and so does a change of the anchors' size.
    const double bpr = cp->report()->all.bpr_no_lq();
    auto* second = cp->report();
    QVERIFY(w->paramsPanel()->setValue("anchors.stride_scale", "6"));
    QTRY_VERIFY_WITH_TIMEOUT(cp->report() != second && !cp->busy(), 60000);
    QVERIFY(cp->report()->all.bpr_no_lq() != bpr);
    QCOMPARE(cp->report()->levels[0].sizes[0], 48.f);  // 8 px stride x 6
    QVERIFY(w->paramsPanel()->setValue("anchors.stride_scale", "2"));
    settle();
    QVERIFY(w->grab().save(artifacts + "/anchors_dataset.png"));
    const QString dir = artifacts + "/coverage_plots";
    QVERIFY(cp->exportPlots(dir));
    for (const char* f : {"gt_sizes.png", "gt_sizes.svg", "bpr_by_size.svg", "positives_per_gt.png"})
      QVERIFY2(QFile(dir + "/" + f).size() > 200, f);
    // A GT no anchor covers opens at the Matching stage, selected, with no positive anchor there too.
    QVERIFY(w->paramsPanel()->setValue("rpn.allow_low_quality_matches", "false"));
    QTRY_VERIFY_WITH_TIMEOUT(!cp->report()->low_quality && !cp->busy(), 60000);
    auto* none = cp->uncoveredTable();
    QVERIFY2(none->rowCount() > 0, "at hi 0.85 without the low-quality rule some GT have no positive anchor");
    const auto& g = cp->report()->gts[size_t(none->item(0, 0)->data(Qt::UserRole).toInt())];
    const int n = w->tracesReceived();
    emit none->cellDoubleClicked(0, 0);
    waitNewTrace(n);
    QCOMPARE(w->stage(), Stage::Matching);
    QCOMPARE(w->context()->selectedGt(), g.index);
    QTRY_COMPARE_WITH_TIMEOUT(w->trace()->gt[size_t(g.index)].positive_anchors, 0, 20000);
    // Suggestions: applying one sets the anchors in the Parameters panel.
    cp->setSearch(30, 3);  // a small search: 30 images, at most 3 anchors per location
    cp->suggest();
    QTRY_VERIFY_WITH_TIMEOUT(!cp->busy() && cp->suggestions(), 120000);
    for (const auto& s : cp->suggestions()->best) QVERIFY(s.per_location <= 3);
    const auto best = cp->suggestions()->best.at(0);
    qApp->setProperty("rcnn_confirm_shape_change", true);
    cp->applySuggestion(0);
    QCOMPARE(w->paramsPanel()->config().anchors.stride_scale, best.stride_scale);
    QCOMPARE(w->paramsPanel()->config().anchors.scales_per_octave, best.scales_per_octave);
    QCOMPARE(w->paramsPanel()->config().anchors.aspect_ratios, best.aspect_ratios);
    // Restore what later tests expect.
    w->openCheckpoint(QString::fromStdString(rcnn::resource_dir()) + "/models/fashion_default.pt");
    QTRY_VERIFY_WITH_TIMEOUT(!w->trace()->random_weights, 20000);
    w->findChild<QDockWidget*>("Stage")->raise();
  }

  void keyboardNavigationChangesTheImage() {
    const int n = w->tracesReceived();
    auto before = w->trace()->input_rgb;
    QTest::keyClick(w, Qt::Key_Right);
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->input_rgb != before, 10000);
  }

  void badInputIsReportedAndTheAppKeepsWorking() {
    QVERIFY(!w->openDataset("/nonexistent/dataset"));
    QVERIFY(w->lastError().contains("/nonexistent/dataset"));
    const int n = w->tracesReceived();
    w->openCheckpoint("/nonexistent/model.pt");
    QTRY_VERIFY_WITH_TIMEOUT(w->lastError().contains("model.pt"), 20000);
    QVERIFY(w->trace() != nullptr);
    QTest::keyClick(w, Qt::Key_Right);
    waitNewTrace(n);
  }

  void shapeChangeAsksBeforeDroppingTheCheckpoint() {
    QTRY_VERIFY_WITH_TIMEOUT(!w->trace()->random_weights, 20000);  // the bundled checkpoint
    auto* label = w->findChild<QLabel*>("modelLabel");
    const int fc = w->paramsPanel()->config().roi.fc_dim;
    // Declined: nothing changes, the panel says why.
    qApp->setProperty("rcnn_confirm_shape_change", false);
    QVERIFY(!w->paramsPanel()->setValue("roi.fc_dim", QString::number(fc + 32)));
    QCOMPARE(w->paramsPanel()->config().roi.fc_dim, fc);
    QTest::qWait(300);
    QVERIFY(!w->trace()->random_weights);
    QVERIFY(!label->text().contains("RANDOM"));
    // Accepted: random weights, and the status bar and the trace say so.
    qApp->setProperty("rcnn_confirm_shape_change", true);
    const int n = w->tracesReceived();
    QVERIFY(w->paramsPanel()->setValue("roi.fc_dim", QString::number(fc + 32)));
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->random_weights, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(label->text().contains("RANDOM"), 5000);
    w->setStage(Stage::Predictions);
    settle();
    QVERIFY(w->grab().save(artifacts + "/random_after_shape_change.png"));
    // Back to the bundled model for the tests that follow.
    w->openCheckpoint(QString::fromStdString(rcnn::resource_dir()) + "/models/fashion_default.pt");
    QTRY_VERIFY_WITH_TIMEOUT(!w->trace()->random_weights, 20000);
  }

  void torchvisionPresetShowsItsOwnOptionsAndStages() {
    // A torchvision preset (random weights): the Parameters panel shows its
    // options under torchvision's names and hides the seed's; the trace has
    // five levels and a non-square input (the 224² image goes to 800 px).
    auto* pp = w->paramsPanel();
    const int n = w->tracesReceived();
    pp->loadPreset("torchvision_resnet50_fpn");
    waitNewTrace(n);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->torchvision, 60000);
    auto visible = [&](const char* key) {
      auto* wd = pp->findChild<QWidget*>(key);
      return wd && wd->isVisibleTo(pp);
    };
    QVERIFY(visible("torchvision.rpn_nms_thresh"));
    QVERIFY(visible("torchvision.anchor_sizes"));
    QVERIFY(!visible("rpn.iou_hi"));
    QCOMPARE(int(w->trace()->levels.size()), 5);
    QCOMPARE(w->trace()->input_height, 800);
    // A torchvision option re-runs from the proposals on, through the panel.
    const int n2 = w->tracesReceived();
    QVERIFY(pp->setValue("torchvision.box_score_thresh", "0.2"));
    waitNewTrace(n2);
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->score_thresh == 0.2, 30000);
    QCOMPARE(w->trace()->recomputed, std::vector<std::string>{"predictions"});
    w->setStage(Stage::Anchors);
    settle();
    QVERIFY(w->grab().save(artifacts + "/torchvision_anchors.png"));
    // Back to the seed's preset and the bundled model.
    pp->loadPreset("default");
    QTRY_VERIFY_WITH_TIMEOUT(visible("rpn.iou_hi") && !visible("torchvision.rpn_nms_thresh"), 10000);
    w->openCheckpoint(QString::fromStdString(rcnn::resource_dir()) + "/models/fashion_default.pt");
    QTRY_VERIFY_WITH_TIMEOUT(!w->trace()->random_weights && !w->trace()->torchvision, 30000);
  }

  void exportsPngAndJson() {
    const QString png = artifacts + "/export.png", json = artifacts + "/trace.json";
    w->exportPng(png);
    w->exportTrace(json);
    QVERIFY(QFile(png).size() > 1000);
    QVERIFY(QFile(json).size() > 1000);
  }

  void trainStartAndStop() {
    auto* tp = w->trainingPanel();
    tp->setIterations(200);
    auto* name = w->findChild<QLineEdit*>("runName");
    name->setText(QString("ui-test-%1").arg(QCoreApplication::applicationPid()));
    w->canvas()->resetFrameStats();
    settle();
    const double idle = w->canvas()->averageFrameMs();
    // The run uses the Parameters panel's edits, as --set overrides of the preset.
    QVERIFY(w->paramsPanel()->setValue("roi.score_thresh", "0.3"));
    QVERIFY(w->paramsPanel()->setValue("rpn.allow_low_quality_matches", "false"));
    const auto ov = tp->overrides();
    auto hasOv = [&](const std::string& kv) { return std::find(ov.begin(), ov.end(), kv) != ov.end(); };
    QVERIFY(hasOv("roi.score_thresh=0.3"));
    QVERIFY(hasOv("rpn.allow_low_quality_matches=false"));
    tp->start(false);
    QVERIFY(tp->running());
    QTRY_VERIFY_WITH_TIMEOUT(tp->logLines() > 3, 120000);
    // The GUI keeps painting while training runs.
    w->canvas()->resetFrameStats();
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < 20; ++i) {
      w->canvas()->update();
      QTest::qWait(20);
    }
    const double busy = w->canvas()->averageFrameMs();
    qInfo("canvas frame time: %.2f ms idle, %.2f ms while training", idle, busy);
    QVERIFY(w->grab().save(artifacts + "/training.png"));
    tp->stop();
    QTRY_VERIFY_WITH_TIMEOUT(!tp->running(), 180000);
    QVERIFY(QFile::exists(tp->runDir() + "/last.pt"));
    QVERIFY(QFile::exists(tp->runDir() + "/metrics.jsonl"));
  }

  void trainTorchvisionPresetWritesAPthFile() {
    // A torchvision preset from the training panel: a run of its own kind
    // (random weights here: the studio has one of our checkpoints open) that
    // writes last.pth (torch.save format) and run.json.
    auto* tp = w->trainingPanel();
    auto* preset = w->findChild<QComboBox*>("trainPreset");
    QVERIFY(preset);
    preset->setCurrentText("torchvision_mobilenet_v3_large_320_fpn");
    tp->setIterations(2);
    w->findChild<QLineEdit*>("runName")->setText(QString("ui-tv-%1").arg(QCoreApplication::applicationPid()));
    tp->start(false);
    QVERIFY(tp->running());
    QTRY_VERIFY_WITH_TIMEOUT(!tp->running(), 300000);
    auto* log = tp->findChild<QPlainTextEdit*>();
    QVERIFY2(QFile::exists(tp->runDir() + "/last.pth"), qPrintable(log ? log->toPlainText().right(600) : tp->runDir()));
    QVERIFY(QFile::exists(tp->runDir() + "/run.json"));
    QVERIFY(!QFile::exists(tp->runDir() + "/last.pt"));
  }

  void cleanupTestCase() { delete w; }
};

QTEST_MAIN(StudioTest)
#include "test_studio.moc"
