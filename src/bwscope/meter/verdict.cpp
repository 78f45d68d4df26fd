// The verdict: bandwidth-bound when MBU reaches the threshold; otherwise the nearer roof
// (compute, when MFU is the larger fraction of its roof) or neither (latency and overhead).
#include "bwscope/meter/verdict.h"

#include <cmath>

#include <fmt/format.h>

#include "bwscope/base/error.h"

namespace bwscope::meter {
namespace {

void check(double v, const char* what) {
  if (!std::isfinite(v) || v < 0) fail("verdict: {} = {} is not a finite non-negative number", what, v);
}

std::string pct(double fraction) { return fmt::format("{:.1f} %", 100.0 * fraction); }

}  // namespace

std::string bound_name(Bound b) {
  switch (b) {
    case Bound::Bandwidth: return "bandwidth";
    case Bound::Compute: return "compute";
    default: return "neither";
  }
}

Verdict judge(const VerdictInput& in) {
  check(in.achieved_gbs, "achieved bandwidth");
  check(in.attainable_gbs, "attainable bandwidth");
  check(in.achieved_gflops, "achieved GFLOP/s");
  check(in.peak_gflops, "peak GFLOP/s");
  if (!(in.threshold > 0 && in.threshold <= 1)) fail("verdict: threshold {} is not in (0, 1]", in.threshold);
  if (in.datasheet_gbs && !(std::isfinite(*in.datasheet_gbs) && *in.datasheet_gbs > 0))
    fail("verdict: datasheet bandwidth {} GB/s is not a positive number", *in.datasheet_gbs);

  Verdict v;
  v.mbu = in.attainable_gbs > 0 ? in.achieved_gbs / in.attainable_gbs : 0;
  v.mfu = in.peak_gflops > 0 ? in.achieved_gflops / in.peak_gflops : 0;
  if (in.datasheet_gbs) v.mbu_datasheet = in.achieved_gbs / *in.datasheet_gbs;

  const std::string bw = in.attainable_gbs > 0
                             ? fmt::format("{:.2f} GB/s is {} of the attainable {:.2f} GB/s", in.achieved_gbs, pct(v.mbu), in.attainable_gbs)
                             : fmt::format("{:.2f} GB/s against no attainable-bandwidth figure", in.achieved_gbs);
  const std::string fl = in.peak_gflops > 0
                             ? fmt::format("{:.1f} GFLOP/s is {} of the compute probe's {:.1f} GFLOP/s", in.achieved_gflops, pct(v.mfu), in.peak_gflops)
                             : fmt::format("{:.1f} GFLOP/s against no compute-probe figure", in.achieved_gflops);
  std::string extra;
  if (v.mbu_datasheet) extra += fmt::format("; {} of the datasheet {:.1f} GB/s", pct(*v.mbu_datasheet), *in.datasheet_gbs);
  // Above 100 % the probe, not the model, is wrong: it missed a faster access pattern or the
  // host was busier while it ran.
  if (v.mbu > 1) extra += "; MBU above 100 %: the probe underestimates this device, re-probe closer to the run";

  if (in.attainable_gbs <= 0 && in.peak_gflops <= 0) {
    v.bound = Bound::Neither;
    v.reason = fmt::format("no probe figures to judge against: {}; {}{}", bw, fl, extra);
  } else if (in.attainable_gbs > 0 && v.mbu >= in.threshold) {
    v.bound = Bound::Bandwidth;
    v.reason = fmt::format("bandwidth-bound: {} (threshold {}); {}{}", bw, pct(in.threshold), fl, extra);
  } else if (v.mfu > v.mbu) {
    v.bound = Bound::Compute;
    v.reason = fmt::format("nearer the compute roof: {}, while {} (below the {} threshold){}", fl, bw, pct(in.threshold), extra);
  } else {
    v.bound = Bound::Neither;
    v.reason = fmt::format("neither roof reached (latency and overhead limit it): {} (below the {} threshold) and {}{}", bw,
                           pct(in.threshold), fl, extra);
  }
  return v;
}

}  // namespace bwscope::meter
