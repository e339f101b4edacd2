#pragma once
// Dataset browser: thumbnails with GT counts, class filter, file-name search.
#include <QWidget>

#include "data/dataset.h"

class QListWidget;
class QLineEdit;
class QComboBox;
class QLabel;

namespace studio {

class DatasetPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DatasetPanel(QWidget* parent = nullptr);
  void setDataset(const rcnn::data::Dataset& ds);
  const rcnn::data::Dataset& dataset() const { return m_ds; }
  int currentIndex() const { return m_current; }
  void select(int datasetIndex);
  void step(int delta);  // next/previous visible image
  int visibleCount() const;

 signals:
  void imageSelected(int datasetIndex);

 private:
  void refilter();
  rcnn::data::Dataset m_ds;
  QListWidget* m_list;
  QLineEdit* m_search;
  QComboBox* m_class;
  QLabel* m_info;
  int m_current = -1;
  bool m_updating = false;
};

}  // namespace studio
