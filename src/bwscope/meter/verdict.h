// Is a phase bound by memory bandwidth — of the device, or of the cores an instance holds — by
// compute, or by neither? Two read-bandwidth roofs from the probe: what the instance's cores
// can read (one core cannot saturate a memory system) and what the whole device can read.
#pragma once

#include <optional>
#include <string>

namespace bwscope::meter {

// device: all instances together read at least the threshold of what the device can (the
// device is saturated: another model only shares it); cores: the instance reads at least the
// threshold of what its cores can, and the device has headroom (another instance on free
// cores adds bandwidth); compute: nearer the compute roof of its cores; neither: latency and
// overhead.
enum class Bound { Device, Cores, Compute, Neither };
std::string bound_name(Bound b);  // "device", "cores", "compute", "neither"

struct VerdictInput {
  // One instance in the phase (for a scenario: the mean over its instances).
  double achieved_gbs = 0;
  double achieved_gflops = 0;
  int threads = 1;                 // the instance's threads (for the wording)
  double core_roof_gbs = 0;        // what those threads read (probe, pinned as the instance); 0: unknown
  double core_roof_gflops = 0;     // what they compute; 0: unknown
  // The device in the phase: all instances together.
  int n_instances = 1;
  double device_gbs = 0;
  double device_roof_gbs = 0;      // what the whole device reads; 0: unknown
  int free_cpus = 0;               // CPUs no instance runs on
  double threshold = 0.8;          // bandwidth-bound at or above this fraction of a roof
  std::optional<double> datasheet_gbs;  // a device figure (--peak-bw)
};

struct Verdict {
  Bound bound = Bound::Neither;
  double mbu_cores = 0;            // achieved_gbs / core_roof_gbs
  double mbu_device = 0;           // device_gbs / device_roof_gbs
  double mfu = 0;                  // achieved_gflops / core_roof_gflops
  std::optional<double> mbu_datasheet;  // device_gbs / datasheet_gbs
  std::string reason;              // one or two sentences with the numbers that led to it
};

// Throws Error on a negative or non-finite figure or a threshold outside (0, 1].
Verdict judge(const VerdictInput& in);

}  // namespace bwscope::meter
