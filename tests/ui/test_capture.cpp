// Captures in the studio (issue #32) under Xvfb: the bundled model's trace of a
// val image saved as a capture and opened in a second, fresh window shows every
// stage exactly as the live one: the counts line, the prose, the formula of
// each kind of hovered item, and the canvas, pixel for pixel. What needs the
// model says so; opening an image leaves the capture; a damaged file is an
// error and the studio goes on. Saves capture_opened.png.
#include <QFile>
#include <QPlainTextEdit>
#include <QRegularExpression>
#include <QStatusBar>

#include "api/capture_diff.h"
#include "api/session.h"
#include "config/detector_config.h"
#include "panels/params_panel.h"
#include "stages/stage_view.h"
#include "studio_test_util.h"

using rcnn::api::Stage;
using studio::Hit;
using studio::HitKind;

namespace {
struct StageFacts {
  QString counts, explanation;
  QStringList formulas;
  QImage canvas;
};
}  // namespace

class CaptureTest : public QObject, StudioFixture {
  Q_OBJECT
  QString m_path;
  std::vector<StageFacts> m_live;
  std::unique_ptr<studio::MainWindow> m_b;

  // Every kind of item a stage's formula explains, at indices this trace has.
  static std::vector<Hit> hovers(const rcnn::api::PipelineTrace& t) {
    std::vector<Hit> h = {{HitKind::None, -1, {}}};
    auto add = [&](HitKind k, int i) {
      Hit x;
      x.kind = k;
      x.index = i;
      if (studio::hitValid(x, t)) h.push_back(x);
    };
    for (size_t g = 0; g < t.gt.size(); ++g) add(HitKind::Gt, int(g));
    if (!t.gt.empty()) add(HitKind::Anchor, t.gt[0].best_anchor);
    if (!t.sampled_bg.empty()) add(HitKind::Anchor, t.sampled_bg[0]);
    add(HitKind::Anchor, 17);
    add(HitKind::Proposal, 0);
    for (size_t p = 0; p < t.proposals.size(); ++p)  // a suppressed one names its suppressor
      if (t.proposals[p].state == rcnn::api::ProposalState::Suppressed) {
        add(HitKind::Proposal, int(p));
        break;
      }
    for (size_t d = 0; d < t.detections.size() && d < 3; ++d) add(HitKind::Detection, int(d));
    add(HitKind::TrainRoi, 0);
    add(HitKind::TrainRoi, int(t.train.rois.size()) - 1);
    add(HitKind::SamplePoint, 0);
    add(HitKind::SamplePoint, 77);
    return h;
  }
  std::vector<StageFacts> facts(studio::MainWindow* win) {
    std::vector<StageFacts> out;
    const auto t = win->trace();
    for (int s = 0; s < rcnn::api::kNumStages; ++s) {
      win->setStage(Stage(s));
      for (int i = 0; i < 5; ++i) {
        win->canvas()->update();
        QTest::qWait(30);
      }
      auto& v = win->context()->currentView();
      StageFacts f;
      // The Image stage's counts end with the last trace's wall time: another trace of the same state (the
      // training step switched on as RoI sampling opens) takes another time. Compared apart, below.
      f.counts = v.counts(*t).replace(QRegularExpression("recomputed in [0-9.]+ ms"), "recomputed in … ms");
      f.explanation = v.explanation(t.get());
      for (const auto& h : hovers(*t)) f.formulas << v.formula(*t, h);
      f.canvas = win->canvas()->snapshot();
      out.push_back(f);
    }
    return out;
  }

 private slots:
  void initTestCase() {
    QVERIFY(openWindow());
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() && !w->trace()->random_weights, 60000);
    quiesce();
    // A stage that shows the training step first: the live trace then carries it, as a capture does.
    const int n = w->tracesReceived();
    w->setStage(Stage::Losses);
    waitNewTrace(n);
    quiesce();
    QVERIFY(w->trace()->train.valid);
    QVERIFY(!w->trace()->detections.empty());
    w->context()->setSelectedGt(0);
    w->context()->setSelectedRoi(2);
    m_path = artifacts + "/studio_test.rcnncap";
    QFile::remove(m_path);
  }

  void openedCaptureShowsEveryStageAsLive() {
    m_live = facts(w);
    w->setStage(Stage::Proposals);
    w->saveCapture(m_path);
    QTRY_VERIFY_WITH_TIMEOUT(w->capturesSaved() == 1, 60000);
    QVERIFY(QFile::exists(m_path));

    m_b = std::make_unique<studio::MainWindow>();  // a fresh window: no dataset, no image
    m_b->resize(w->size());
    m_b->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_b.get()));
    QVERIFY2(m_b->openCapture(m_path), qPrintable(m_b->lastError()));
    QCOMPARE(m_b->captureSource(), m_path);
    QCOMPARE(m_b->stage(), Stage::Proposals);  // the view as saved
    QCOMPARE(m_b->context()->selectedGt(), 0);
    QCOMPARE(m_b->context()->selectedRoi(), 2);
    for (int i = 0; i < 10; ++i) QTest::qWait(30);
    const auto opened = facts(m_b.get());
    w->setStage(Stage::Proposals);
    // The live window was measured with its own canvas; both are the same size and fit the same image.
    QCOMPARE(m_b->canvas()->size(), w->canvas()->size());
    // The wall time the live window showed when it saved is what the capture shows.
    QCOMPARE(m_b->context()->traceMs(), w->context()->traceMs());
    for (int s = 0; s < rcnn::api::kNumStages; ++s) {
      const char* name = rcnn::api::stage_name(Stage(s));
      QVERIFY2(opened[size_t(s)].counts == m_live[size_t(s)].counts,
               qPrintable(QString("%1: %2 | %3").arg(name, opened[size_t(s)].counts, m_live[size_t(s)].counts)));
      QVERIFY2(opened[size_t(s)].explanation == m_live[size_t(s)].explanation, name);
      QCOMPARE(opened[size_t(s)].formulas.size(), m_live[size_t(s)].formulas.size());
      for (int k = 0; k < m_live[size_t(s)].formulas.size(); ++k)
        QVERIFY2(opened[size_t(s)].formulas[k] == m_live[size_t(s)].formulas[k],
                 qPrintable(QString("%1, hover %2: %3 | %4")
                                .arg(name)
                                .arg(k)
                                .arg(opened[size_t(s)].formulas[k], m_live[size_t(s)].formulas[k])));
      QVERIFY2(opened[size_t(s)].canvas == m_live[size_t(s)].canvas,
               qPrintable(QString("%1: the canvas differs").arg(name)));
    }
    // The formulas are not all the general form: the hovered items' numbers are in them.
    QStringList distinct = m_live[size_t(Stage::Proposals)].formulas;
    distinct.removeDuplicates();
    QVERIFY(distinct.size() > 2);
    m_b->setStage(Stage::Predictions);
    for (int i = 0; i < 10; ++i) QTest::qWait(30);
    m_b->grab().save(artifacts + "/capture_opened.png");
  }

  void whatNeedsTheModelSaysSo() {
    QVERIFY(m_b && !m_b->captureSource().isEmpty());
    const auto before = m_b->trace();
    QVERIFY(m_b->paramsPanel()->setValue("rpn.nms_thresh", "0.4"));
    QVERIFY2(m_b->lastError().contains("needs the model"), qPrintable(m_b->lastError()));
    QTest::qWait(300);
    QCOMPARE(m_b->trace(), before);  // the capture is still what is shown
    m_b->setStage(Stage::Predictions);
    studio::ExplainSettings s;
    s.enabled = true;
    m_b->context()->setExplainSettings(s);
    QTRY_VERIFY2_WITH_TIMEOUT(m_b->context()->explainShown().status.contains("Explain needs the model"),
                              qPrintable(m_b->context()->explainShown().status), 5000);
    s.enabled = false;
    m_b->context()->setExplainSettings(s);
  }

  void aDamagedCaptureIsAnErrorAndTheStudioGoesOn() {
    QVERIFY(m_b);
    const QString cut = artifacts + "/studio_test_cut.rcnncap";
    QFile in(m_path);
    QVERIFY(in.open(QIODevice::ReadOnly));
    QFile out(cut);
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(in.read(in.size() / 3));
    out.close();
    const auto before = m_b->trace();
    QVERIFY(!m_b->openCapture(cut));
    QVERIFY2(m_b->lastError().contains(cut) && m_b->lastError().contains("not a capture"),
             qPrintable(m_b->lastError()));
    QCOMPARE(m_b->trace(), before);
    QCOMPARE(m_b->captureSource(), m_path);
  }

  void openingAnImageLeavesTheCapture() {
    QVERIFY(m_b);
    const int n = m_b->tracesReceived();
    const auto& ds = w->context()->dataset();
    m_b->openImageFile(QString::fromStdString(ds.images[5].path));
    QVERIFY(m_b->captureSource().isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(m_b->tracesReceived() > n, 60000);
    QCOMPARE(m_b->trace()->image_path, ds.images[5].path);
    m_b.reset();
  }

  void compareCapturesDrawsTheChanges() {
    // B: the same image with random weights (a Session of the test's own), against the bundled model's A.
    const auto& ds = w->context()->dataset();
    const std::string path = rcnn::api::load_capture(m_path.toStdString()).trace.image_path;
    const rcnn::api::ImageEntry* rec = nullptr;
    for (const auto& im : ds.images)
      if (im.path == path) rec = &im;
    QVERIFY(rec);
    auto cfg = rcnn::load_preset("default");
    cfg.num_classes = int(ds.class_names.size());
    cfg.class_names = ds.class_names;
    rcnn::api::Session s(cfg, "cpu");
    s.open_image(rec->path, rec->objects, ds.class_names);
    const QString random = artifacts + "/studio_test_random.rcnncap";
    rcnn::api::save_capture(random.toStdString(), s.capture());
    const auto d = rcnn::api::diff_captures(rcnn::api::load_capture(m_path.toStdString()),
                                            rcnn::api::load_capture(random.toStdString()));
    QVERIFY(!d.gt.empty() && !d.detections_added.empty());

    studio::MainWindow v;
    v.resize(w->size());
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    QVERIFY2(v.openCapture(random), qPrintable(v.lastError()));
    v.setStage(Stage::Predictions);
    for (int i = 0; i < 5; ++i) QTest::qWait(30);
    const QImage plain = v.canvas()->snapshot();
    QVERIFY2(v.compareCaptures(m_path, random), qPrintable(v.lastError()));
    QCOMPARE(v.captureSource(), random);
    const auto& marks = v.context()->captureCompare().marks;
    auto count = [&](Stage st, bool added) {
      return int(std::count_if(marks.begin(), marks.end(),
                               [&](const studio::DiffMark& m) { return !m.gt && m.stage == st && m.added == added; }));
    };
    QCOMPARE(count(Stage::Predictions, true), int(d.detections_added.size()));
    QCOMPARE(count(Stage::Predictions, false), int(d.detections_removed.size()));
    QCOMPARE(count(Stage::Proposals, true), int(d.proposals_entered.size()));
    QCOMPARE(count(Stage::Proposals, false), int(d.proposals_left.size()));
    QCOMPARE(int(std::count_if(marks.begin(), marks.end(), [](const studio::DiffMark& m) { return m.gt; })),
             int(d.gt.size()));
    auto* text = v.findChild<QPlainTextEdit*>("captureDiff");
    QVERIFY(text);
    QVERIFY2(text->toPlainText().contains(QString("Predictions: %1 detections added").arg(d.detections_added.size())),
             qPrintable(text->toPlainText()));
    for (int i = 0; i < 5; ++i) QTest::qWait(30);
    QVERIFY(v.canvas()->snapshot() != plain);  // the changes are drawn over the capture
    QVERIFY(v.grab().save(artifacts + "/capture_compare.png"));
  }

  void cleanupTestCase() {
    m_b.reset();
    delete w;
  }
};

QTEST_MAIN(CaptureTest)
#include "test_capture.moc"
