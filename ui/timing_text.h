#pragma once
// The status bar's account of the last trace: its time, per recomputed
// stage, and the arithmetic those stages did against the machine's
// measured peak at the trace's precision.
#include <QString>

#include "api/trace.h"

namespace studio {

// "trace 35.2 ms, 2.10 GFLOP at 95 GFLOP/s of a measured 305 GFLOP/s fp32
// peak (31 %)". The rate is FLOPs over the recomputed stages' own time; it
// is left out when they did no convolution or matrix product, the peak
// while it is unknown (peak_gflops <= 0).
QString timing_text(const rcnn::api::PipelineTrace& t, double ms, double peak_gflops);
// "Recomputed stages: backbone 20.1 ms, ..." (the label's tooltip).
QString timing_tooltip(const rcnn::api::PipelineTrace& t);

}  // namespace studio
