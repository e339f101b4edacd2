#pragma once
// Dataset browser over the studio context's dataset: thumbnails with GT
// counts, class filter, file-name search. Thumbnails are decoded on a worker
// thread and arrive in batches, so a large dataset opens at once.
#include <QWidget>
#include <atomic>
#include <memory>

class QListWidget;
class QLineEdit;
class QComboBox;
class QLabel;

namespace studio {

class StudioContext;

class DatasetPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DatasetPanel(StudioContext& ctx, QWidget* parent = nullptr);
  ~DatasetPanel() override;
  int currentIndex() const { return m_current; }
  void select(int datasetIndex);
  void step(int delta);  // next/previous visible image
  int visibleCount() const;
  int thumbnailsLoaded() const { return m_thumbs; }

 signals:
  void imageSelected(int datasetIndex);

 private:
  void rebuild();
  void refilter();
  void loadThumbnails();
  StudioContext& m_ctx;
  std::shared_ptr<std::atomic<bool>> m_cancel;  // set to stop the current thumbnail worker
  int m_thumbs = 0;
  QListWidget* m_list;
  QLineEdit* m_search;
  QComboBox* m_class;
  QLabel* m_info;
  int m_current = -1;
  bool m_updating = false;
};

}  // namespace studio
