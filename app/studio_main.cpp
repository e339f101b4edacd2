// rcnn-studio: the GUI. Usage: rcnn-studio [DATASET_OR_IMAGE] [--checkpoint FILE]
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QSurfaceFormat>
#include <QTimer>

#include "config/detector_config.h"
#include "api/dataset.h"
#include "main_window.h"
#include "theme.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("RCNN Studio");
  QApplication::setApplicationName("rcnn-studio");
  studio::applyTheme(app);
  QCommandLineParser p;
  p.setApplicationDescription("RCNN Studio: step through every stage of a two-stage detector");
  p.addHelpOption();
  p.addPositionalArgument("input", "dataset directory, COCO .json, image, or nothing for the embedded dataset");
  QCommandLineOption ckpt("checkpoint", "checkpoint to load", "file");
  QCommandLineOption stage("stage", "initial stage 1-7", "n");
  QCommandLineOption shot("screenshot", "save a screenshot of the window after loading and quit", "png");
  p.addOptions({ckpt, stage, shot});
  p.process(app);
  studio::MainWindow w;
  w.show();
  const QStringList pos = p.positionalArguments();
  QString input = pos.isEmpty() ? QString::fromStdString(rcnn::api::default_dataset_dir()) : pos.first();
  if (QFileInfo(input).isFile() && QFileInfo(input).suffix() != "json")
    w.openImageFile(input);
  else
    w.openDataset(input);
  if (p.isSet(ckpt)) w.openCheckpoint(p.value(ckpt));
  if (p.isSet(stage)) w.setStage(rcnn::api::Stage(std::clamp(p.value(stage).toInt(), 1, 7) - 1));
  if (p.isSet(shot)) {
    const QString out = p.value(shot);
    QTimer::singleShot(4000, &w, [&w, out] {
      w.grab().save(out);
      QApplication::quit();
    });
  }
  return app.exec();
}
