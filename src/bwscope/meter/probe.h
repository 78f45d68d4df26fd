// The device's attainable memory bandwidth and compute peak, measured on this machine.
//
// Bandwidth kernels run over buffers far larger than the last-level cache, for 1..N threads,
// each repeated; a figure is the best (and median) over repetitions and, for reads, over
// access patterns (1..16 interleaved streams per thread, software prefetch on/off): one
// stream per thread underestimates what a matvec over many rows reaches.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bwscope/base/dtype.h"

namespace bwscope::meter {

struct ProbeFigure {
  double best_gbs = 0;
  double median_gbs = 0;
  std::string pattern;  // the access pattern that gave the best figure, e.g. "4 streams, prefetch"
};

struct ThreadFigures {
  int threads = 0;
  ProbeFigure read, write, write_nt, copy, triad;
  std::vector<ProbeFigure> read_by_pattern;  // every read pattern tried (best/median over reps)
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
  std::string isa;                         // the probe kernels' table: "avx512", "avx2", "plain"
  int reps = 0;

  // The reference for decode: the best read figure over thread counts and patterns.
  double attainable_read_gbs() const { return all.read.best_gbs; }

  nlohmann::json to_json() const;
  static ProbeResult from_json(const nlohmann::json& j);  // throws Error on a malformed object
};

struct ProbeOptions {
  int max_threads = 0;            // 0: all CPUs this process may run on
  size_t buffer_bytes = 0;        // 0: 8 × the last-level cache, at least 256 MiB, at most max(1 GiB, 2 × it)
  int reps = 5;
  bool compute = true;
  std::string cache_dir;          // cached_probe's directory; empty: ~/.cache/bwscope
};

// The full probe (seconds to a minute).
ProbeResult run_probe(const ProbeOptions& options);

// A probe cache file, strictly validated: Error("<path>: <problem>") for anything but a whole,
// sane probe result.
ProbeResult read_probe_cache(const std::string& path);
// The cached result for this machine (~/.cache/bwscope/probe-<key>.json), measured and stored
// when absent, when `reprobe` is set, or when the file is not a valid probe (with a warning
// line on stderr) or was measured on other hardware or another thread count.
ProbeResult cached_probe(const ProbeOptions& options, bool reprobe);

// A short read-only probe (best over patterns, `threads` threads, about `seconds` long) to
// bracket a run: compare reports the drift between the one before and the one after.
// buffer_bytes 0: far larger than the last-level cache (as ProbeOptions::buffer_bytes).
double quick_read_probe(int threads, double seconds = 0.5, size_t buffer_bytes = 0);

// A roof for a run: the better of the quick probes taken right before and after it on as many
// threads, when either ran; else the cached probe's figure. The host's bandwidth drifts by a
// third within minutes on shared machines, and a cached probe can be hours old.
double bracketed_roof(double cached_gbs, std::optional<double> before_gbs, std::optional<double> after_gbs);

// The compute probe alone: GFLOP/s of the prefill matmul kernels (kernels::best_ops()) for each
// weight type they support, on `threads` threads, best of `reps` calls.
std::vector<ComputeFigure> run_compute_probe(int threads, int reps = 5);
// GFLOP/s of one thread's decode matmul (the engine's layout for the type) on `n_tok` tokens, on
// a matrix the core's cache holds: the kernel's own ceiling at that batch, memory aside. Best of
// repeated calls over about `seconds`.
double decode_compute_gflops(DType type, int64_t n_tok, double seconds = 0.05);

// The device as reports name it.
struct DeviceInfo {
  std::string cpu_model;     // /proc/cpuinfo "model name"
  int cpus = 0;              // online CPUs
  uint64_t memory_bytes = 0; // physical memory
};
DeviceInfo device_info();

// "CPU model; N CPUs; M GiB" of this machine (the cache key), and the cache file for it.
std::string machine_description();
std::string probe_cache_path(const std::string& cache_dir);

}  // namespace bwscope::meter
