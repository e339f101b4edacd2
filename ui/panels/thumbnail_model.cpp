#include "thumbnail_model.h"

#include <QImageReader>
#include <QMetaObject>

#include "api/dataset.h"

namespace studio {

ThumbnailModel::ThumbnailModel(int cache_limit, QObject* parent) : QAbstractListModel(parent) {
  m_cache.setMaxCost(cache_limit);
  m_placeholder = QImage(kSize, kSize, QImage::Format_RGB32);
  m_placeholder.fill(Qt::darkGray);
  m_thread = std::thread([this] { worker(); });
}

ThumbnailModel::~ThumbnailModel() {
  {
    QMutexLocker lk(&m_mu);
    m_quit = true;
  }
  m_wake.wakeAll();
  m_thread.join();
}

void ThumbnailModel::setDataset(const rcnn::api::DatasetInfo* ds) {
  beginResetModel();
  m_ds = ds;
  m_cache.clear();
  {
    QMutexLocker lk(&m_mu);
    m_queue.clear();
    m_queued.clear();
    ++m_generation;
  }
  m_rows.clear();
  m_rowOf.assign(ds ? ds->images.size() : 0, -1);
  for (int i = 0; ds && i < int(ds->images.size()); ++i) m_rows.push_back(i), m_rowOf[size_t(i)] = i;
  endResetModel();
}

void ThumbnailModel::setRows(std::vector<int> rows) {
  beginResetModel();
  m_rows.clear();
  std::fill(m_rowOf.begin(), m_rowOf.end(), -1);
  for (int i : rows)
    if (i >= 0 && i < int(m_rowOf.size())) m_rowOf[size_t(i)] = int(m_rows.size()), m_rows.push_back(i);
  endResetModel();
}

int ThumbnailModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_rows.size());
}

int ThumbnailModel::rowOf(int datasetIndex) const {
  return datasetIndex >= 0 && datasetIndex < int(m_rowOf.size()) ? m_rowOf[size_t(datasetIndex)] : -1;
}

int ThumbnailModel::thumbnailsCached() const {
  return m_cache.size();
}

QVariant ThumbnailModel::data(const QModelIndex& index, int role) const {
  const int i = datasetIndex(index.row());
  if (!m_ds || i < 0) return {};
  const auto& r = m_ds->images[size_t(i)];
  switch (role) {
    case Qt::DisplayRole:
      return QString("%1\n%2 GT").arg(QString::fromStdString(r.id)).arg(r.objects.size());
    case Qt::ToolTipRole:
      return QString::fromStdString(r.path);
    case Qt::UserRole:
      return i;
    case Qt::DecorationRole:
      if (const QImage* t = m_cache.object(i)) return *t;
      request(i);  // the view paints what it shows: decode this one soon
      return m_placeholder;
    default:
      return {};
  }
}

void ThumbnailModel::request(int i) const {
  QMutexLocker lk(&m_mu);
  if (m_queued.contains(i)) return;
  m_queued.insert(i);
  m_queue.emplace_front(i, QString::fromStdString(m_ds->images[size_t(i)].path));
  // Scrolled past: a long queue of rows no longer in view is dropped from its old end.
  while (m_queue.size() > 512) {
    m_queued.remove(m_queue.back().first);
    m_queue.pop_back();
  }
  m_wake.wakeOne();
}

void ThumbnailModel::worker() {
  for (;;) {
    std::pair<int, QString> job;
    unsigned gen;
    {
      QMutexLocker lk(&m_mu);
      while (!m_quit && m_queue.empty()) m_wake.wait(&m_mu);
      if (m_quit) return;
      job = m_queue.front();
      m_queue.pop_front();
      gen = m_generation;
    }
    QImageReader reader(job.second);
    const QSize full = reader.size();
    if (full.isValid()) reader.setScaledSize(full.scaled(kSize, kSize, Qt::KeepAspectRatio));
    QImage img = reader.read();
    if (img.isNull()) {
      img = QImage(kSize, kSize, QImage::Format_RGB32);
      img.fill(Qt::darkRed);  // unreadable: shown, not hidden
    }
    QMetaObject::invokeMethod(
        this, [this, i = job.first, gen, img = std::move(img)] { delivered(i, gen, img); }, Qt::QueuedConnection);
  }
}

void ThumbnailModel::delivered(int i, unsigned generation, QImage img) {
  {
    QMutexLocker lk(&m_mu);
    m_queued.remove(i);
    if (generation != m_generation) return;
  }
  m_cache.insert(i, new QImage(std::move(img)), 1);
  ++m_decoded;
  const int row = rowOf(i);
  if (row >= 0) emit dataChanged(index(row), index(row), {Qt::DecorationRole});
}

}  // namespace studio
