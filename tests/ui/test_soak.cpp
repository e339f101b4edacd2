// GUI soak: random stage switches, parameter edits, image changes, zooms,
// pans and training start/stop on the studio under Xvfb for
// RCNN_GUI_SOAK_SECONDS (default 60; scripts/gui-soak.sh runs 30 minutes).
// It must end without a crash or an error message, and with resident
// memory at most 10 % above where it stood after one warm-up round of every
// action.
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QRandomGenerator>
#include <QWheelEvent>
#include <QtTest>
#include <malloc.h>

#include "api/devices.h"
#include "panels/dataset_panel.h"
#include "panels/params_panel.h"
#include "panels/training_panel.h"
#include "studio_test_util.h"

namespace {
// Bytes the program holds in malloc's heap (every arena, mmapped blocks too):
// what a leak would grow, as opposed to memory the allocator keeps for reuse.
double heapInUseMiB() {
  const struct mallinfo2 m = mallinfo2();
  return double(m.uordblks + m.hblkhd) / (1024.0 * 1024.0);
}
}  // namespace

class SoakTest : public QObject, public StudioFixture {
  Q_OBJECT
  QRandomGenerator rng{20261125};
  QMap<QString, int> counts;
  int trainRuns = 0;

  // Edits that keep the model's weight shapes and stay valid.
  const QList<QPair<QString, QStringList>> edits{
      {"rpn.iou_hi", {"0.6", "0.7", "0.8"}},       {"rpn.iou_lo", {"0.2", "0.3", "0.4"}},
      {"rpn.nms_thresh", {"0.5", "0.7", "0.9"}},   {"rpn.post_nms_topk_test", {"50", "100", "300"}},
      {"roi.score_thresh", {"0.05", "0.3", "0.6"}}, {"roi.nms_thresh", {"0.3", "0.5", "0.7"}},
      {"rpn.allow_low_quality_matches", {"true", "false"}}};

  // With RCNN_GUI_SOAK_SMAPS set, /proc/self/smaps is copied there at the
  // baseline and at the end, to tell which mappings grew.
  void snapshotMaps(const char* tag) {
    const QString dir = qEnvironmentVariable("RCNN_GUI_SOAK_SMAPS");
    if (dir.isEmpty()) return;
    QFile in("/proc/self/smaps");
    QFile out(dir + "/smaps_" + tag + ".txt");
    if (in.open(QIODevice::ReadOnly) && out.open(QIODevice::WriteOnly)) out.write(in.readAll());
    if (FILE* f = std::fopen(qPrintable(dir + "/malloc_" + tag + ".xml"), "w")) {
      malloc_info(0, f);
      std::fclose(f);
    }
    const double before = residentMiB();
    malloc_trim(0);
    qInfo("%s: resident %.0f MiB, after one more malloc_trim %.0f MiB", tag, before, residentMiB());
  }

  void action(int kind) {
    auto* c = w->canvas();
    switch (kind) {
      case 0:  // stage
        w->setStage(rcnn::api::Stage(rng.bounded(9)));
        ++counts["stage"];
        break;
      case 1: {  // parameter edit
        const auto& e = edits[int(rng.bounded(edits.size()))];
        QVERIFY(w->paramsPanel()->setValue(e.first, e.second[int(rng.bounded(e.second.size()))]));
        ++counts["edit"];
        break;
      }
      case 2:  // image
        w->datasetPanel()->step(rng.bounded(2) ? 1 : -1);
        ++counts["image"];
        break;
      case 3: {  // zoom at a random point
        const QPointF p(rng.bounded(c->width()), rng.bounded(c->height()));
        QWheelEvent ev(p, c->mapToGlobal(p), QPoint(), QPoint(0, rng.bounded(2) ? 120 : -120), Qt::NoButton,
                       Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(c, &ev);
        ++counts["zoom"];
        break;
      }
      case 4: {  // pan
        const QPoint a(int(rng.bounded(c->width())), int(rng.bounded(c->height())));
        QTest::mousePress(c, Qt::LeftButton, Qt::NoModifier, a);
        QTest::mouseMove(c, a + QPoint(int(rng.bounded(80)) - 40, int(rng.bounded(80)) - 40));
        QTest::mouseRelease(c, Qt::LeftButton, Qt::NoModifier, a + QPoint(10, 10));
        ++counts["pan"];
        break;
      }
      case 5: {  // training: start, let it run a moment, stop
        if (qEnvironmentVariable("RCNN_GUI_SOAK_TRAIN") == "0") break;  // (diagnosis: the viewer alone)
        auto* tp = w->trainingPanel();
        if (tp->running()) {
          tp->stop();
          QTRY_VERIFY_WITH_TIMEOUT(!tp->running(), 120000);
          ++counts["train stop"];
        } else {
          tp->setIterations(1000000);
          w->findChild<QLineEdit*>("runName")->setText(
              QString("ui-soak-%1-%2").arg(QCoreApplication::applicationPid()).arg(trainRuns++ % 2));
          tp->start(trainRuns > 2);  // later runs resume
          ++counts["train start"];
        }
        break;
      }
      default:
        break;
    }
  }

 private slots:
  void initTestCase() { QVERIFY(openWindow()); }

  void soak() {
    const int seconds = qEnvironmentVariableIsSet("RCNN_GUI_SOAK_SECONDS")
                            ? qEnvironmentVariableIntValue("RCNN_GUI_SOAK_SECONDS")
                            : 60;
    // Warm-up: every action once (training started and stopped), so that
    // lazily built state is there before the baseline.
    for (int k : {0, 1, 2, 3, 4, 5, 0, 2, 5}) {
      action(k);
      QTest::qWait(k == 5 ? 3000 : 200);
    }
    // Memory is compared in the same state at both ends: no training, no
    // trace for a while (the studio returns freed memory when it goes idle).
    auto idle = [&] {
      quiesce();
      QTest::qWait(3500);
    };
    idle();
    const double base = residentMiB(), baseHeap = heapInUseMiB();
    snapshotMaps("base");
    QElapsedTimer t;
    t.start();
    int steps = 0;
    qint64 next_report = 15000;
    while (t.elapsed() < qint64(seconds) * 1000) {
      if (t.elapsed() > next_report) {
        qInfo("after %lld s: %.0f MiB resident, %.0f MiB heap in use, %d traces", t.elapsed() / 1000, residentMiB(),
              heapInUseMiB(), w->tracesReceived());
        next_report += qMax<qint64>(15000, qint64(seconds) * 1000 / 12);
      }
      const int r = int(rng.bounded(100));
      // Mostly viewing; a training start or stop now and then.
      action(r < 30 ? 0 : r < 50 ? 1 : r < 70 ? 2 : r < 85 ? 3 : r < 98 ? 4 : 5);
      QTest::qWait(int(rng.bounded(20, 250)));
      ++steps;
      if (QTest::currentTestFailed()) return;
    }
    if (w->trainingPanel()->running()) {
      w->trainingPanel()->stop();
      QTRY_VERIFY_WITH_TIMEOUT(!w->trainingPanel()->running(), 120000);
    }
    idle();
    const double end = residentMiB(), endHeap = heapInUseMiB();
    snapshotMaps("end");
    QString what;
    for (auto it = counts.cbegin(); it != counts.cend(); ++it) what += QString(" %1 %2,").arg(it.value()).arg(it.key());
    qInfo("GUI soak: %d s, %d actions (%s); %d traces; resident memory %.0f MiB after warm-up, %.0f MiB at the end "
          "(%+.1f %%); heap in use %.0f -> %.0f MiB",
          seconds, steps, qPrintable(what.chopped(1)), w->tracesReceived(), base, end, 100.0 * (end - base) / base,
          baseHeap, endHeap);
    QVERIFY2(w->lastError().isEmpty(), qPrintable(w->lastError()));
    QVERIFY2(end <= base * 1.10, qPrintable(QString("resident memory grew from %1 to %2 MiB").arg(base).arg(end)));
    QVERIFY(w->grab().save(artifacts + "/soak_end.png"));
  }

  void cleanupTestCase() { delete w; }
};

// As the studio's main(): the allocator is set up before Qt starts threads.
int main(int argc, char** argv) {
  rcnn::api::tune_process_allocator();
  QApplication app(argc, argv);
  SoakTest t;
  return QTest::qExec(&t, argc, argv);
}
#include "test_soak.moc"
