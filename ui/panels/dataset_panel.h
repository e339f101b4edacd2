#pragma once
// Dataset browser over the studio context's dataset: thumbnails with GT
// counts, class filter, file-name search. A QListView over ThumbnailModel:
// only the rows in view are decoded (on a worker thread) and a bounded cache
// keeps them, so a dataset of any size opens at once in bounded memory.
#include <QWidget>
#include <atomic>
#include <memory>

class QListView;
class QLineEdit;
class QComboBox;
class QLabel;

namespace studio {

class ThumbnailModel;

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
  int thumbnailsLoaded() const;  // decoded so far (only rows that were shown)
  int thumbnailsCached() const;  // held now (bounded by the model's cache)

 signals:
  void imageSelected(int datasetIndex);

 private:
  void rebuild();
  void refilter();
  StudioContext& m_ctx;
  ThumbnailModel* m_model;
  QListView* m_list;
  QLineEdit* m_search;
  QComboBox* m_class;
  QLabel* m_info;
  int m_current = -1;
  bool m_updating = false;
};

}  // namespace studio
