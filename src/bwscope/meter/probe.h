// The device's attainable memory bandwidth and compute peak, measured on this machine.
//
// Bandwidth kernels run over buffers far larger than the last-level cache, for 1..N threads,
// each repeated; a figure is the best (and median) over repetitions and, for reads, over
// access patterns (1..16 interleaved streams per thread, software prefetch on/off): one
// stream per thread underestimates what a matvec over many rows reaches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bwscope::meter {

struct ProbeFigure {
  double best_gbs = 0;
  double median_gbs = 0;
  std::string pattern;  // the access pattern that gave the best figure, e.g. "4 streams, prefetch"
};

struct ThreadFigures {
  int threads = 0;
  ProbeFigure read, write, write_nt, copy, triad;
};

struct ComputeFigure {
  std::string kernel;      // e.g. "avx512/q8_0 matmul 2048x2048x64"
  double best_gflops = 0;  // all threads
};

struct ProbeResult {
  int schema_version = 1;
  std::string machine;      // CPU model, cores, memory: the cache key
  int64_t measured_unix_s = 0;
  size_t buffer_bytes = 0;
  std::vector<ThreadFigures> per_threads;  // threads = 1..N
  ThreadFigures all;                       // the figures at N threads (the best over thread counts for read)
  std::vector<ComputeFigure> compute;      // one per weight type the prefill kernels use
  double compute_peak_gflops = 0;          // the best of `compute`

  nlohmann::json to_json() const;
  static ProbeResult from_json(const nlohmann::json& j);  // throws Error on a malformed object
};

struct ProbeOptions {
  int max_threads = 0;            // 0: all CPUs this process may run on
  size_t buffer_bytes = 0;        // 0: 8 × the last-level cache, at least 256 MiB
  int reps = 5;
  bool compute = true;
};

// The full probe (seconds to a minute).
ProbeResult run_probe(const ProbeOptions& options);

// The cached result for this machine (~/.cache/bwscope/probe-<key>.json), measured and stored
// when absent or when `reprobe` is set.
ProbeResult cached_probe(const ProbeOptions& options, bool reprobe);

// A short read-only probe (best over patterns, `threads` threads, about `seconds` long) to
// bracket a run: compare reports the drift between the one before and the one after.
double quick_read_probe(int threads, double seconds = 0.5);

}  // namespace bwscope::meter
