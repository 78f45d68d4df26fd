// `bwscope sweep`'s report: one measured point per grid cell (type × batch × instances ×
// threads × schedule × prompt), each with the roofs measured right before it and, with
// --predict, the roofline model's prediction beside it; the levers' effects and the knee in
// sentences; printed as a table, CSV, JSON (versioned, docs/sweep-json.md) or a self-contained
// HTML page with charts against each lever.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bwscope::report {

// Bumped when a key changes meaning or disappears (docs/sweep-json.md lists each version).
constexpr int kSweepSchemaVersion = 1;

// One cell of the grid.
struct SweepPoint {
  std::string type = "q8_0";     // weight type of the synthetic model
  int64_t batch = 1;             // requests each instance decodes together
  int instances = 1;             // co-located instances (1: alone)
  int threads = 0;               // per instance; 0: CPUs / instances (partitioned cores)
  std::string schedule = "parallel";  // parallel, time-sliced, staggered (only with 2+ instances)
  int64_t n_prompt = 64;
  // "q8_0 b1 N2 t0 parallel p64": the point's identity in the results file.
  std::string key() const;
};
bool operator==(const SweepPoint& a, const SweepPoint& b);

// A point as it ran: the scenario's aggregate figures, the roofs it is judged against, and
// its verdict; or the error that stopped it.
struct PointResult {
  SweepPoint point;
  bool ok = false;
  std::string error;             // why the point failed (ok false)
  std::string scenario;          // "1 instance", "2 × parallel"
  std::string model_path;
  int threads = 0;               // threads per instance it ran with
  int64_t n_gen = 0;
  double seconds = 0;            // wall time of the scenario
  // The device: every instance together.
  double decode_gbs = 0, prefill_gbs = 0, avg_gbs = 0, peak_gbs = 0;
  double tokens_per_s = 0;       // aggregate decode tokens/s
  double tpot_p50_ms = 0, tpot_p99_ms = 0, ttft_ms = 0;
  double decode_gflops = 0, prefill_gflops = 0;
  // One instance (the mean over instances).
  double instance_decode_gbs = 0;
  double decode_bytes_per_token = 0;   // ledger bytes per decoded token (weights + KV), per sequence
  uint64_t weight_bytes = 0;           // one model's weights as stored
  uint64_t resident_bytes = 0;         // measured at the end (0: unknown)
  // Roofs measured right before the point (quick read probes) and the probe's compute roof.
  double device_read_gbs = 0;          // every CPU: the better of the quick probes before and after the point
  double device_drift_pct = 0;         // after vs before (0: no after probe)
  double cores_read_gbs = 0;           // one instance's threads, pinned
  double compute_gflops = 0;           // every CPU, for the point's weight type (the prefill kernel)
  double decode_compute_gflops = 0;    // one thread's decode kernel at the point's batch, in cache (0: not measured)
  std::string verdict;                 // verdict_short of the decode phase
  double mbu_device = 0, mbu_cores = 0;
};

// The roofline model's figures for a point (study fills them from plan::predict).
struct PointPrediction {
  double tokens_per_s = 0, decode_gbs = 0, tpot_ms = 0, ttft_ms = 0;
  std::string bound;                   // "bandwidth (cores)", "bandwidth (device)", "compute"
  double error_pct = 0;                // measured tokens/s vs predicted, + = measured above
  std::string why;                     // for an outlier: what the model leaves out
};

struct SweepReport {
  nlohmann::ordered_json settings;     // the sweep's fixed settings (model, n_gen, weights mode, ...)
  nlohmann::ordered_json grid;         // each axis' values
  std::string cpu_model;
  int cpus = 0;
  uint64_t memory_bytes = 0;
  double threshold = 0.8;
  std::vector<SweepPoint> grid_points; // every cell, in the order they run
  std::vector<PointResult> results;    // those that ran (ok or failed), in grid order
  std::vector<std::optional<PointPrediction>> predictions;  // [i] for results[i]; empty without --predict
  double efficiency = 0;               // the model's efficiency factor (with --predict)
  std::string efficiency_source;       // "calibrated from 12 measured points (...)", "set with --efficiency"
  std::vector<std::string> findings;   // sentences: each lever's effect, the knee, the prediction's errors
  bool incomplete = false;             // fewer results than grid points
};

// The median of `v` (the mean of the middle two for an even count); 0 for none.
double median(std::vector<double> v);

// The results file (JSON Lines): a header naming the grid and settings, then one line per point.
nlohmann::ordered_json point_json(const PointResult& r);
PointResult point_from_json(const nlohmann::json& j);  // throws Error on a malformed line
nlohmann::ordered_json sweep_point_key_json(const SweepPoint& p);
SweepPoint sweep_point_from_json(const nlohmann::json& j);

// The findings from the results (and predictions): bytes per token by type, bandwidth and
// tokens/s against batch, 1 vs N instances, the knee, the error distribution.
void finish_sweep_report(SweepReport& report);

std::string render_sweep_table(const SweepReport& report);
std::string render_sweep_csv(const SweepReport& report);
nlohmann::ordered_json render_sweep_json(const SweepReport& report);
std::string render_sweep_html(const SweepReport& report);

}  // namespace bwscope::report
