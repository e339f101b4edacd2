// The Training panel's timeline (issue #32) under Xvfb: a short run started
// from the panel captures its probe images before training, at every
// evaluation and at the end; the slider opens each iteration's capture at the
// current stage (the canvas shows that iteration's detections), the table
// lists each GT's verdict, score and best IoU there. Saves
// timeline_iter_<n>.png at three iterations.
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QLineEdit>
#include <QSlider>
#include <QSpinBox>
#include <QTableWidget>

#include "panels/params_panel.h"
#include "panels/probe_timeline.h"
#include "panels/training_panel.h"
#include "studio_test_util.h"

using rcnn::api::Stage;

class TimelineTest : public QObject, StudioFixture {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(openWindow());
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() != nullptr, 60000);
    quiesce();
  }

  void aRunsProbesOpenAtEveryIteration() {
    auto* tp = w->trainingPanel();
    w->findChild<QComboBox*>("trainPreset")->setCurrentText("default");
    QVERIFY(w->paramsPanel()->setValue("solver.eval_period", "5"));
    tp->setIterations(12);
    tp->setProbeImages(2);
    const QString name = QString("ui-timeline-%1").arg(QCoreApplication::applicationPid());
    w->findChild<QLineEdit*>("runName")->setText(name);
    QDir(tp->runDir()).removeRecursively();
    tp->start(false);
    QVERIFY(tp->running());
    QTRY_VERIFY_WITH_TIMEOUT(!tp->running(), 240000);
    auto* tl = tp->timeline();
    QCOMPARE(int(tl->series().size()), 2);
    const auto& s = tl->series()[0];
    QCOMPARE(s.iters, (std::vector<int64_t>{0, 5, 10, 12}));
    if (auto* dock = qobject_cast<QDockWidget*>(tp->parentWidget())) dock->raise();
    w->setStage(Stage::Predictions);
    auto* table = tl->findChild<QTableWidget*>("probeGts");
    QVERIFY(table);
    for (int e : {0, 1, 3}) {
      tl->select(0, e);
      settle();
      // The studio shows that iteration's capture, at the stage it was on.
      QCOMPARE(w->captureSource(), QString::fromStdString(s.files[size_t(e)]));
      QCOMPARE(w->stage(), Stage::Predictions);
      QVERIFY(w->trace()->model_label.find("@ iteration " + std::to_string(s.iters[size_t(e)])) != std::string::npos);
      QCOMPARE(table->rowCount(), int(s.gt.size()));
      for (size_t g = 0; g < s.gt.size(); ++g) {
        QCOMPARE(table->item(int(g), 2)->text(), QString::fromUtf8(rcnn::api::funnel_name(s.gt[g][size_t(e)].funnel)));
        QCOMPARE(table->item(int(g), 2)->text(), QString::fromUtf8(rcnn::api::funnel_name(w->trace()->gt[g].funnel)));
      }
      QVERIFY2(tl->status().contains(QString("iteration %1").arg(s.iters[size_t(e)])), qPrintable(tl->status()));
      QVERIFY(w->grab().save(artifacts + QString("/timeline_iter_%1.png").arg(s.iters[size_t(e)])));
    }
    // Another probe image: its own series, at the last iteration.
    tl->select(1, 3);
    settle();
    QCOMPARE(w->captureSource(), QString::fromStdString(tl->series()[1].files[3]));
    QDir(tp->runDir()).removeRecursively();
  }

  void cleanupTestCase() { delete w; }
};

QTEST_MAIN(TimelineTest)
#include "test_timeline.moc"
