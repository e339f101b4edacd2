#include "dataset_panel.h"

#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QSignalBlocker>
#include <QVBoxLayout>

#include "studio_context.h"
#include "thumbnail_model.h"

namespace studio {

DatasetPanel::DatasetPanel(StudioContext& ctx, QWidget* parent) : QWidget(parent), m_ctx(ctx) {
  auto* lay = new QVBoxLayout(this);
  m_info = new QLabel("No dataset", this);
  m_info->setWordWrap(true);
  m_search = new QLineEdit(this);
  m_search->setPlaceholderText("Search file names…");
  m_search->setClearButtonEnabled(true);
  m_class = new QComboBox(this);
  m_model = new ThumbnailModel(2000, this);
  m_list = new QListView(this);
  m_list->setObjectName("datasetList");
  m_list->setModel(m_model);
  m_list->setViewMode(QListView::IconMode);
  m_list->setIconSize(QSize(ThumbnailModel::kSize, ThumbnailModel::kSize));
  m_list->setGridSize(QSize(84, 96));
  m_list->setResizeMode(QListView::Adjust);
  m_list->setUniformItemSizes(true);  // a layout pass does not touch every row
  m_list->setMovement(QListView::Static);
  m_list->setLayoutMode(QListView::Batched);
  lay->addWidget(m_info);
  lay->addWidget(m_search);
  lay->addWidget(m_class);
  lay->addWidget(m_list, 1);
  connect(m_search, &QLineEdit::textChanged, this, &DatasetPanel::refilter);
  connect(m_class, qOverload<int>(&QComboBox::currentIndexChanged), this, &DatasetPanel::refilter);
  connect(m_list->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& cur) {
    if (m_updating || !cur.isValid()) return;
    m_current = m_model->datasetIndex(cur.row());
    emit imageSelected(m_current);
  });
  connect(&m_ctx, &StudioContext::datasetChanged, this, &DatasetPanel::rebuild);
}

DatasetPanel::~DatasetPanel() = default;

int DatasetPanel::thumbnailsLoaded() const {
  return m_model->thumbnailsDecoded();
}
int DatasetPanel::thumbnailsCached() const {
  return m_model->thumbnailsCached();
}

void DatasetPanel::rebuild() {
  const auto& ds = m_ctx.dataset();
  m_updating = true;
  m_model->setDataset(&ds);
  {
    const QSignalBlocker quiet(m_class);  // refilter() once, below
    m_class->clear();
    m_class->addItem("All classes");
    for (const auto& c : ds.class_names) m_class->addItem(QString::fromStdString(c));
  }
  const QString fmt = ds.format == "voc" ? "PASCAL VOC" : ds.format == "coco" ? "COCO" : "image folder";
  m_info->setText(QString("%1 (%2, split %3): %4 images, %5 objects, %6 classes%7")
                      .arg(QString::fromStdString(ds.root))
                      .arg(fmt)
                      .arg(QString::fromStdString(ds.split))
                      .arg(ds.images.size())
                      .arg(ds.num_objects())
                      .arg(ds.class_names.size())
                      .arg(ds.issues.empty() ? QString() : QString("; %1 problems skipped").arg(ds.problems)));
  m_updating = false;
  m_current = -1;
  refilter();
}

void DatasetPanel::refilter() {
  const auto& ds = m_ctx.dataset();
  const QString q = m_search->text();
  const int cls = m_class->currentIndex() - 1;
  std::vector<int> rows;
  rows.reserve(ds.images.size());
  for (int i = 0; i < int(ds.images.size()); ++i) {
    const auto& r = ds.images[size_t(i)];
    bool show = q.isEmpty() || QString::fromStdString(r.path).contains(q, Qt::CaseInsensitive);
    if (show && cls >= 0) {
      bool has = false;
      for (const auto& a : r.objects) has |= a.label == cls;
      show = has;
    }
    if (show) rows.push_back(i);
  }
  m_updating = true;
  m_model->setRows(std::move(rows));
  const int row = m_model->rowOf(m_current);
  if (row >= 0) m_list->setCurrentIndex(m_model->index(row));
  m_updating = false;
}

int DatasetPanel::visibleCount() const {
  return m_model->rowCount();
}

void DatasetPanel::select(int idx) {
  const int row = m_model->rowOf(idx);
  if (row < 0) return;
  m_list->setCurrentIndex(m_model->index(row));
  m_list->scrollTo(m_model->index(row));
}

void DatasetPanel::step(int delta) {
  const int n = m_model->rowCount();
  if (!n) return;
  const int cur = m_list->currentIndex().isValid() ? m_list->currentIndex().row() : -1;
  const int k = ((cur < 0 && delta < 0 ? 0 : cur) + delta + n) % n;
  m_list->setCurrentIndex(m_model->index(k));
  m_list->scrollTo(m_model->index(k));
}

}  // namespace studio
