// Is a phase bound by memory bandwidth, by compute, or by neither? MBU and MFU side by side.
#pragma once

#include <optional>
#include <string>

namespace bwscope::meter {

enum class Bound { Bandwidth, Compute, Neither };  // Neither: latency / overhead
std::string bound_name(Bound b);

struct Verdict {
  double mbu = 0;                  // achieved bandwidth / attainable (probe)
  double mfu = 0;                  // achieved FLOP/s / compute probe peak
  std::optional<double> mbu_datasheet;  // against --peak-bw, when given
  Bound bound = Bound::Neither;
  std::string reason;              // one sentence with the numbers that led to it
};

struct VerdictInput {
  double achieved_gbs = 0;
  double attainable_gbs = 0;
  double achieved_gflops = 0;
  double peak_gflops = 0;
  double threshold = 0.8;          // bandwidth-bound at or above this MBU
  std::optional<double> datasheet_gbs;
};

Verdict judge(const VerdictInput& in);

}  // namespace bwscope::meter
