// The verdict: the device's roof first (saturated), then the cores' (core-bound), then the
// nearer of the cores' bandwidth and compute roofs.
#include "bwscope/meter/verdict.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "bwscope/base/error.h"

namespace bwscope::meter {
namespace {

void check(double v, const char* what) {
  if (!std::isfinite(v) || v < 0) fail("verdict: {} = {} is not a finite non-negative number", what, v);
}

// Whole percent, rounded down, so that a figure printed beside the threshold compares as it
// was judged (79.6 % below an 80 % line prints as 79 %, not 80 %).
std::string pct(double fraction) { return fmt::format("{:.0f} %", std::floor(100.0 * fraction + 1e-9)); }
std::string cores(int threads) { return threads == 1 ? "its core" : fmt::format("its {} cores", threads); }
std::string each(int n) { return n == 1 ? "the instance" : "each instance"; }
// "it uses" / "the 2 together use": the subject and its verb.
std::string together(int n, const char* verb) {
  return n == 1 ? fmt::format("it {}s", verb) : fmt::format("the {} together {}", n, verb);
}

}  // namespace

std::string bound_name(Bound b) {
  switch (b) {
    case Bound::Device: return "device";
    case Bound::Cores: return "cores";
    case Bound::Compute: return "compute";
    default: return "neither";
  }
}

Verdict judge(const VerdictInput& in) {
  check(in.achieved_gbs, "achieved bandwidth");
  check(in.achieved_gflops, "achieved GFLOP/s");
  check(in.core_roof_gbs, "the cores' read bandwidth");
  check(in.core_roof_gflops, "the cores' GFLOP/s");
  check(in.device_gbs, "the device's bandwidth");
  check(in.device_roof_gbs, "the device's read bandwidth");
  if (!(in.threshold > 0 && in.threshold <= 1)) fail("verdict: threshold {} is not in (0, 1]", in.threshold);
  if (in.datasheet_gbs && !(std::isfinite(*in.datasheet_gbs) && *in.datasheet_gbs > 0))
    fail("verdict: datasheet bandwidth {} GB/s is not a positive number", *in.datasheet_gbs);

  Verdict v;
  v.mbu_cores = in.core_roof_gbs > 0 ? in.achieved_gbs / in.core_roof_gbs : 0;
  v.mbu_device = in.device_roof_gbs > 0 ? in.device_gbs / in.device_roof_gbs : 0;
  v.mfu = in.core_roof_gflops > 0 ? in.achieved_gflops / in.core_roof_gflops : 0;
  if (in.datasheet_gbs) v.mbu_datasheet = in.device_gbs / *in.datasheet_gbs;

  const int n = std::max(1, in.n_instances);
  const std::string core_part =
      in.core_roof_gbs > 0 ? fmt::format("{} reads {} of what {} can ({:.1f} of {:.1f} GB/s)", each(n), pct(v.mbu_cores), cores(in.threads),
                                         in.achieved_gbs, in.core_roof_gbs)
                           : fmt::format("{} reads {:.1f} GB/s (no figure for {})", each(n), in.achieved_gbs, cores(in.threads));
  const std::string device_part =
      in.device_roof_gbs > 0
          ? fmt::format("{} {} of the device's {:.1f} GB/s", together(n, "use"), pct(v.mbu_device), in.device_roof_gbs)
          : fmt::format("{} {:.1f} GB/s (no figure for the device)", together(n, "move"), in.device_gbs);
  const std::string compute_part =
      in.core_roof_gflops > 0 ? fmt::format("{:.1f} GFLOP/s is {} of what {} compute ({:.1f})", in.achieved_gflops, pct(v.mfu),
                                            cores(in.threads), in.core_roof_gflops)
                              : fmt::format("{:.1f} GFLOP/s (no compute figure)", in.achieved_gflops);
  std::string extra;
  if (v.mbu_datasheet) extra += fmt::format("; {} of the datasheet {:.1f} GB/s", pct(*v.mbu_datasheet), *in.datasheet_gbs);
  // Above 100 % the probe, not the model, is wrong: it missed a faster access pattern or the
  // host was busier while it ran.
  if (v.mbu_cores > 1 || v.mbu_device > 1) extra += "; above 100 %: the probe underestimates this device, re-probe closer to the run";

  const std::string threshold = pct(in.threshold);
  if (in.core_roof_gbs <= 0 && in.device_roof_gbs <= 0 && in.core_roof_gflops <= 0) {
    v.bound = Bound::Neither;
    v.reason = fmt::format("no probe figures to judge against: {}; {}; {}{}", core_part, device_part, compute_part, extra);
  } else if (in.device_roof_gbs > 0 && v.mbu_device >= in.threshold) {
    v.bound = Bound::Device;
    v.reason = fmt::format("device-bound: {} (threshold {}), so the memory system is saturated and another model would only share "
                           "it; {}{}",
                           device_part, threshold, core_part, extra);
  } else if (in.core_roof_gbs > 0 && v.mbu_cores >= in.threshold) {
    v.bound = Bound::Cores;
    const std::string headroom = in.free_cpus > 0 ? "another model on the free cores would add bandwidth"
                                                   : "more cores per instance would add bandwidth";
    v.reason = fmt::format("core-bound: {} (threshold {}), while {}: the device has headroom, {}{}", core_part, threshold, device_part,
                           headroom, extra);
  } else if (v.mfu > v.mbu_cores) {
    v.bound = Bound::Compute;
    v.reason = fmt::format("nearer the compute roof: {}, while {} and {}{}", compute_part, core_part, device_part, extra);
  } else {
    v.bound = Bound::Neither;
    const bool device_nearer = v.mbu_device > v.mbu_cores;
    v.reason = fmt::format("neither roof reached: {} and {}, below the {} line on both (the nearer is {}); {}{}", core_part,
                           device_part, threshold, device_nearer ? "the device's" : fmt::format("that of {}", cores(in.threads)),
                           compute_part, extra);
  }
  return v;
}

}  // namespace bwscope::meter
