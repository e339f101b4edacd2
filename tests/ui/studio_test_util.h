#pragma once
// What the studio's QTest suites share: the main window under Xvfb, waiting
// for traces, letting the canvas paint, and hovering boxes the way a user's
// mouse would (the canvas's own hover rule picks what is under it).
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QtTest>

#include "api/dataset.h"
#include "canvas/canvas_widget.h"
#include "main_window.h"
#include "studio_context.h"

// This process's resident memory (VmRSS), MiB.
inline double residentMiB() {
  QFile f("/proc/self/status");
  if (!f.open(QIODevice::ReadOnly)) return 0;
  for (const auto& line : f.readAll().split('\n'))
    if (line.startsWith("VmRSS:")) return line.mid(6).trimmed().split(' ').value(0).toDouble() / 1024.0;
  return 0;
}

struct StudioFixture {
  studio::MainWindow* w = nullptr;
  QString artifacts;

  // The window on the embedded dataset's val split (call from initTestCase).
  bool openWindow() {
    qApp->setProperty("rcnn_no_dialogs", true);
    artifacts = qEnvironmentVariable("RCNN_ARTIFACTS", QDir::currentPath() + "/artifacts");
    QDir().mkpath(artifacts);
    w = new studio::MainWindow;
    w->resize(1500, 950);
    w->show();
    if (!QTest::qWaitForWindowExposed(w)) return false;
    QApplication::setActiveWindow(w);
    return w->openDataset(QString::fromStdString(rcnn::api::default_dataset_dir()), "val");
  }
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
};
