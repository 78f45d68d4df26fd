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
constexpr int kCompareSchemaVersion = 1;

struct ProbeSummary {
  std::string source;                    // "cache <path>", "measured now", "none"
  double attainable_read_gbs = 0;        // 0 without a probe
  std::optional<double> before_gbs, after_gbs;  // quick read probes bracketing all the runs
  double compute_roof_gflops = 0;
  std::optional<double> datasheet_gbs;   // --peak-bw
  std::optional<double> drift_pct() const {
    if (!before_gbs || !after_gbs || *before_gbs <= 0) return std::nullopt;
    return 100 * (*after_gbs / *before_gbs - 1);
  }
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
  double threshold = 0.8;                // bandwidth-bound at or above this MBU
  double window_ms = 10;
  std::vector<ScenarioFigures> scenarios;  // [0] is the single instance
  std::vector<Ratio> ratios;             // one per scenario after the first
  std::string conclusion;                // one sentence (two with --schedule all)
  std::vector<std::string> notes;        // why the modes behave as they do
  bool incomplete = false;               // interrupted, or an instance failed
  std::vector<std::string> failures;     // "scenario: instance: why"
};

// Fills ratios, conclusion and incomplete/failures from the scenarios and the probe.
void finish_report(CompareReport& report);

// Milliseconds with the digits that matter: 0.042, 3.17, 48.2.
std::string format_ms(double ms);

std::string render_table(const CompareReport& report);     // the terminal
std::string render_markdown(const CompareReport& report);
std::string render_csv(const CompareReport& report);       // one row per scenario and per instance
nlohmann::ordered_json render_json(const CompareReport& report);
std::string render_html(const CompareReport& report);      // self-contained: inline CSS and SVG
// The charts alone, as one SVG document: bandwidth over time per scenario and the bar comparison.
std::string render_svg(const CompareReport& report);

}  // namespace bwscope::report
