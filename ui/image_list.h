#pragma once
// A list of small images with captions, in icon mode: the RoIAlign stage's
// gallery of kept proposals, refilled on every new trace.
//
// The images are painted directly by the list's delegate. The obvious
// alternative, an item holding a QIcon made from a new QPixmap, goes through
// Qt's application-wide QPixmapCache each time it is painted, keyed by that
// pixmap: in Qt 6.4 every refill then leaves its images in the cache (up to
// its 10 MiB limit) and keeps growing after that, about 250 bytes per image
// ever shown, never given back (docs/reliability.md, "GUI soak").
#include <QImage>
#include <QListWidget>
#include <QString>
#include <utility>
#include <vector>

namespace studio {

class ImageList : public QListWidget {
  Q_OBJECT
 public:
  // size: the cell each image is drawn into (aspect ratio kept).
  explicit ImageList(QSize size, QWidget* parent = nullptr);
  // Replaces every item: one per image, with its caption.
  void setImages(const std::vector<std::pair<QImage, QString>>& items);
  // The image item `row` shows (null when out of range).
  QImage image(int row) const;
};

}  // namespace studio
