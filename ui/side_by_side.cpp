#include "side_by_side.h"

#include <QFileInfo>
#include <QLabel>
#include <QVBoxLayout>

#include "canvas/canvas_widget.h"
#include "stages/trace_helpers.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;

SideBySide::SideBySide(StudioContext& a, CanvasWidget& canvasA, QWidget* parent)
    : QWidget(parent), m_a(a), m_ctx(new StudioContext(this)) {
  setObjectName("sideBySide");
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(0, 0, 0, 0);
  m_header = new QLabel(this);
  m_header->setObjectName("sideBySideHeader");
  m_header->setWordWrap(true);
  m_header->setTextFormat(Qt::RichText);
  m_canvas = new CanvasWidget(*m_ctx, this);
  // The header goes under B's canvas, so both canvases start at the same height
  // and a shared zoom and pan put an image point at the same place in each.
  lay->addWidget(m_canvas, 1);
  lay->addWidget(m_header);
  // B follows A: stage, selection, view options; zoom and pan both ways.
  auto follow = [this] {
    m_ctx->setStage(m_a.stage());
    m_ctx->setSelectedGt(m_a.selectedGt());
    m_ctx->setSelectedRoi(m_a.selectedRoi());
    m_ctx->setView(m_a.view());
  };
  connect(&m_a, &StudioContext::stageChanged, this, follow);
  connect(&m_a, &StudioContext::selectionChanged, this, follow);
  connect(&m_a, &StudioContext::viewChanged, this, [this] { m_ctx->setView(m_a.view()); });
  connect(&m_a, &StudioContext::datasetChanged, this, [this] { m_ctx->setDataset(m_a.dataset()); });
  connect(&canvasA, &CanvasWidget::viewTransformChanged, m_canvas, &CanvasWidget::setViewTransform);
  connect(m_canvas, &CanvasWidget::viewTransformChanged, &canvasA, &CanvasWidget::setViewTransform);
  connect(&m_a, &StudioContext::traceChanged, this, &SideBySide::updateHeader);
  connect(m_ctx, &StudioContext::traceChanged, this, &SideBySide::updateHeader);
  follow();
}

SideBySide::~SideBySide() = default;

void SideBySide::open(const QString& checkpoint, const rcnn::DetectorConfig& cfg, const TraceRequest& image) {
  if (!m_job) {
    m_job = new JobRunner(cfg, this);
    connect(m_job, &JobRunner::traceReady, this, [this](std::shared_ptr<const PipelineTrace> t, double ms) {
      ++m_traces;
      m_ctx->setTrace(t, ms);
    });
    connect(m_job, &JobRunner::failed, this, &SideBySide::failed);
    connect(m_job, &JobRunner::modelChanged, this, [this](QString label, bool random, QString) {
      m_label = random ? "random weights" : QFileInfo(label).fileName();
      updateHeader();
    });
    m_job->start();
  }
  m_label = checkpoint.isEmpty() ? "random weights" : QFileInfo(checkpoint).fileName();
  TraceRequest r = image;
  r.train_view = rcnn::api::stage_shows_training_step(m_a.stage());
  r.config = cfg;
  r.checkpoint = checkpoint.toStdString();  // "" = random weights
  m_job->post(r);
  show();
}

void SideBySide::mirror(const TraceRequest& r) {
  if (!m_job || !isVisible()) return;
  TraceRequest m;
  m.image_path = r.image_path;
  m.gt = r.gt;
  m.class_names = r.class_names;
  m.sample_seed = r.sample_seed;
  m.feature_channel = r.feature_channel;
  m.train_view = r.train_view;
  if (m.image_path || m.sample_seed || m.feature_channel || m.train_view) m_job->post(m);
}

QString SideBySide::headerText() const {
  return m_header->text();
}

void SideBySide::updateHeader() {
  const auto& ta = m_a.trace();
  const auto& tb = m_ctx->trace();
  QString s = QString("<b>B: %1</b>").arg(m_label.toHtmlEscaped());
  // The two traces are of one image when their GT lists agree box for box.
  bool same = ta && tb && ta->gt.size() == tb->gt.size() && ta->image_width == tb->image_width &&
              ta->image_height == tb->image_height;
  for (size_t g = 0; same && g < ta->gt.size(); ++g)
    same = ta->gt[g].box_original.x1 == tb->gt[g].box_original.x1 && ta->gt[g].label == tb->gt[g].label;
  if (!same) {
    m_header->setText(s + (tb ? " · (waiting for the same image)" : " · loading…"));
    return;
  }
  int da = 0, db = 0, counted = 0;
  QStringList diff;
  for (size_t g = 0; g < ta->gt.size(); ++g) {
    const auto fa = ta->gt[g].funnel, fb = tb->gt[g].funnel;
    if (fa == Funnel::Ignored) continue;
    ++counted;
    da += fa == Funnel::Detected;
    db += fb == Funnel::Detected;
    if ((fa == Funnel::Detected) == (fb == Funnel::Detected)) continue;
    diff << QString("GT %1 %2: %3")
                .arg(g)
                .arg(className(*ta, ta->gt[g].label).toHtmlEscaped())
                .arg(fa == Funnel::Detected ? QString("A detects, B lost at %1").arg(funnel_name(fb))
                                            : QString("B detects, A lost at %1").arg(funnel_name(fa)));
  }
  s += QString(" · this image: A detects %1 of %2 GTs, B %3").arg(da).arg(counted).arg(db);
  if (!diff.isEmpty()) s += "<br>" + diff.join("<br>");
  m_header->setText(s);
}

}  // namespace studio
