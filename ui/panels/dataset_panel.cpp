#include "dataset_panel.h"

#include <QComboBox>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QVBoxLayout>

namespace studio {

DatasetPanel::DatasetPanel(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  m_info = new QLabel("No dataset", this);
  m_info->setWordWrap(true);
  m_search = new QLineEdit(this);
  m_search->setPlaceholderText("Search file names…");
  m_search->setClearButtonEnabled(true);
  m_class = new QComboBox(this);
  m_list = new QListWidget(this);
  m_list->setObjectName("datasetList");
  m_list->setViewMode(QListView::IconMode);
  m_list->setIconSize(QSize(64, 64));
  m_list->setGridSize(QSize(84, 96));
  m_list->setResizeMode(QListView::Adjust);
  m_list->setUniformItemSizes(true);
  lay->addWidget(m_info);
  lay->addWidget(m_search);
  lay->addWidget(m_class);
  lay->addWidget(m_list, 1);
  connect(m_search, &QLineEdit::textChanged, this, &DatasetPanel::refilter);
  connect(m_class, qOverload<int>(&QComboBox::currentIndexChanged), this, &DatasetPanel::refilter);
  connect(m_list, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* it) {
    if (m_updating || !it) return;
    m_current = it->data(Qt::UserRole).toInt();
    emit imageSelected(m_current);
  });
}

void DatasetPanel::setDataset(const rcnn::data::Dataset& ds) {
  m_ds = ds;
  m_updating = true;
  m_class->clear();
  m_class->addItem("All classes");
  for (const auto& c : ds.class_names) m_class->addItem(QString::fromStdString(c));
  m_list->clear();
  for (size_t i = 0; i < ds.images.size(); ++i) {
    const auto& r = ds.images[i];
    QImageReader reader(QString::fromStdString(r.path));
    reader.setScaledSize(QSize(64, 64));
    QImage img = reader.read();
    if (img.isNull()) {
      img = QImage(64, 64, QImage::Format_RGB32);
      img.fill(Qt::darkRed);
    }
    QPixmap pm = QPixmap::fromImage(img);
    auto* it =
        new QListWidgetItem(QIcon(pm), QString("%1\n%2 GT").arg(QString::fromStdString(r.id)).arg(r.objects.size()));
    it->setData(Qt::UserRole, int(i));
    it->setToolTip(QString::fromStdString(r.path));
    m_list->addItem(it);
  }
  const char* fmt[] = {"PASCAL VOC", "COCO", "image folder"};
  m_info->setText(QString("%1 (%2, split %3): %4 images, %5 objects, %6 classes%7")
                      .arg(QString::fromStdString(ds.root))
                      .arg(fmt[int(ds.format)])
                      .arg(QString::fromStdString(ds.split))
                      .arg(ds.images.size())
                      .arg(ds.num_objects())
                      .arg(ds.class_names.size())
                      .arg(ds.issues.empty() ? QString() : QString("; %1 problems skipped").arg(ds.issues.size())));
  m_updating = false;
  m_current = -1;
  refilter();
}

void DatasetPanel::refilter() {
  const QString q = m_search->text();
  const int cls = m_class->currentIndex() - 1;
  for (int k = 0; k < m_list->count(); ++k) {
    auto* it = m_list->item(k);
    const auto& r = m_ds.images[size_t(it->data(Qt::UserRole).toInt())];
    bool show = q.isEmpty() || QString::fromStdString(r.path).contains(q, Qt::CaseInsensitive);
    if (cls >= 0) {
      bool has = false;
      for (const auto& a : r.objects) has |= a.label == cls;
      show = show && has;
    }
    it->setHidden(!show);
  }
}

int DatasetPanel::visibleCount() const {
  int n = 0;
  for (int k = 0; k < m_list->count(); ++k) n += !m_list->item(k)->isHidden();
  return n;
}

void DatasetPanel::select(int idx) {
  for (int k = 0; k < m_list->count(); ++k)
    if (m_list->item(k)->data(Qt::UserRole).toInt() == idx) {
      m_list->setCurrentRow(k);
      m_list->scrollToItem(m_list->item(k));
      return;
    }
}

void DatasetPanel::step(int delta) {
  const int n = m_list->count();
  if (!n) return;
  int k = m_list->currentRow();
  for (int tries = 0; tries < n; ++tries) {
    k = (k + delta + n) % n;
    if (!m_list->item(k)->isHidden()) {
      m_list->setCurrentRow(k);
      m_list->scrollToItem(m_list->item(k));
      return;
    }
  }
}

}  // namespace studio
