#include "dataset_panel.h"

#include <QComboBox>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QPointer>
#include <QThreadPool>
#include <QVBoxLayout>

#include "studio_context.h"

namespace studio {

DatasetPanel::DatasetPanel(StudioContext& ctx, QWidget* parent) : QWidget(parent), m_ctx(ctx) {
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
  connect(&m_ctx, &StudioContext::datasetChanged, this, &DatasetPanel::rebuild);
}

DatasetPanel::~DatasetPanel() {
  if (m_cancel) *m_cancel = true;
  QThreadPool::globalInstance()->waitForDone();
}

void DatasetPanel::rebuild() {
  const auto& ds = m_ctx.dataset();
  m_updating = true;
  m_class->clear();
  m_class->addItem("All classes");
  for (const auto& c : ds.class_names) m_class->addItem(QString::fromStdString(c));
  m_list->clear();
  QPixmap placeholder(64, 64);
  placeholder.fill(Qt::darkGray);
  const QIcon icon(placeholder);
  for (size_t i = 0; i < ds.images.size(); ++i) {
    const auto& r = ds.images[i];
    auto* it =
        new QListWidgetItem(icon, QString("%1\n%2 GT").arg(QString::fromStdString(r.id)).arg(r.objects.size()));
    it->setData(Qt::UserRole, int(i));
    it->setToolTip(QString::fromStdString(r.path));
    m_list->addItem(it);
  }
  const QString fmt = ds.format == "voc" ? "PASCAL VOC" : ds.format == "coco" ? "COCO" : "image folder";
  m_info->setText(QString("%1 (%2, split %3): %4 images, %5 objects, %6 classes%7")
                      .arg(QString::fromStdString(ds.root))
                      .arg(fmt)
                      .arg(QString::fromStdString(ds.split))
                      .arg(ds.images.size())
                      .arg(ds.num_objects())
                      .arg(ds.class_names.size())
                      .arg(ds.issues.empty() ? QString() : QString("; %1 problems skipped").arg(ds.issues.size())));
  m_updating = false;
  m_current = -1;
  refilter();
  loadThumbnails();
}

void DatasetPanel::loadThumbnails() {
  if (m_cancel) *m_cancel = true;  // the previous dataset's worker stops at its next image
  m_cancel = std::make_shared<std::atomic<bool>>(false);
  m_thumbs = 0;
  std::vector<QString> paths;
  for (const auto& r : m_ctx.dataset().images) paths.push_back(QString::fromStdString(r.path));
  auto cancel = m_cancel;
  QPointer<DatasetPanel> self(this);
  QThreadPool::globalInstance()->start([self, cancel, paths = std::move(paths)] {
    std::vector<std::pair<int, QImage>> batch;
    auto flush = [&] {
      if (batch.empty()) return;
      QMetaObject::invokeMethod(
          self, [self, cancel, b = batch] {
            if (!self || *cancel) return;
            for (const auto& [i, img] : b)
              if (i < self->m_list->count()) self->m_list->item(i)->setIcon(QIcon(QPixmap::fromImage(img)));
            self->m_thumbs += int(b.size());
          },
          Qt::QueuedConnection);
      batch.clear();
    };
    for (size_t i = 0; i < paths.size() && !*cancel; ++i) {
      QImageReader reader(paths[i]);
      reader.setScaledSize(QSize(64, 64));
      QImage img = reader.read();
      if (img.isNull()) {
        img = QImage(64, 64, QImage::Format_RGB32);
        img.fill(Qt::darkRed);
      }
      batch.emplace_back(int(i), std::move(img));
      if (batch.size() >= 32) flush();
    }
    flush();
  });
}

void DatasetPanel::refilter() {
  const QString q = m_search->text();
  const int cls = m_class->currentIndex() - 1;
  for (int k = 0; k < m_list->count(); ++k) {
    auto* it = m_list->item(k);
    const auto& r = m_ctx.dataset().images[size_t(it->data(Qt::UserRole).toInt())];
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
