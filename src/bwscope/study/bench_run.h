// One `bench` measurement: a model, its engine settings and a test (prefill of p tokens and/or
// decode of n), timed over r repetitions, and what the meter makes of it — the ledger's
// bandwidth per phase, bytes per token, MBU/MFU against the probe, the verdict, the series and
// any hardware counters. Both of bench's outputs come from it: the single-run report (--json,
// -o text) and the llama-bench-style rows (-o md|csv|json|jsonl|sql).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/engine/bench.h"
#include "bwscope/engine/engine.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/meter/counters.h"
#include "bwscope/meter/phase_figures.h"
#include "bwscope/meter/probe.h"
#include "bwscope/meter/series.h"
#include "bwscope/meter/verdict.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/report/bench_table.h"

namespace bwscope::study {

struct ProbeInfo {
  std::optional<meter::ProbeResult> result;
  std::string source;                  // "cache <path>", "file <path>", or empty for none
  std::optional<double> before_gbs, after_gbs;  // the quick read probes bracketing the run
  int bracket_threads = 0, cpus = 0;   // the brackets ran on this many threads, of this many CPUs
  // What `threads` threads read: bracketed by the quick probes when they ran on that many,
  // else the probe's figure for that many (the device's past its thread counts).
  double read_gbs(int threads) const;
  // The device's roof: what every CPU reads.
  double attainable_gbs() const;
};
// The probe from `file` when given (strict reader; Error names the file), else "cached",
// "reprobe" or "none". Brackets are left to the caller.
ProbeInfo load_probe(const std::string& mode, const std::string& file);

// The compute roof for a model: the probe's figure for the model's weight type when it has one
// (a Q4_0 matmul's peak differs from an F32 one's several times), else the best of all.
double compute_roof(const meter::ProbeResult& p, DType weight_type, std::string* kernel);

struct BenchSettings {
  int threads = 1;
  int64_t n_seq = 1;  // sequences decoded together
  DType kv_type = DType::F16;
  const kernels::Ops* ops = nullptr;  // null: the best for this CPU
  int64_t n_prompt = 512, n_gen = 128, reps = 3;
  double window_ms = 10, threshold = 0.8;
  std::optional<double> peak_bw;
  bool keep_records = false;  // keep the measured repetitions' ledger records (for a trace)
  EngineOptions::Split split;  // this rank's hooks in a split run (parallel/split_run.h); empty: none
};

struct BenchMeasurement {
  BenchResult result;
  std::string isa;
  int64_t max_batch = 0;  // prompt tokens per forward call
  meter::PhaseFigures prefill, decode;
  meter::Verdict prefill_verdict, decode_verdict;
  std::vector<meter::Span> prefill_spans, decode_spans;
  int64_t run_t0_ns = 0, run_t1_ns = 0;
  meter::Series series;  // every measured repetition, prefill and decode, on one time axis
  double core_roof_gbs = 0;  // what the cores used read (judge_bench); 0 without a probe
  double roof_gflops = 0;
  std::string roof_kernel = "no probe";
  int64_t width_ns = 0;
  std::vector<meter::Record> records;  // the measured repetitions' (warm-up left out), when kept
  std::string counter_used;                    // empty when no source is available
  std::vector<meter::CounterSample> counter_samples;
};

// The sizes an engine for `s` is made with.
int64_t bench_max_batch(const BenchSettings& s);
// Ledger records of the measured repetitions of `s` on a model of `n_layers`: a trace's op slices.
uint64_t bench_records(const BenchSettings& s, int64_t n_layers);

// Runs `s` on `model` (weights already placed as they will be computed on) with the ledger on;
// `counter` (may be null) is sampled once per window meanwhile. Throws Error when the ledger
// overflows or the engine refuses the sizes. The verdicts are left to judge_bench.
BenchMeasurement measure_bench(const LlamaModel& model, const BenchSettings& s, meter::CounterSource* counter);
// The verdicts and compute roof of both phases against `probe` (its brackets as taken by then):
// the roof of the cores `s` used and the device's.
void judge_bench(BenchMeasurement& m, DType weight_type, const BenchSettings& s, const ProbeInfo& probe);

// llama-bench's model_type, "llama 1B Q8_0": the size class llama.cpp gives Llama's layer counts
// ("?B" for others) and the name of general.file_type (from the weights, " (guessed)", when the
// file has none).
std::string bench_model_type(const LlamaModel& model);

// What a row says besides the measurement.
struct BenchRowInfo {
  std::string build_commit;
  int64_t build_number = 0;
  std::string cpu_info, model_filename, model_type, weight_type, layout, test_time;
  uint64_t model_size = 0, model_n_params = 0;
  bool has_probe = false;  // without one, MBU, MFU and the verdict are empty
};
// One test's row: a prefill test (s.n_gen == 0) or a decode test (s.n_prompt == 0), its
// repetitions' times and tokens/s from the ledger's spans, and the meter's figures of that phase.
report::BenchRow bench_row(const BenchRowInfo& info, const BenchSettings& s, const BenchMeasurement& m);

}  // namespace bwscope::study
