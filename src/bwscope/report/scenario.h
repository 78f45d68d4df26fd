// What a report says about one co-location scenario, computed from the runner's results with
// the meter: per instance and for the device (the sum of the instances), bandwidth (average,
// by phase, windowed peak), latency (TTFT, TPOT p50/p99), tokens/s, memory, and how long the
// instances really overlapped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bwscope/meter/series.h"
#include "bwscope/meter/verdict.h"
#include "bwscope/runtime/colocate.h"

namespace bwscope::report {

struct InstanceFigures {
  std::string name, model_path, weight_type;
  int threads = 0;
  std::vector<int> cpus;
  int64_t batch = 1, n_prompt = 0, n_gen = 0, steps_done = 0;
  int pid = 0;
  bool completed = false;
  std::string error;
  double ttft_ms = 0, tpot_p50_ms = 0, tpot_p99_ms = 0;
  double decode_tokens_per_s = 0;
  double seconds = 0;            // its start to its end
  double prefill_start_s = 0, prefill_end_s = 0;  // since the scenario's start barrier (0, 0: none)
  // Ledger bytes (model traffic: weights + KV read + KV write) and by class.
  double bytes = 0, weight_bytes_read = 0, kv_read_bytes = 0, kv_write_bytes = 0, act_bytes = 0;
  double avg_gbs = 0;            // bytes / seconds
  double prefill_gbs = 0;        // prefill bytes / prefill wall time
  double decode_gbs = 0;         // decode bytes / first to last token
  double peak_gbs = 0;           // its largest window
  double decode_weight_bytes_per_step = 0;
  double prefill_gflops = 0, decode_gflops = 0;
  uint64_t weight_bytes = 0, kv_bytes = 0, scratch_bytes = 0, peak_rss_bytes = 0;
  std::string weights;           // shared, private or file: what the engine computed on
  // Measured at the end of the run (process isolation; 0: unknown): see InstanceResult.
  uint64_t rss_bytes = 0, pss_bytes = 0, weights_inode = 0, weights_rss_bytes = 0;
  // Against the roofs of its own cores and the device's (filled by the caller from the probe).
  std::optional<meter::Verdict> prefill_verdict, decode_verdict;
  // A split run's rank, over its decode span (first to last decode record): the share of it
  // spent in MPI calls (waiting included) and computing (every other op), the bytes its MPI
  // calls moved per decode step, and its clock against rank 0's.
  double comm_share = 0, compute_share = 0, comm_bytes_per_step = 0;
  double clock_offset_us = 0, clock_round_trip_us = 0;
  uint64_t tokens_digest = 0;    // of the ids it generated (InstanceResult::tokens_digest); 0: unknown
};

struct ScenarioFigures {
  std::string name;              // "1 instance", "2 × parallel", ...
  std::string kind;              // single, parallel, time-sliced, staggered, fused
  int n_instances = 0;           // engines that ran
  int n_requests = 0;            // requests served (fused: sequences of the one engine)
  bool completed = false;
  std::vector<std::string> failures;
  double seconds = 0;            // start barrier to the last instance's end
  std::optional<double> overlap_s, overlap_fraction;  // all instances busy at once (2+ instances)
  meter::Stats device;           // windows of the device series (the sum of the instances)
  double bytes = 0;
  double avg_gbs = 0;            // all bytes / seconds
  double prefill_gbs = 0;        // prefill bytes / first to last prefill record, all instances
  double decode_gbs = 0;         // decode bytes / first to last decode record, all instances
  double prefill_gflops = 0, decode_gflops = 0;
  double tokens_per_s = 0;       // sum of the instances' decode tokens/s
  double ttft_ms = 0;            // mean over instances
  double ttft_max_ms = 0;
  double tpot_p50_ms = 0, tpot_p99_ms = 0;  // over every instance's steps
  uint64_t memory_bytes = 0;     // computed: weights resident (shared or file once / private each) + KV + activations
  uint64_t resident_bytes = 0;   // measured at the end of the run (ColocateResult::resident_bytes); 0: unknown
  std::string resident_how;
  int cpus_used = 0;             // CPUs the instances were pinned to (0 when not pinned: all)
  std::vector<InstanceFigures> instances;
  // The series on one grid: window i of instance k is instance_gbs[k][i]; device = their sum.
  int64_t t0_ns = 0, width_ns = 0;
  std::vector<std::vector<double>> instance_gbs;
  std::vector<double> device_gbs;
  // Filled by the caller from the probe (absent without one): the mean instance against its
  // cores' roof, all of them together against the device's.
  std::optional<meter::Verdict> prefill_verdict, decode_verdict;
  // A split run ("tp" / "pp"; empty otherwise): the instances are the ranks of one model, so
  // tokens, TTFT and TPOT are rank 0's (every rank makes the same tokens) while bandwidth is
  // every rank's together. bubble: the mean rank's decode time not spent computing (in MPI or
  // waiting for another rank); overlap counts only computing.
  std::string split;
  int64_t micro_batches = 0;
  double bubble = 0, comm_share = 0;
};

// Figures of a run; `width_ns` is the bandwidth series' window.
ScenarioFigures scenario_figures(const ColocateResult& result, const std::string& name, const std::string& kind,
                                 int64_t width_ns);

// Busy intervals of one instance: its records merged where they are less than `gap_ns` apart
// (the host work between two forward calls, an argmax, is tens of microseconds);
// `computing_only` leaves out MPI calls (a rank waiting for another is not busy).
std::vector<meter::Span> busy_intervals(std::span<const meter::Record> records, int64_t gap_ns = 100'000,
                                        bool computing_only = false);
// Total time during which every list has an interval open (each list sorted, disjoint).
double overlap_seconds(const std::vector<std::vector<meter::Span>>& lists);

}  // namespace bwscope::report
