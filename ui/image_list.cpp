#include "image_list.h"

#include <QApplication>
#include <QPainter>
#include <QStyle>
#include <QStyledItemDelegate>

namespace studio {
namespace {

constexpr int kImageRole = Qt::UserRole + 1;

// Draws the item as the style does (background, selection, focus, caption)
// with its decoration space left empty, then the item's QImage in that space.
class ImageDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const QWidget* w = opt.widget;
    QStyle* style = w ? w->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, p, w);
    const QImage img = index.data(kImageRole).value<QImage>();
    if (img.isNull()) return;
    const QRect cell = style->subElementRect(QStyle::SE_ItemViewItemDecoration, &opt, w);
    QRect r(QPoint(), img.size().scaled(cell.size(), Qt::KeepAspectRatio));
    r.moveCenter(cell.center());
    p->drawImage(r, img);
  }

 protected:
  // The decoration's size is reserved (for the layout and the caption's
  // place); no icon is made, so none is painted through the pixmap cache.
  void initStyleOption(QStyleOptionViewItem* o, const QModelIndex& index) const override {
    QStyledItemDelegate::initStyleOption(o, index);
    if (const auto* list = qobject_cast<const QListWidget*>(parent())) {
      o->features |= QStyleOptionViewItem::HasDecoration;
      o->decorationSize = list->iconSize();
    }
  }
};

}  // namespace

ImageList::ImageList(QSize size, QWidget* parent) : QListWidget(parent) {
  setViewMode(QListView::IconMode);
  setIconSize(size);
  setResizeMode(QListView::Adjust);
  setMovement(QListView::Static);
  setItemDelegate(new ImageDelegate(this));
}

void ImageList::setImages(const std::vector<std::pair<QImage, QString>>& items) {
  clear();
  for (const auto& [img, caption] : items) {
    auto* it = new QListWidgetItem(caption);
    it->setData(kImageRole, img);
    addItem(it);
  }
}

QImage ImageList::image(int row) const {
  const QListWidgetItem* it = item(row);
  return it ? it->data(kImageRole).value<QImage>() : QImage();
}

}  // namespace studio
