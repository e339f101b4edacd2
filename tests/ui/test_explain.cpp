// Explain a box in the studio (issue #31) on the bundled model under Xvfb:
// the Predictions stage's map is the Session's (size, argmax, values), the
// cache hands back the same result without a second request, the pickers
// change the map, a missed GT's Explain button and the Proposals stage
// explain their box, errors are shown and the studio goes on; the model
// thread cancels a superseded D-RISE and refuses a stale request. Saves
// explain_tp.png, explain_missed_gt.png and explain_proposal.png.
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QTableWidget>
#include <algorithm>
#include <cmath>

#include "api/session.h"
#include "config/detector_config.h"
#include "explain/explain_controller.h"
#include "job_runner.h"
#include "panels/dataset_panel.h"
#include "studio_test_util.h"

using rcnn::api::ExplainResult;
using rcnn::api::Stage;

namespace {
QString bundledModel() {
  return QString::fromStdString(rcnn::resource_dir() + "/models/fashion_default.pt");
}
size_t argmax(const std::vector<float>& v) {
  return size_t(std::max_element(v.begin(), v.end()) - v.begin());
}
bool missed(const rcnn::api::GtInfo& g) {
  return g.funnel != rcnn::api::Funnel::Detected && g.funnel != rcnn::api::Funnel::Ignored;
}
}  // namespace

// The studio's default method (HiResCAM): what the toggle shows first.
static const std::string kDefaultMethod = studio::ExplainSettings{}.method;

class ExplainTest : public QObject, StudioFixture {
  Q_OBJECT

  int m_tpImage = -1, m_missImage = -1, m_missGt = -1;
  std::vector<int> m_tpDets;  // m_tpImage's true positives whose Grad-CAM map is not flat
  std::unique_ptr<rcnn::api::Session> m_session;

  const studio::ExplainShown& shown() const { return w->context()->explainShown(); }
  std::shared_ptr<const ExplainResult> result() const { return shown().result; }
  QWidget* controls(const char* stage) const { return w->findChild<QWidget*>(QString("explainControls") + stage); }
  template <typename T>
  T* control(const char* stage, const char* name) const {
    auto* c = controls(stage);
    return c ? c->findChild<T*>(name) : nullptr;
  }
  int requests() const { return w->explainController()->requestsPosted(); }
  bool openImage(int i) {
    const auto& rec = w->context()->dataset().images[size_t(i)];
    if (w->trace() && w->trace()->image_path == rec.path) return true;
    const int n = w->tracesReceived();
    w->datasetPanel()->select(i);
    waitNewTrace(n);
    quiesce();
    return w->trace()->image_path == rec.path;
  }
  // The map a Session of its own gives for `target` on image i (default settings: those of the studio).
  ExplainResult direct(int i, const studio::ExplainTarget& target,
                       const studio::ExplainSettings& s = studio::ExplainSettings{}) {
    if (!m_session) {
      m_session = std::make_unique<rcnn::api::Session>(rcnn::load_preset("default"), "cpu");
      m_session->load_checkpoint(bundledModel().toStdString());
    }
    const auto& ds = w->context()->dataset();
    const auto& rec = ds.images[size_t(i)];
    m_session->open_image(rec.path, rec.objects, ds.class_names);
    m_session->run();
    return m_session->explain(studio::ExplainController::request(target, s));
  }
  // Explain on with the default pickers (each test can run alone).
  void enableDefaults() {
    studio::ExplainSettings s;
    s.enabled = true;
    w->context()->setExplainSettings(s);
  }
  void waitResult(const std::string& kind, int index, const std::string& method) {
    QTRY_VERIFY2_WITH_TIMEOUT(
        result() && result()->target_kind == kind && result()->index == index && result()->method == method,
        qPrintable("explain status: " + shown().status), 120000);
  }

 private slots:
  void initTestCase() {
    QVERIFY(openWindow());
    QTRY_VERIFY_WITH_TIMEOUT(w->trace() && !w->trace()->random_weights, 60000);
    quiesce();
    // The first val images with a true positive of a map non-zero on 1 % of the image (on the bundled model the ReLU
    // zeroes some entirely), and with a missed GT.
    const int n = std::min(40, int(w->context()->dataset().images.size()));
    for (int i = 0; i < n && (m_tpImage < 0 || m_missImage < 0); ++i) {
      QVERIFY(openImage(i));
      const auto t = w->trace();
      for (size_t d = 0; d < t->verdicts.size() && m_tpImage < 0; ++d) {
        if (t->verdicts[d].outcome != rcnn::api::DetOutcome::TruePositive) continue;
        const auto m = direct(i, {"det", int(d)}).map;
        if (std::count_if(m.begin(), m.end(), [](float v) { return v > 0; }) > int(m.size() / 100))
          m_tpDets.push_back(int(d));
      }
      if (!m_tpDets.empty() && m_tpImage < 0) m_tpImage = i;
      for (size_t g = 0; g < t->gt.size() && m_missImage < 0; ++g) {
        if (!missed(t->gt[g])) continue;
        const auto m = direct(i, {"gt", int(g)}).map;
        if (std::count_if(m.begin(), m.end(), [](float v) { return v > 0; }) > int(m.size() / 100))
          m_missImage = i, m_missGt = int(g);
      }
    }
    QVERIFY2(m_tpImage >= 0, "no val image with a true positive explained by a non-flat map");
  }

  void predictionsMapIsTheSessions() {
    QVERIFY(openImage(m_tpImage));
    w->setStage(Stage::Predictions);
    w->canvas()->fit();
    settle();
    const auto t = w->trace();
    // Click a true positive on the canvas: it becomes the target.
    int hovered = -1;
    QPoint at;
    for (const int d : m_tpDets) {
      // A point of it that no smaller box drawn here covers (the canvas hovers the smallest).
      std::vector<rcnn::api::Box> others;
      for (size_t e = 0; e < t->detections.size(); ++e)
        if (int(e) != d) others.push_back(t->detections[e].box);
      for (const auto& g : t->gt)
        if (missed(g)) others.push_back(g.box);
      const auto& b = t->detections[size_t(d)].box;
      for (int q = 1; q < 64 && hovered < 0; ++q) {
        const float x = b.x1 + b.width() * float(q % 8) / 8.f, y = b.y1 + b.height() * float(q / 8) / 8.f;
        if (q % 8 == 0 || std::any_of(others.begin(), others.end(), [&](const rcnn::api::Box& o) {
              return x >= o.x1 && x <= o.x2 && y >= o.y1 && y <= o.y2 &&
                     o.width() * o.height() <= b.width() * b.height();
            }))
          continue;
        at = w->canvas()->toWidget(QPointF(x, y)).toPoint();
        QTest::mouseMove(w->canvas(), at + QPoint(1, 1));
        settle();
        QTest::mouseMove(w->canvas(), at);
        settle();
        const auto& h = w->context()->hover();
        if (h.kind == studio::HitKind::Detection && h.index == d) hovered = d;
      }
    }
    QVERIFY2(hovered >= 0, "no true positive can be hovered");
    QTest::mouseClick(w->canvas(), Qt::LeftButton, {}, at);
    settle();
    QTest::mouseMove(w->canvas(), QPoint(3, 3));  // off the image: no tooltip over the map
    settle();
    const QImage before = w->canvas()->snapshot();
    const int n0 = requests();
    auto* toggle = control<QCheckBox>("Predictions", "explainToggle");
    QVERIFY(toggle && toggle->isVisible());
    toggle->click();
    waitResult("det", hovered, kDefaultMethod);
    QCOMPARE(requests(), n0 + 1);
    const auto r = result();
    QCOMPARE(r->width, t->image_width);
    QCOMPARE(r->height, t->image_height);
    QCOMPARE(r->map.size(), size_t(t->image_width) * size_t(t->image_height));
    QCOMPARE(r->label, t->detections[size_t(hovered)].label);
    // The same map as the Session's own, computed apart.
    const auto d = direct(m_tpImage, {"det", hovered});
    QCOMPARE(d.map.size(), r->map.size());
    QCOMPARE(argmax(r->map), argmax(d.map));
    float diff = 0, mx = 0;
    for (size_t i = 0; i < d.map.size(); ++i)
      diff = std::max(diff, std::abs(d.map[i] - r->map[i])), mx = std::max(mx, d.map[i]);
    QVERIFY2(diff <= 1e-4f * std::max(1.f, mx), qPrintable(QString("max |diff| %1 of max %2").arg(diff).arg(mx)));
    QVERIFY(mx > 0);
    // Drawn under the boxes, in the original pixels: where the map is hot (a quarter of its range and more)
    // the canvas changed, but for the box labels and outlines drawn over it (opaque; about a tenth here).
    settle();
    const QImage after = w->canvas()->snapshot();
    QCOMPARE(after.size(), before.size());
    const qreal dpr = after.devicePixelRatio();
    const float mn = *std::min_element(r->map.begin(), r->map.end());
    int hot = 0, changed = 0;
    for (int y = 0; y < r->height; y += 2)
      for (int x = 0; x < r->width; x += 2) {
        if ((r->map[size_t(y) * size_t(r->width) + size_t(x)] - mn) < 0.25f * (mx - mn)) continue;
        const QPointF c = w->canvas()->toWidget(QPointF((float(x) + 0.5f) * t->scale_x + t->pad_x,
                                                        (float(y) + 0.5f) * t->scale_y + t->pad_y)) *
                          dpr;
        ++hot;
        changed += after.pixel(c.toPoint()) != before.pixel(c.toPoint());
      }
    QVERIFY2(hot > 50 && changed >= hot * 85 / 100,
             qPrintable(QString("%1 of %2 hot pixels changed").arg(changed).arg(hot)));
    QVERIFY(
        control<QLabel>("Predictions", "explainStatus")->text().startsWith(studio::explainMethodName(kDefaultMethod)));
    // Hover the map's hottest pixel: its value and 100 % of the max.
    const size_t am = argmax(r->map);
    const float X = float(am % size_t(r->width)) + 0.5f, Y = float(am / size_t(r->width)) + 0.5f;
    const QPoint p = w->canvas()->toWidget(QPointF(X * t->scale_x + t->pad_x, Y * t->scale_y + t->pad_y)).toPoint();
    QTest::mouseMove(w->canvas(), p + QPoint(1, 0));
    settle();
    QTest::mouseMove(w->canvas(), p);
    settle();
    const QString hover = w->canvas()->explainHoverText();
    const auto m = QRegularExpression(R"(^map\((\d+), (\d+)\) = (\S+), (\S+) % of max$)").match(hover);
    QVERIFY2(m.hasMatch(), qPrintable(hover));
    const int hx = m.captured(1).toInt(), hy = m.captured(2).toInt();
    // Within the original pixels one widget pixel spans (a zoomed-out image packs several).
    const double perPixel =
        (w->canvas()->toWidget(QPointF(1, 0)).x() - w->canvas()->toWidget(QPointF(0, 0)).x()) * double(t->scale_x);
    const int tol = 1 + int(std::ceil(1.0 / perPixel));
    QVERIFY2(std::abs(hx - int(X)) <= tol && std::abs(hy - int(Y)) <= tol, qPrintable(hover));
    const float v = r->map[size_t(hy) * size_t(r->width) + size_t(hx)];
    QCOMPARE(m.captured(3), QString::number(double(v), 'g', 4));
    QCOMPARE(m.captured(4), QString::number(100.0 * double(v) / double(mx), 'f', 1));
    // The screenshot with the mouse on the image off every box (no tooltip over the map, its numbers shown).
    for (int q = 0; q < 100; ++q) {
      const float x = t->pad_x + t->scale_x * t->image_width * (0.05f + 0.09f * float(q % 10)),
                  y = t->pad_y + t->scale_y * t->image_height * (0.05f + 0.09f * float(q / 10));
      const bool inBox = std::any_of(t->detections.begin(), t->detections.end(), [&](const auto& e) {
        return x >= e.box.x1 - 4 && x <= e.box.x2 + 4 && y >= e.box.y1 - 4 && y <= e.box.y2 + 4;
      });
      if (inBox) continue;
      QTest::mouseMove(w->canvas(), w->canvas()->toWidget(QPointF(x, y)).toPoint());
      break;
    }
    settle();
    QVERIFY(w->canvas()->explainHoverText().startsWith("map("));
    QVERIFY(w->grab().save(artifacts + "/explain_tp.png"));
  }

  void cacheAndPickers() {
    QCOMPARE(w->stage(), Stage::Predictions);
    const auto cam = result();
    QVERIFY2(cam, "runs after predictionsMapIsTheSessions, on its map");
    const int n0 = requests();
    auto* method = control<QComboBox>("Predictions", "explainMethod");
    method->setCurrentIndex(method->findData("inputgrad"));
    waitResult(cam->target_kind, cam->index, "inputgrad");
    QCOMPARE(requests(), n0 + 1);
    const auto ig = result();
    QVERIFY(ig->map != cam->map);
    QCOMPARE(ig->map.size(), cam->map.size());
    // Back to Grad-CAM: the cached result itself, at once, with no request.
    method->setCurrentIndex(method->findData(QString::fromStdString(kDefaultMethod)));
    QCOMPARE(result().get(), cam.get());
    QVERIFY(shown().status.endsWith("(cached)"));
    QCOMPARE(requests(), n0 + 1);
    // Another stage and back: still the cache.
    w->setStage(Stage::Image);
    QVERIFY(!result());
    w->setStage(Stage::Predictions);
    QCOMPARE(result().get(), cam.get());
    QCOMPARE(requests(), n0 + 1);
    // A level picked: that level's map (the levels the trace lists).
    auto* level = control<QComboBox>("Predictions", "explainLevel");
    QCOMPARE(level->count(), int(w->trace()->levels.size()) + 1);
    const int own = cam->level, other = own == 0 ? 1 : 0;
    level->setCurrentIndex(other + 1);
    waitResult(cam->target_kind, cam->index, kDefaultMethod);
    QCOMPARE(result()->level, other);
    QCOMPARE(QString::fromStdString(result()->level_name),
             QString::fromStdString(w->trace()->levels[size_t(other)].name));
    QVERIFY(result()->map != cam->map);
    QCOMPARE(requests(), n0 + 2);
    level->setCurrentIndex(0);
    QCOMPARE(result().get(), cam.get());
    // Off: nothing drawn, nothing asked.
    control<QCheckBox>("Predictions", "explainToggle")->click();
    QVERIFY(!result());
    QCOMPARE(requests(), n0 + 2);
    control<QCheckBox>("Predictions", "explainToggle")->click();
    QCOMPARE(result().get(), cam.get());
    // D-RISE with few masks: its progress shows while it runs, then its map.
    QStringList statuses;
    auto c =
        connect(w->context(), &studio::StudioContext::explainShownChanged, this, [&] { statuses << shown().status; });
    control<QSpinBox>("Predictions", "explainMasks")->setValue(64);
    method->setCurrentIndex(method->findData("drise"));
    waitResult(cam->target_kind, cam->index, "drise");
    disconnect(c);
    QCOMPARE(requests(), n0 + 3);
    QVERIFY2(statuses.filter(QRegularExpression("^Computing D-RISE: \\d+ / 64 masks")).size() >= 1,
             qPrintable(statuses.join(" | ")));
    QCOMPARE(result()->map.size(), cam->map.size());
    method->setCurrentIndex(method->findData(QString::fromStdString(kDefaultMethod)));
    QCOMPARE(result().get(), cam.get());
  }

  void missedGtRow() {
    if (m_missImage < 0) QSKIP("no val image with a missed GT explained by a non-flat map");
    QVERIFY(openImage(m_missImage));
    enableDefaults();
    w->setStage(Stage::Predictions);
    settle();
    const auto t = w->trace();
    const int g = m_missGt;
    QVERIFY(missed(t->gt[size_t(g)]));
    auto* button = w->findChild<QPushButton*>(QString("explainGt%1").arg(g));
    QVERIFY(button);
    button->click();
    waitResult("gt", g, kDefaultMethod);
    const auto r = result();
    QCOMPARE(r->label, t->gt[size_t(g)].label);
    QCOMPARE(r->box.x1, t->gt[size_t(g)].box_original.x1);
    const auto d = direct(m_missImage, {"gt", g});
    QCOMPARE(argmax(r->map), argmax(d.map));
    QCOMPARE(d.map.size(), r->map.size());
    for (size_t i = 0; i < d.map.size(); ++i) QVERIFY(std::abs(d.map[i] - r->map[i]) <= 1e-4f);
    settle();
    QVERIFY(w->grab().save(artifacts + "/explain_missed_gt.png"));
  }

  // The Proposals stage explains the selected RoI's proposal (the RPN's objectness). D-RISE cannot (a black
  // box has no objectness): the studio shows the core's message (status line, error path) and goes on.
  void proposalThenAnErrorThenGoesOn() {
    QVERIFY(openImage(m_tpImage));
    enableDefaults();
    w->setStage(Stage::Proposals);
    w->context()->setSelectedRoi(0);
    settle();
    const auto t = w->trace();
    const int k = t->kept[0];
    QTRY_VERIFY2_WITH_TIMEOUT((result() && result()->target_kind == "proposal") || shown().error,
                              qPrintable(shown().status), 120000);
    QVERIFY2(!shown().error, qPrintable("proposal:K: " + shown().status));
    QCOMPARE(result()->index, k);
    QCOMPARE(result()->map.size(), size_t(t->image_width) * size_t(t->image_height));
    QCOMPARE(result()->box.x1, (t->proposals[size_t(k)].box.x1 - t->pad_x) / t->scale_x);
    settle();
    QVERIFY(w->grab().save(artifacts + "/explain_proposal.png"));
    // D-RISE of a proposal: refused with the core's reason, shown.
    const int n0 = requests();
    auto* method = control<QComboBox>("Proposals", "explainMethod");
    method->setCurrentIndex(method->findData("drise"));
    QTRY_VERIFY_WITH_TIMEOUT(shown().error, 60000);
    QCOMPARE(requests(), n0 + 1);
    QVERIFY(!result());
    auto* status = control<QLabel>("Proposals", "explainStatus");
    QCOMPARE(status->text(), shown().status);
    QVERIFY2(shown().status.contains("drise"), qPrintable(shown().status));
    QCOMPARE(w->lastError(), "Explain: " + shown().status);
    // Asked once: another selection event on the same target does not ask again.
    w->context()->setSelectedRoi(0);
    QCOMPARE(requests(), n0 + 1);
    // The studio goes on: back to Grad-CAM (cached), and the Predictions stage explains its detection.
    method->setCurrentIndex(method->findData(QString::fromStdString(kDefaultMethod)));
    QVERIFY(result() && result()->target_kind == "proposal" && !shown().error);
    w->setStage(Stage::Predictions);
    QTRY_VERIFY_WITH_TIMEOUT(result() && result()->target_kind == "det", 120000);
    QVERIFY(!shown().error);
  }

  // The model thread: a bad index fails with the core's message, a newer request cancels a running D-RISE
  // (after some progress), a request made on an older trace is refused as stale.
  void runnerFailsCancelsAndRefusesStale() {
    studio::JobRunner runner(rcnn::load_preset("default"));
    QSignalSpy traces(&runner, &studio::JobRunner::traceReady);
    QSignalSpy done(&runner, &studio::JobRunner::explained);
    QSignalSpy failed(&runner, &studio::JobRunner::explainFailed);
    QSignalSpy progress(&runner, &studio::JobRunner::explainProgress);
    runner.start();
    const auto& ds = w->context()->dataset();
    const auto& rec = ds.images[size_t(m_tpImage)];
    studio::TraceRequest tr;
    tr.checkpoint = bundledModel().toStdString();
    tr.image_path = rec.path;
    tr.gt = rec.objects;
    tr.class_names = ds.class_names;
    runner.post(tr);
    QTRY_VERIFY_WITH_TIMEOUT(traces.count() >= 1, 60000);
    auto trace = traces.last().at(0).value<std::shared_ptr<const rcnn::api::PipelineTrace>>();
    rcnn::api::ExplainRequest bad;
    bad.index = 9999;
    runner.postExplain(bad, "bad", trace);
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, 60000);
    QCOMPARE(failed[0].at(1).toString(), QString("bad"));
    QVERIFY2(failed[0].at(0).toString().startsWith("det:9999"), qPrintable(failed[0].at(0).toString()));
    rcnn::api::ExplainRequest slow;
    slow.method = "drise";
    slow.masks = 4000;
    runner.postExplain(slow, "slow", trace);
    QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 2, 60000);
    rcnn::api::ExplainRequest quick;  // det:0 Grad-CAM
    runner.postExplain(quick, "quick", trace);
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 60000);
    QCOMPARE(done[0].at(1).toString(), QString("quick"));
    QCOMPARE(failed.count(), 2);
    QCOMPARE(failed[1].at(1).toString(), QString("slow"));
    QCOMPARE(failed[1].at(0).toString(), QString("explain: cancelled"));
    QVERIFY(progress.last().at(0).toInt() < 4000);
    // A new trace: a request on the old one is stale.
    studio::TraceRequest seed;
    seed.sample_seed = 7;
    runner.post(seed);
    QTRY_VERIFY_WITH_TIMEOUT(traces.count() >= 2, 60000);
    runner.postExplain(quick, "stale", trace);
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 3, 60000);
    QCOMPARE(failed[2].at(1).toString(), QString("stale"));
    QVERIFY(failed[2].at(0).toString().startsWith("explain: the trace changed"));
    runner.shutdown();
  }

  void cleanupTestCase() {
    delete w;
    w = nullptr;
  }
};

QTEST_MAIN(ExplainTest)
#include "test_explain.moc"
