// bwscope probe: the device's attainable memory bandwidth (read, write, copy, triad; best and
// median GB/s per thread count) and the compute roof of the prefill kernels, cached per machine.
#include <ctime>
#include <memory>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/cli/commands.h"
#include "bwscope/meter/probe.h"

namespace bwscope::cli {
namespace {

void print_row(int threads, const char* kernel, const meter::ProbeFigure& f) {
  fmt::print("  {:>7}  {:<9} {:>9.2f}  {:>11.2f}  {}\n", threads, kernel, f.best_gbs, f.median_gbs, f.pattern);
}

void print_table(const meter::ProbeResult& r, const std::string& source) {
  char when[64] = "?";
  const std::time_t t = std::time_t(r.measured_unix_s);
  if (std::tm tm{}; localtime_r(&t, &tm)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  fmt::print("{}\n{} kernels, {} MiB per array, {} repetitions; {} at {}\n\n", r.machine, r.isa, r.buffer_bytes >> 20, r.reps,
             source, when);
  fmt::print("  {:>7}  {:<9} {:>9}  {:>11}  {}\n", "threads", "kernel", "best GB/s", "median GB/s", "best pattern");
  for (const meter::ThreadFigures& f : r.per_threads) {
    print_row(f.threads, "read", f.read);
    print_row(f.threads, "write", f.write);
    print_row(f.threads, "write-nt", f.write_nt);
    print_row(f.threads, "copy", f.copy);
    print_row(f.threads, "triad", f.triad);
  }
  if (!r.compute.empty()) {
    fmt::print("\n  compute ({} threads)                       best GFLOP/s\n", r.all.threads);
    for (const meter::ComputeFigure& c : r.compute) fmt::print("  {:<42} {:>10.1f}\n", c.kernel, c.best_gflops);
  }
  fmt::print("\nattainable read bandwidth (the reference for decode MBU): {:.2f} GB/s (best over thread counts "
             "and patterns: {})\n", r.attainable_read_gbs(), r.all.read.pattern);
  if (r.compute_peak_gflops > 0) fmt::print("compute peak (the reference for MFU): {:.1f} GFLOP/s\n", r.compute_peak_gflops);
  fmt::print("copy and triad count bytes as STREAM does (read + written, write-allocate reads not counted)\n");
}

}  // namespace

void add_probe(CLI::App& app) {
  struct Options {
    int threads = 0, reps = 5;
    bool json = false, reprobe = false, quick = false;
    size_t buffer_mib = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("probe", "Measure this device's attainable memory bandwidth and compute peak (cached per machine)");
  sub->add_option("-t,--threads", o->threads, "most threads (default: every CPU this process may use); 1..N are measured")
      ->check(whole_range(1, 4096));
  sub->add_option("-r,--reps", o->reps, "repetitions of every kernel")->capture_default_str()->check(whole_range(1, 100));
  sub->add_option("--buffer-mib", o->buffer_mib, "MiB per array (default: 8 × the last-level cache, at least 256, at most max(1024, 2 × the cache))")
      ->check(whole_range(1, 1 << 20));
  sub->add_flag("--reprobe", o->reprobe, "measure again even when this machine's result is cached");
  sub->add_flag("--quick", o->quick, "two repetitions, not cached (a rough figure in a few seconds)");
  sub->add_flag("--json", o->json, "print one JSON object");
  sub->callback([o] {
    meter::ProbeOptions po;
    po.max_threads = o->threads;
    po.reps = o->quick ? 2 : o->reps;
    po.buffer_bytes = o->buffer_mib << 20;
    // The cache holds the default measurement; any other shape is measured and not stored.
    const bool cacheable = !o->quick && o->buffer_mib == 0 && o->reps == 5;
    std::string source = "measured now";
    meter::ProbeResult r;
    if (cacheable) {
      const std::string path = meter::probe_cache_path("");
      r = meter::cached_probe(po, o->reprobe);
      if (!o->reprobe && std::time(nullptr) - r.measured_unix_s > 5) source = "cached in " + path + ", measured";
    } else {
      r = meter::run_probe(po);
    }
    if (o->json) {
      fmt::print("{}\n", r.to_json().dump(2));
      return;
    }
    print_table(r, source);
  });
}

}  // namespace bwscope::cli
