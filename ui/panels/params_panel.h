#pragma once
// Every option of the detector config, edited with immediate effect: each
// change is validated and emitted; the job thread recomputes only what the
// change touches.
#include <QWidget>
#include <functional>
#include <vector>

#include "config/detector_config.h"

class QLabel;
class QComboBox;
class QFormLayout;

namespace studio {

class ParamsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ParamsPanel(QWidget* parent = nullptr);
  void setConfig(const rcnn::DetectorConfig& c);  // no signal
  const rcnn::DetectorConfig& config() const { return m_cfg; }
  // Sets one value by dotted key (as rcnn --set), refreshes the widgets and emits.
  bool setValue(const QString& key, const QString& json);
  // Several values at once (one validation, one question, one configChanged).
  bool setValues(const QStringList& keys, const QStringList& values);
  void loadPreset(const QString& name);
  // Asked before a change to a field that alters weight shapes (the model
  // would restart from random weights); false keeps the old value.
  void setShapeChangeGuard(std::function<bool(const QString& key)> guard) { m_guard = std::move(guard); }

 signals:
  void configChanged(const rcnn::DetectorConfig& c);
  void message(const QString& text);

 private:
  void rebuild();
  void apply(const QString& key, const QString& json);
  void applyAll(const QStringList& keys, const QStringList& values);

  rcnn::DetectorConfig m_cfg;
  QFormLayout* m_form;
  QLabel* m_error;
  QComboBox* m_preset;
  std::vector<std::function<void()>> m_refreshers;
  std::vector<std::pair<QWidget*, int>> m_rows;  // a row's widget, 1: torchvision's, 0: the seed's, -1: both
  bool m_updating = false;
  std::function<bool(const QString&)> m_guard;
};

}  // namespace studio
