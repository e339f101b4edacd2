#pragma once
// The dataset browser's model: one row per image of the context's dataset
// that passes the filter. Thumbnails are decoded on demand, only for rows the
// view asks for (the visible ones), newest request first, on one background
// thread, and kept in a cache of bounded size (least recently used out), so
// browsing a dataset of any size keeps memory bounded.
#include <QAbstractListModel>
#include <QCache>
#include <QImage>
#include <QMutex>
#include <QSet>
#include <QWaitCondition>

#include <deque>
#include <thread>
#include <vector>

namespace rcnn::api {
struct DatasetInfo;
}

namespace studio {

class ThumbnailModel : public QAbstractListModel {
  Q_OBJECT
 public:
  static constexpr int kSize = 64;  // pixels, square
  // cache_limit: thumbnails kept (64 x 64 x 4 bytes = 16 KiB each).
  explicit ThumbnailModel(int cache_limit = 2000, QObject* parent = nullptr);
  ~ThumbnailModel() override;

  // A new dataset (all rows visible). The model keeps a pointer: the dataset
  // must outlive the next setDataset().
  void setDataset(const rcnn::api::DatasetInfo* ds);
  // Shows the dataset indices in `rows`, in that order.
  void setRows(std::vector<int> rows);

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  int datasetIndex(int row) const { return row >= 0 && row < int(m_rows.size()) ? m_rows[size_t(row)] : -1; }
  int rowOf(int datasetIndex) const;

  int thumbnailsDecoded() const { return m_decoded; }
  int thumbnailsCached() const;
  int cacheLimit() const { return m_cache.maxCost(); }

 private:
  void request(int datasetIndex) const;  // queue a decode (newest first)
  void worker();
  void delivered(int datasetIndex, unsigned generation, QImage img);

  const rcnn::api::DatasetInfo* m_ds = nullptr;
  std::vector<int> m_rows;
  std::vector<int> m_rowOf;  // dataset index -> row, -1 when filtered out
  QImage m_placeholder;
  mutable QCache<int, QImage> m_cache;  // dataset index -> thumbnail (GUI thread only)
  int m_decoded = 0;

  // The decode queue, shared with the worker thread.
  mutable QMutex m_mu;
  mutable QWaitCondition m_wake;
  mutable std::deque<std::pair<int, QString>> m_queue;  // newest at the front
  mutable QSet<int> m_queued;
  unsigned m_generation = 0;  // bumped by setDataset: late results of the old dataset are dropped
  bool m_quit = false;
  std::thread m_thread;
};

}  // namespace studio
