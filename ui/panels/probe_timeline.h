#pragma once
// The Training panel's timeline: a run's probe images (api/timeline.h) over
// its evaluations. Pick a probe image and drag the slider: the studio opens
// that iteration's capture at the current stage; the table gives each GT's
// verdict, class score and best candidate IoU there, the chart their scores
// over the iterations with the forgetting events (detected, then lost) marked.
#include <QWidget>
#include <vector>

#include "api/timeline.h"

class QComboBox;
class QSlider;
class QLabel;
class QTableWidget;
class QChart;
class QValueAxis;

namespace studio {

class ProbeTimeline : public QWidget {
  Q_OBJECT
 public:
  explicit ProbeTimeline(QWidget* parent = nullptr);
  // Reads RUN/probes/index.jsonl again (keeps the probe image and the slider's iteration where it can).
  void load(const QString& runDir);
  const std::vector<rcnn::api::ProbeSeries>& series() const { return m_series; }
  int probeIndex() const;
  int evaluation() const;  // the slider's position
  void select(int probe, int evaluation);  // and opens that capture
  QString status() const;  // the line above the table

 signals:
  // The capture of the chosen probe image at the chosen iteration.
  void captureRequested(const QString& file);
  void message(const QString& text);

 private:
  // `open`: the pick is the user's (or select()'s): the studio opens that capture.
  void showProbe(bool open);
  void showEvaluation(bool open);

  QString m_runDir;
  std::vector<rcnn::api::ProbeSeries> m_series;
  QComboBox* m_probe;
  QSlider* m_slider;
  QLabel* m_label;
  QTableWidget* m_table;
  QChart* m_chart;
  QValueAxis *m_x, *m_y;
  bool m_filling = false;
};

}  // namespace studio
