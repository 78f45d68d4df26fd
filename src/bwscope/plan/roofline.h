// The roofline model: how long a prefill and a decode step take on a device, from the bytes and
// FLOPs a step must move and compute (plan/cost.h) and the roofs one instance gets — its
// cores' read bandwidth and compute on a CPU, its share of the compute on an accelerator — with
// N co-located instances sharing the device's bandwidth.
//
// One instance alone takes T_i = max(T_mem, T_compute) + serial × min(T_mem, T_compute): on a
// CPU the cores that issue the loads also do the arithmetic, so the two overlap only in part;
// T_mem = bytes / (its cores' bandwidth × efficiency), T_compute = FLOPs / (compute ×
// efficiency). N instances also cannot move more than the device: T_dev = N × bytes / (device
// bandwidth × efficiency), during which one instance's arithmetic overlaps another's loads. A
// step takes max(T_i, T_dev). Decode's compute roof
// on a measured CPU is the decode kernel's own rate at that batch with the weights in cache
// (meter::decode_compute_gflops); prefill's is the compute probe's.
#pragma once

#include <optional>
#include <string>

#include "bwscope/plan/cost.h"
#include "bwscope/plan/device.h"
#include "bwscope/report/compare_report.h"

namespace bwscope::plan {

// The share of the shorter of T_mem and T_compute that does not overlap the longer one,
// fitted on this machine's sweep of 2026-12-05 (docs/plan.md).
constexpr double kSerialFraction = 0.5;
// The efficiency when no calibration was stored: measured decode bandwidth against the read
// probe on this machine's sweep of 2026-12-05 (docs/plan.md).
constexpr double kDefaultEfficiency = 0.87;

struct Workload {
  ModelShape model;
  int64_t batch = 1, n_prompt = 512, n_gen = 128;
  int instances = 1;
  int threads = 0;                   // CPU: threads per instance (0: CPUs / instances); else unused
  bool shared_weights = true;        // one copy resident for every instance, or one each
};

struct Roofs {
  double cores_gbs = 0;              // what one instance's cores read alone (an accelerator: the device)
  double compute_gflops = 0;         // what one instance computes (prefill)
  double decode_compute_gflops = 0;  // ... in decode at its batch (0: the prefill figure)
  double device_gbs = 0;             // the whole device, shared by the N
};

struct InstancePrediction {
  Roofs roofs;
  StepCost decode, prefill;          // the mean decode step and the prefill
  double prefill_s = 0, step_s = 0;  // one prefill, one mean decode step
  double ttft_ms = 0, tpot_ms = 0;
  double tokens_per_s = 0;           // batch / step
  double decode_gbs = 0, prefill_gbs = 0, avg_gbs = 0;
  double decode_gflops = 0, prefill_gflops = 0;
  std::string decode_bound, prefill_bound;   // "bandwidth (device)", "bandwidth (cores)" or "compute"
  double seconds = 0;                // prefill + n_gen steps
};

struct ScenarioPrediction {
  int instances = 1;
  InstancePrediction each;           // every instance alike
  double tokens_per_s = 0, decode_gbs = 0, prefill_gbs = 0, avg_gbs = 0, peak_gbs = 0;
  uint64_t memory_bytes = 0;         // weights (once shared, per instance private) + KV + activations
  bool fits = true;
};

// The roofs of one of `instances` instances with `threads` threads each (CPU).
Roofs instance_roofs(const Device& device, const std::string& weight_type, int64_t batch, int instances, int threads);
ScenarioPrediction predict(const Device& device, const Workload& w, double efficiency);

// The efficiency stored by the last calibration (a sweep's measured against predicted decode
// tokens/s at efficiency 1), else kDefaultEfficiency; `source` says which.
double calibrated_efficiency(std::string* source = nullptr);
// Stores it (in ~/.cache/bwscope/plan-calibration.json).
void store_calibration(double efficiency, int points, const std::string& from);

// compare's report shape, marked predicted: [0] one instance alone, [1] the N in parallel
// (when instances > 1), with the verdicts against the device's roofs.
report::CompareReport plan_report(const Device& device, const Workload& w, double efficiency, const std::string& efficiency_source);

}  // namespace bwscope::plan
