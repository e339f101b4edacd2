#include "theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyleFactory>

namespace studio {

void applyTheme(QApplication& app) {
  const QByteArray want = qgetenv("RCNN_THEME");
  const bool platformDark = app.palette().color(QPalette::Window).lightness() < 128;
  const bool dark = want == "dark" || (want != "light" && platformDark);
  app.setStyle(QStyleFactory::create("Fusion"));
  if (!dark) return;
  QPalette p;
  p.setColor(QPalette::Window, QColor(45, 45, 48));
  p.setColor(QPalette::WindowText, QColor(220, 220, 220));
  p.setColor(QPalette::Base, QColor(30, 30, 32));
  p.setColor(QPalette::AlternateBase, QColor(45, 45, 48));
  p.setColor(QPalette::ToolTipBase, QColor(60, 60, 64));
  p.setColor(QPalette::ToolTipText, QColor(230, 230, 230));
  p.setColor(QPalette::Text, QColor(220, 220, 220));
  p.setColor(QPalette::Button, QColor(55, 55, 58));
  p.setColor(QPalette::ButtonText, QColor(220, 220, 220));
  p.setColor(QPalette::Highlight, QColor(42, 130, 218));
  p.setColor(QPalette::HighlightedText, Qt::black);
  p.setColor(QPalette::Mid, QColor(90, 90, 95));
  p.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 120, 120));
  p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 120, 120));
  app.setPalette(p);
}

}  // namespace studio
