// rcnn-studio: the GUI. Usage: rcnn-studio [DATASET_OR_IMAGE_OR_CAPTURE] [--checkpoint FILE]
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QSurfaceFormat>
#include <QTimer>

#include "config/detector_config.h"
#include "api/dataset.h"
#include "api/devices.h"
#include "main_window.h"
#include "theme.h"

int main(int argc, char** argv) {
  rcnn::api::tune_process_allocator();  // before Qt starts its threads
  QApplication app(argc, argv);
  QApplication::setOrganizationName("RCNN Studio");
  QApplication::setApplicationName("rcnn-studio");
  studio::applyTheme(app);
  QCommandLineParser p;
  p.setApplicationDescription("RCNN Studio: step through every stage of a two-stage detector");
  p.addHelpOption();
  p.addPositionalArgument(
      "input", "dataset directory, COCO .json, image, capture (.rcnncap), or nothing for the embedded dataset");
  QCommandLineOption ckpt("checkpoint", "model to load: ours (.pt) or a torchvision state dict (.pth)", "file");
  QCommandLineOption config("config", "preset (seed, default, fast, torchvision_*) or JSON config", "name");
  QCommandLineOption classes("classes", "the model's class names, one per line", "file");
  QCommandLineOption beside("beside", "show model B (a checkpoint) beside the model on the same image", "file");
  QCommandLineOption stage("stage", "initial stage 1-9 (the Stage menu's order)", "n");
  QCommandLineOption shot("screenshot", "save a screenshot of the window after loading and quit", "png");
  QCommandLineOption delay("screenshot-delay", "milliseconds before the screenshot (default 4000)", "ms", "4000");
  QCommandLineOption timeline("timeline", "show this run directory's probe timeline (Training → Timeline)", "run");
  QCommandLineOption timelineAt("timeline-at", "with --timeline: open its K-th evaluation (0-based; default: the last)",
                                "k");
  p.addOptions({ckpt, config, classes, beside, stage, shot, delay, timeline, timelineAt});
  p.process(app);
  studio::MainWindow w;
  w.show();
  const QStringList pos = p.positionalArguments();
  QString input = pos.isEmpty() ? QString::fromStdString(rcnn::api::default_dataset_dir()) : pos.first();
  if (QFileInfo(input).suffix() == "rcnncap")
    w.openCapture(input);  // no model needed: the capture holds every stage
  else if (QFileInfo(input).isFile() && QFileInfo(input).suffix() != "json")
    w.openImageFile(input);
  else
    w.openDataset(input);
  if (p.isSet(config)) w.loadConfig(p.value(config));
  if (p.isSet(ckpt)) w.openCheckpoint(p.value(ckpt));
  if (p.isSet(classes)) w.loadClassNames(p.value(classes));
  if (p.isSet(beside)) w.showSideBySide(p.value(beside));
  if (p.isSet(stage)) w.setStage(rcnn::api::Stage(std::clamp(p.value(stage).toInt(), 1, rcnn::api::kNumStages) - 1));
  if (p.isSet(timeline)) {
    const int at = p.isSet(timelineAt) ? p.value(timelineAt).toInt() : -1;
    QTimer::singleShot(1500, &w, [&w, run = p.value(timeline), at] { w.showTimeline(run, at); });
  }
  if (p.isSet(shot)) {
    const QString out = p.value(shot);
    QTimer::singleShot(p.value(delay).toInt(), &w, [&w, out] {
      w.grab().save(out);
      QApplication::quit();
    });
  }
  return app.exec();
}
