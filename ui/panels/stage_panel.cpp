#include "stage_panel.h"

#include <QLabel>
#include <QStackedWidget>
#include <QVBoxLayout>

#include "stages/stage_view.h"
#include "studio_context.h"

namespace studio {
using namespace rcnn::api;

StagePanel::StagePanel(StudioContext& ctx, QWidget* parent) : QWidget(parent), m_ctx(ctx) {
  auto* lay = new QVBoxLayout(this);
  m_title = new QLabel(this);
  m_title->setObjectName("stageTitle");
  m_title->setStyleSheet("font-size: 15px; font-weight: bold;");
  m_explain = new QLabel(this);
  m_explain->setWordWrap(true);
  m_formula = new QLabel(this);
  m_formula->setObjectName("stageFormula");
  m_formula->setWordWrap(true);
  m_formula->setTextFormat(Qt::RichText);
  m_formula->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_formula->setStyleSheet("font-family: monospace; padding: 4px; border: 1px solid palette(mid);");
  m_formula->setMinimumHeight(96);
  m_formula->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  m_formula->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  m_counts = new QLabel(this);
  m_counts->setObjectName("stageCounts");
  m_counts->setWordWrap(true);
  m_pages = new QStackedWidget(this);
  for (const auto& s : m_ctx.stages()) m_pages->addWidget(s->buildPage(m_pages));
  lay->addWidget(m_title);
  lay->addWidget(m_explain);
  lay->addWidget(m_formula);
  lay->addWidget(m_counts);
  lay->addWidget(m_pages, 1);
  connect(&m_ctx, &StudioContext::stageChanged, this, &StagePanel::refresh);
  connect(&m_ctx, &StudioContext::traceChanged, this, &StagePanel::refresh);
  connect(&m_ctx, &StudioContext::hoverChanged, this, &StagePanel::refreshFormula);
  connect(&m_ctx, &StudioContext::selectionChanged, this, &StagePanel::refreshFormula);
  refresh();
}

QString StagePanel::countsText() const {
  return m_counts->text();
}
QString StagePanel::formulaText() const {
  return m_formula->text();
}
int StagePanel::positiveCount() const {
  int n = 0;
  if (m_ctx.trace())
    for (auto a : m_ctx.trace()->anchor_label) n += a == AnchorLabel::Positive;
  return n;
}

void StagePanel::refresh() {
  auto& view = m_ctx.currentView();
  const int s = int(m_ctx.stage());
  m_title->setText(QString("%1. %2").arg(s + 1).arg(view.title()));
  m_explain->setText(view.explanation(m_ctx.trace().get()));
  m_pages->setCurrentIndex(s);
  const auto& t = m_ctx.trace();
  if (!t) {
    m_counts->setText("No image yet.");
    m_formula->clear();
    return;
  }
  QString c = view.counts(*t);
  if (t->random_weights && s >= int(Stage::Proposals))
    c += "<br><b style='color:#f55'>Random weights: load a checkpoint for meaningful proposals and predictions.</b>";
  m_counts->setText(c);
  refreshFormula();
}

void StagePanel::refreshFormula() {
  const auto& t = m_ctx.trace();
  if (!t) return;
  // The context drops a hover that does not address the current trace.
  m_formula->setText(m_ctx.currentView().formula(*t, m_ctx.hover()));
}

}  // namespace studio
