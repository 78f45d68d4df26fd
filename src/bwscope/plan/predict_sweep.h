// The roofline model beside a sweep's measurements: for every point that ran, what plan
// predicts from the roofs measured right before it, the error, and for an outlier what the
// model leaves out.
#pragma once

#include <optional>
#include <string>

#include "bwscope/plan/roofline.h"
#include "bwscope/report/sweep_report.h"

namespace bwscope::plan {

// The prediction for one measured point at `efficiency`.
report::PointPrediction predict_point(const report::SweepReport& report, const report::PointResult& result, double efficiency);
// Fills report.predictions and report.efficiency: `efficiency`, else the stored calibration
// (calibrated_efficiency()).
void predict_sweep(report::SweepReport& report, std::optional<double> efficiency);
// The efficiency that makes the median point exact: the median of measured / predicted decode
// tokens/s at efficiency 1 over the points that ran. 0 when none did.
double fit_efficiency(const report::SweepReport& report);

}  // namespace bwscope::plan
