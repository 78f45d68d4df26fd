// `bwscope compare`'s report: the scenarios' figures, the probe they are judged against, the
// ratios of each co-located scenario to the single instance, and a plain conclusion — printed
// as a terminal table, Markdown, CSV, JSON (versioned, docs/compare-json.md) or a
// self-contained HTML page with SVG charts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bwscope/report/scenario.h"

namespace bwscope::report {

// Bumped when a key changes meaning or disappears (docs/compare-json.md lists each version).
constexpr int kCompareSchemaVersion = 2;

// The roofs the scenarios are judged against, from the probe and the quick probes that
// bracket the runs: what the whole device reads and computes, and what the cores of one
// instance read and compute (its thread count, pinned as the instances are).
struct ProbeSummary {
  std::string source;                    // "cache <path>", "measured now", "none"
  int cpus = 0;                          // CPUs the probe ran on
  double attainable_read_gbs = 0;        // the device: max(probe's best read, brackets); 0 without a probe
  std::optional<double> before_gbs, after_gbs;  // quick read probes on every CPU, bracketing all the runs
  // [t - 1]: what t threads pinned to the first t CPUs read (the probe's best, or a bracket of
  // that many threads when higher).
  std::vector<double> read_by_threads;
  int instance_threads = 0;              // threads of one instance
  std::optional<double> instance_before_gbs, instance_after_gbs;  // quick probes on that many threads
  double compute_roof_gflops = 0;        // the device: the compute probe for the first model's weight type
  std::optional<double> datasheet_gbs;   // --peak-bw
  std::optional<double> drift_pct() const {
    if (!before_gbs || !after_gbs || *before_gbs <= 0) return std::nullopt;
    return 100 * (*after_gbs / *before_gbs - 1);
  }
  // What `threads` pinned threads read (the device's figure past the probe's thread counts).
  double read_for(int threads) const;
  // What `threads` of the CPUs compute: the device's figure × threads / CPUs (each core has its
  // own arithmetic units).
  double compute_for(int threads) const;
};

// What the instances computed on, and what preparing it cost (runtime's PreparedWeights).
struct WeightsSummary {
  std::string mode;                      // shared, private, file
  std::string isa;                       // the kernel table the copies are laid out for
  struct File {
    std::string model_path;
    uint64_t bytes = 0;                  // shared: the object; file: bytes re-read into the page cache
    uint64_t interleaved_bytes = 0;      // shared: of bytes, the matrices in the interleaved layout
    double seconds = 0;                  // making the object (repack), or re-reading the file
  };
  std::vector<File> files;
};

// Scenario vs the single instance, in percent (+ = higher) or as a factor.
struct Ratio {
  std::string scenario, baseline;
  double avg_gbs_pct = 0, peak_gbs_pct = 0, prefill_gbs_pct = 0, decode_gbs_pct = 0;
  double ttft_pct = 0, tpot_p50_pct = 0, tpot_p99_pct = 0;
  double throughput_x = 0;               // aggregate tokens/s, scenario / baseline
  double per_request_throughput_x = 0;   // each request's tokens/s, scenario / baseline
};

struct CompareReport {
  nlohmann::ordered_json config;         // the full configuration, as the command received it
  std::string cpu_model;
  int cpus = 0;
  uint64_t memory_bytes = 0;
  ProbeSummary probe;
  WeightsSummary weights;
  double threshold = 0.8;                // bandwidth-bound at or above this fraction of a roof
  double window_ms = 10;
  std::vector<ScenarioFigures> scenarios;  // [0] is the single instance
  std::vector<Ratio> ratios;             // one per scenario after the first
  std::string conclusion;                // one sentence (two with --schedule all)
  std::vector<std::string> notes;        // why the modes behave as they do
  bool incomplete = false;               // interrupted, or an instance failed
  // bwscope plan: the figures are the roofline model's, nothing ran; `plan` holds its inputs
  // (device, model, bytes and FLOPs per token, efficiency) for the JSON.
  bool predicted = false;
  nlohmann::ordered_json plan;
  std::vector<std::string> failures;     // "scenario: instance: why"
};

// Fills the verdicts (each instance against its cores' roof, each scenario's instances
// together against the device's, when the probe gave roofs), the ratios, the conclusion and
// incomplete/failures.
void finish_report(CompareReport& report);

// Milliseconds with the digits that matter: 0.042, 3.17, 48.2.
std::string format_ms(double ms);
// "core-bound (cores 85 %, device 43 %)", "device-bound (device 91 %)", ...; "no probe".
std::string verdict_short(const std::optional<meter::Verdict>& verdict);
// The roofs in one line (the device's, one instance's cores', the brackets' drift).
std::string probe_line(const CompareReport& report);
// A split scenario in one line: each rank's shares of a decode step in MPI and computing, the
// bytes MPI moved per step, the bubble, whether its tokens equal those of the run with
// `baseline_digest` (0: not said), and the ranks' clock offsets.
std::string split_line(const ScenarioFigures& s, uint64_t baseline_digest);
// The single instance's tokens digest (scenarios[0]'s first instance), 0 when unknown.
uint64_t baseline_digest(const CompareReport& r);
// What the instances computed on, in one line (the shared copy and its repack time, ...).
std::string weights_line(const CompareReport& report);

std::string render_table(const CompareReport& report);     // the terminal
std::string render_markdown(const CompareReport& report);
std::string render_csv(const CompareReport& report);       // one row per scenario and per instance
nlohmann::ordered_json render_json(const CompareReport& report);
std::string render_html(const CompareReport& report);      // self-contained: inline CSS and SVG
// The charts alone, as one SVG document: bandwidth over time per scenario and the bar comparison.
std::string render_svg(const CompareReport& report);

}  // namespace bwscope::report
