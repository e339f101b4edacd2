#include "timing_text.h"

#include <QStringList>

namespace studio {

QString timing_text(const rcnn::api::PipelineTrace& t, double ms, double peak_gflops) {
  double stage_ms = 0;
  for (const auto& [k, v] : t.timings_ms) stage_ms += v;
  QString text = QString("trace %1 ms").arg(ms, 0, 'f', 1);
  const QString precision = QString::fromStdString(t.precision);
  if (t.flops > 0 && stage_ms > 0) {
    const double rate = t.flops / (stage_ms / 1e3) / 1e9;
    text += QString(", %1 GFLOP at %2 GFLOP/s").arg(t.flops / 1e9, 0, 'f', 2).arg(rate, 0, 'f', 0);
    if (peak_gflops > 0)
      text += QString(" of a measured %1 GFLOP/s %2 peak (%3 %)")
                  .arg(peak_gflops, 0, 'f', 0)
                  .arg(precision)
                  .arg(100 * rate / peak_gflops, 0, 'f', 0);
  }
  if (precision != "fp32" && !(t.flops > 0 && peak_gflops > 0)) text += ", " + precision;
  return text;
}

QString timing_tooltip(const rcnn::api::PipelineTrace& t) {
  QStringList parts;
  for (const auto& [k, v] : t.timings_ms) parts << QString("%1 %2 ms").arg(QString::fromStdString(k)).arg(v, 0, 'f', 1);
  return "Recomputed stages: " + parts.join(", ");
}

}  // namespace studio
