// The studio driven with QTest under Xvfb: open the default dataset, step
// through all stages (a screenshot of each is saved as a test artifact),
// check that parameter changes change what is shown, train and stop.
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QtTest>
#include <filesystem>

#include "api/dataset.h"
#include "api/devices.h"
#include "config/config_fields.h"
#include "image_list.h"
#include "main_window.h"
#include "panels/analysis_panel.h"
#include "panels/coverage_panel.h"
#include "panels/dataset_panel.h"
#include "panels/eval_panel.h"
#include "panels/params_panel.h"
#include "panels/stage_panel.h"
#include "panels/training_panel.h"
#include "studio_context.h"
#include "studio_test_util.h"
#include "timing_text.h"

using rcnn::api::Stage;

class StudioTest : public QObject, StudioFixture {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(openWindow());
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() != nullptr, 60000);
    QCOMPARE(int(w->trace()->levels.size()), 3);
    QVERIFY(!w->trace()->gt.empty());
  }

  void statusBarShowsTheTracesRateAndTheMeasuredPeak() {
    // The live window's first trace (every stage ran): its FLOPs, counted while it ran, and the peak
    // measured after it. First in the suite, before any edit re-runs only part of the pipeline.
    QTRY_VERIFY_WITH_TIMEOUT(w->timingText().contains("of a measured"), 30000);
    const auto t = w->trace();
    QVERIFY(t->flops > 0);
    const QString text = w->timingText();
    QVERIFY2(text.contains(QString("%1 GFLOP at").arg(t->flops / 1e9, 0, 'f', 2)), qPrintable(text));
    const double peak = rcnn::api::measured_peak_gflops(t->precision);  // cached: the value the window got
    QVERIFY(peak > 0);
    QVERIFY2(text.contains(
                 QString("measured %1 GFLOP/s %2 peak").arg(peak, 0, 'f', 0).arg(QString::fromStdString(t->precision))),
             qPrintable(text));
  }

  void stepsThroughEveryStage() {
    for (int s = 0; s < rcnn::api::kNumStages; ++s) {
      QTest::keyClick(w, Qt::Key(Qt::Key_1 + s));
      QCOMPARE(int(w->stage()), s);
      settle();
      QVERIFY2(w->grab().save(QString("%1/stage_%2.png").arg(artifacts).arg(s + 1)), "screenshot");
      QVERIFY(!w->stagePanel()->countsText().isEmpty());
      if (Stage(s) == Stage::RoIAlign) {  // the gallery: one 40 x 40 crop per kept proposal
        auto* gallery = w->findChild<studio::ImageList*>("roiGallery");
        QVERIFY(gallery);
        QCOMPARE(gallery->count(), int(w->trace()->kept.size()));
        QVERIFY(gallery->count() > 0);
        for (int r = 0; r < gallery->count(); ++r) QCOMPARE(gallery->image(r).size(), QSize(40, 40));
      }
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

  void evaluationPanelShowsTheCocoSummary() {
    auto* ep = w->evalPanel();
    w->findChild<QDockWidget*>("Evaluation")->raise();
    ep->run();
    QTRY_VERIFY_WITH_TIMEOUT(!ep->running(), 120000);
    auto* coco = w->findChild<QTableWidget*>("evalCoco");
    QVERIFY(coco);
    QCOMPARE(coco->columnCount(), 9);
    const auto& c = ep->report().coco;
    const double v[] = {c.AP, c.AP50, c.AP75, c.APs, c.APm, c.APl, c.AR1, c.AR10, c.AR100};
    const char* keys[] = {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"};
    for (int k = 0; k < 9; ++k) {
      QCOMPARE(coco->horizontalHeaderItem(k)->text(), QString(keys[k]));
      QCOMPARE(coco->item(0, k)->text(), v[k] < 0 ? QString("n/a") : QString::number(v[k], 'f', 4));
    }
    QVERIFY(c.AP50 >= 0);
    // The VOC figures say whose rules they follow, and so does the COCO row.
    const QString summary = w->findChild<QLabel*>("evalSummary")->text();
    QVERIFY2(summary.contains("VOC-matching mAP@[.5:.95]"), qPrintable(summary));
    QVERIFY2(summary.contains("COCO's rules"), qPrintable(summary));
    settle();
    QVERIFY(w->grab().save(artifacts + "/eval_coco.png"));
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
    // The Anchors (dataset) panel covers the split with torchvision's anchors (five levels, each image's own
    // grid), and a suggestion sets torchvision.anchor_sizes / aspect_ratios, asking once when the RPN head's
    // shape (anchors per location) changes.
    QVERIFY(pp->setValue("torchvision.min_size", "320"));
    QVERIFY(pp->setValue("torchvision.max_size", "480"));
    auto* cp = w->coveragePanel();
    w->findChild<QDockWidget*>("Anchors (dataset)")->raise();
    cp->run();
    QTRY_VERIFY_WITH_TIMEOUT(!cp->busy() && cp->report() && cp->report()->levels.size() == 5, 120000);
    QVERIFY(cp->report()->all.gts > 0);
    cp->setSearch(10, 9);
    cp->suggest();
    QTRY_VERIFY_WITH_TIMEOUT(!cp->busy() && cp->suggestions(), 180000);
    const auto sug = cp->suggestions()->best.at(0);
    QCOMPARE(sug.settings.at(0).first, std::string("torchvision.anchor_sizes"));
    settle();
    QVERIFY(w->grab().save(artifacts + "/torchvision_anchor_suggestions.png"));
    qApp->setProperty("rcnn_confirm_shape_change", true);
    auto applied = pp->config();
    cp->applySuggestion(0);
    for (const auto& [key, value] : sug.settings) rcnn::apply_override(applied, key + "=" + value);
    QCOMPARE(pp->config().torchvision.anchor_sizes, applied.torchvision.anchor_sizes);
    QCOMPARE(pp->config().torchvision.aspect_ratios, applied.torchvision.aspect_ratios);
    w->findChild<QDockWidget*>("Stage")->raise();
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

  void timingTextPutsTheAchievedRateBesideThePeak() {
    // Hand-computed: 4 GFLOP over the stages' own 20 ms is 200 GFLOP/s, half of a 400 GFLOP/s peak.
    rcnn::api::PipelineTrace t;
    t.timings_ms = {{"backbone", 12.5}, {"rpn", 7.5}};
    t.flops = 4e9;
    QCOMPARE(studio::timing_text(t, 25.04, 400),
             QString("trace 25.0 ms, 4.00 GFLOP at 200 GFLOP/s of a measured 400 GFLOP/s fp32 peak (50 %)"));
    QCOMPARE(studio::timing_text(t, 25.04, 0), QString("trace 25.0 ms, 4.00 GFLOP at 200 GFLOP/s"));
    QCOMPARE(studio::timing_tooltip(t), QString("Recomputed stages: backbone 12.5 ms, rpn 7.5 ms"));
    t.flops = 0;  // only post-processing re-ran: no rate to claim
    t.precision = "bf16";
    QCOMPARE(studio::timing_text(t, 1, 400), QString("trace 1.0 ms, bf16"));
  }

  void modelPrecisionSwitchesTheTrace() {
    // Model → Precision: bf16 where the CPU has it (the trace says so, the model stays), disabled with the
    // reason where it does not; back to fp32.
    auto* menu = w->findChild<QMenu*>("precisionMenu");
    QVERIFY(menu);
    QAction *fp32 = nullptr, *bf16 = nullptr;
    for (auto* a : menu->actions()) {
      if (a->data().toString() == "fp32") fp32 = a;
      if (a->data().toString() == "bf16") bf16 = a;
    }
    QVERIFY(fp32 && bf16 && fp32->isChecked());
    const QString why = QString::fromStdString(rcnn::api::bf16_unavailable_reason());
    QCOMPARE(bf16->isEnabled(), why.isEmpty());
    if (!why.isEmpty()) {
      QVERIFY(bf16->toolTip().contains("neither AVX-512-BF16 nor AMX-BF16"));
      return;
    }
    const bool wasRandom = w->trace()->random_weights;
    bf16->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->precision == "bf16", 30000);
    QVERIFY(bf16->isChecked());
    QCOMPARE(w->trace()->random_weights, wasRandom);
    fp32->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->precision == "fp32", 30000);
  }

  void trainTwoProcessesAndPickDevices() {
    // Model → Device lists what LibTorch sees; switching keeps the loaded weights.
    auto* menu = w->findChild<QMenu*>("deviceMenu");
    QVERIFY(menu);
    QAction* cpu = nullptr;
    QStringList labels;
    for (auto* a : menu->actions()) {
      labels << a->text();
      if (a->data().toString() == "cpu") cpu = a;
    }
    QVERIFY2(cpu && cpu->isChecked(), qPrintable(labels.join("; ")));
    QVERIFY2(labels.join(";").contains("CUDA: this LibTorch build has no CUDA"), qPrintable(labels.join("; ")));
    const auto before = w->trace();
    const bool wasRandom = before->random_weights;
    cpu->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() != before, 30000);
    QCOMPARE(w->trace()->random_weights, wasRandom);
    QCOMPARE(QString::fromStdString(w->trace()->device), QString("cpu"));

    // Two data-parallel processes from the Training panel: this one is rank 0
    // and starts rank 1 (the rcnn CLI).
    auto* tp = w->trainingPanel();
    w->findChild<QComboBox*>("trainPreset")->setCurrentText("default");
    auto* procs = w->findChild<QSpinBox*>("trainProcs");
    auto* device = w->findChild<QComboBox*>("trainDevice");
    QVERIFY(procs && device);
    QCOMPARE(device->currentData().toString(), QString("cpu"));
    procs->setValue(2);
    tp->setIterations(3);
    w->findChild<QLineEdit*>("runName")->setText(QString("ui-dp-%1").arg(QCoreApplication::applicationPid()));
    tp->start(false);
    QVERIFY(tp->running());
    QTRY_VERIFY_WITH_TIMEOUT(!tp->running(), 240000);
    auto* log = tp->findChild<QPlainTextEdit*>();
    QVERIFY(log);
    const QString text = log->toPlainText();
    QVERIFY2(text.contains("data parallel: 2 processes (gloo)"), qPrintable(text.right(800)));
    QVERIFY2(QFile::exists(tp->runDir() + "/rank1.log"), qPrintable(text.right(800)));
    QFile metrics(tp->runDir() + "/metrics.jsonl");
    QVERIFY(metrics.open(QIODevice::ReadOnly));
    QVERIFY(metrics.readAll().contains("\"world_size\":2"));
    if (auto* dock = qobject_cast<QDockWidget*>(tp->parentWidget())) dock->raise();
    settle();
    QVERIFY(w->grab().save(artifacts + "/training_two_processes.png"));
    procs->setValue(1);
  }

  void trainTorchvisionPresetWritesAPthFile() {
    // A torchvision preset from the training panel, on two processes: the
    // same trainer as the seed's (random weights here: the studio has one of
    // our checkpoints open). It writes last.pt (weights, SGD's momentum:
    // what --resume reads) and last.pth beside it (torch.save format), and
    // the log says whose losses run. "Inspect latest checkpoint" opens
    // last.pth as a torchvision model.
    auto* tp = w->trainingPanel();
    auto* preset = w->findChild<QComboBox*>("trainPreset");
    auto* procs = w->findChild<QSpinBox*>("trainProcs");
    QVERIFY(preset && procs);
    preset->setCurrentText("torchvision_mobilenet_v3_large_320_fpn");
    procs->setValue(2);
    tp->setIterations(2);
    w->findChild<QLineEdit*>("runName")->setText(QString("ui-tv-%1").arg(QCoreApplication::applicationPid()));
    tp->start(false);
    QVERIFY(tp->running());
    QTRY_VERIFY_WITH_TIMEOUT(!tp->running(), 300000);
    procs->setValue(1);
    auto* log = tp->findChild<QPlainTextEdit*>();
    QVERIFY(log);
    const QString text = log->toPlainText();
    QVERIFY2(QFile::exists(tp->runDir() + "/last.pth"), qPrintable(text.right(800)));
    QVERIFY(QFile::exists(tp->runDir() + "/last.pt"));
    QVERIFY(!QFile::exists(tp->runDir() + "/run.json"));
    QVERIFY2(text.contains("the torchvision detector's losses"), qPrintable(text.right(800)));
    QVERIFY2(text.contains("data parallel: 2 processes (gloo)"), qPrintable(text.right(800)));
    QVERIFY2(text.contains("FrozenBatchNorm2d layers (fixed statistics)"), qPrintable(text.right(800)));
    auto* use = w->findChild<QPushButton*>("useCheckpoint");
    QVERIFY(use && use->isEnabled());
    use->click();
    QTRY_VERIFY_WITH_TIMEOUT(w->trace()->torchvision && !w->trace()->random_weights, 60000);
    if (auto* dock = qobject_cast<QDockWidget*>(tp->parentWidget())) dock->raise();
    settle();
    QVERIFY(w->grab().save(artifacts + "/training_torchvision.png"));
    w->openCheckpoint(QString::fromStdString(rcnn::resource_dir()) + "/models/fashion_default.pt");
    QTRY_VERIFY_WITH_TIMEOUT(!w->trace()->torchvision && !w->trace()->random_weights, 60000);
  }

  // A generated VOC set of RCNN_BIG_DATASET images (default 20000; one tiny
  // JPEG hard-linked under every id) opens, and browsing it from the first
  // row to the last keeps the thumbnails (and the memory) bounded.
  void bigDatasetOpensAndBrowsesInBoundedMemory() {
    const int n = qEnvironmentVariableIsSet("RCNN_BIG_DATASET") ? qEnvironmentVariableIntValue("RCNN_BIG_DATASET")
                                                                 : 20000;
    const QString root = artifacts + QString("/voc%1").arg(n);
    QElapsedTimer gen;
    gen.start();
    if (!QFile::exists(root + "/ImageSets/Main/val.txt")) {
      QDir().mkpath(root + "/JPEGImages");
      QDir().mkpath(root + "/Annotations");
      QDir().mkpath(root + "/ImageSets/Main");
      QImage img(48, 40, QImage::Format_RGB32);
      img.fill(QColor(40, 120, 200));
      QVERIFY(img.save(root + "/base.jpg", "JPEG"));
      QFile split(root + "/ImageSets/Main/val.txt.part");
      QVERIFY(split.open(QIODevice::WriteOnly));
      for (int i = 0; i < n; ++i) {
        const QString id = QString("img_%1").arg(i, 6, 10, QChar('0'));
        std::error_code ec;
        std::filesystem::create_hard_link((root + "/base.jpg").toStdString(),
                                          (root + "/JPEGImages/" + id + ".jpg").toStdString(), ec);
        QFile x(root + "/Annotations/" + id + ".xml");
        QVERIFY(x.open(QIODevice::WriteOnly));
        x.write(QString("<annotation><size><width>48</width><height>40</height></size><object><name>%1</name>"
                        "<bndbox><xmin>%2</xmin><ymin>4</ymin><xmax>30</xmax><ymax>36</ymax></bndbox></object>"
                        "</annotation>")
                    .arg(i % 3 ? "cat" : "dog")
                    .arg(2 + i % 10)
                    .toUtf8());
        split.write((id + "\n").toUtf8());
      }
      split.close();
      QVERIFY(split.rename(root + "/ImageSets/Main/val.txt"));
    }
    const double rss0 = residentMiB();
    QElapsedTimer open;
    open.start();
    QVERIFY(w->openDataset(root));
    const qint64 openMs = open.elapsed();
    QCOMPARE(w->datasetPanel()->visibleCount(), n);
    // Browse: every 250th row brought into view, the view painting between.
    auto* list = w->findChild<QListView*>("datasetList");
    QVERIFY(list);
    QElapsedTimer browse;
    browse.start();
    for (int row = 0; row < n; row += 250) {
      list->scrollTo(list->model()->index(row, 0));
      QTest::qWait(15);
    }
    QTest::qWait(500);
    const double rss1 = residentMiB();
    qInfo("%d images (generated in %lld ms): opened in %lld ms; browsed in %lld ms, %d thumbnails decoded, %d "
          "cached; resident memory %.0f -> %.0f MiB",
          n, gen.elapsed(), openMs, browse.elapsed(), w->datasetPanel()->thumbnailsLoaded(),
          w->datasetPanel()->thumbnailsCached(), rss0, rss1);
    QVERIFY(w->datasetPanel()->thumbnailsLoaded() > 50);   // the rows in view were decoded...
    QVERIFY(w->datasetPanel()->thumbnailsCached() <= 2000);  // ...and the cache stays within its limit
    QVERIFY2(rss1 - rss0 < 200, qPrintable(QString("resident memory grew by %1 MiB").arg(rss1 - rss0)));
    QVERIFY(w->openDataset(QString::fromStdString(rcnn::api::default_dataset_dir())));
  }

  void cleanupTestCase() { delete w; }
};

QTEST_MAIN(StudioTest)
#include "test_studio.moc"
