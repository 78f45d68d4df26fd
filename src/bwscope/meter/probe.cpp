// `bwscope probe`'s measurement: read, write (normal and non-temporal), copy and triad over
// buffers far larger than the last-level cache, on 1..N pinned threads, each repeated; reads
// as the best of several access patterns. Every figure is bytes moved / wall time of the
// parallel region, in GB/s (1e9 bytes per second).
#include "bwscope/meter/probe.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>

#include "bwscope/base/error.h"
#include "bwscope/meter/ledger.h"
#include "bwscope/meter/probe_kernels.h"
#include "bwscope/base/thread_pool.h"

namespace bwscope::meter {
namespace {

constexpr size_t kMiB = size_t(1) << 20;
constexpr int kStreamCounts[] = {1, 2, 4, 8, 16};

// Anonymous memory, unmapped on destruction. A page of slack at the end keeps prefetches that
// run past the last stream inside the mapping (they could not fault anyway).
class Buffer {
 public:
  explicit Buffer(size_t bytes) : bytes_(bytes), mapped_(bytes + 4096) {
    void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("probe: cannot map a {} MiB buffer", bytes / kMiB);
    data_ = static_cast<uint8_t*>(p);
  }
  ~Buffer() { munmap(data_, mapped_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_, mapped_;
  uint8_t* data_ = nullptr;
};

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

// The pool pins the calling thread as worker 0; this puts the caller's old affinity back, so
// a probe inside `bench` or `compare` leaves the engine's threads free to move.
class AffinityGuard {
 public:
  AffinityGuard() { ok_ = pthread_getaffinity_np(pthread_self(), sizeof(set_), &set_) == 0; }
  ~AffinityGuard() {
    if (ok_) pthread_setaffinity_np(pthread_self(), sizeof(set_), &set_);
  }

 private:
  cpu_set_t set_;
  bool ok_ = false;
};

size_t last_level_cache_bytes() {
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l3 > 0) return size_t(l3);
  if (l2 > 0) return size_t(l2);
  return 32 * kMiB;  // unknown: assume a large server L3
}

// Far larger than the last-level cache: 8 × it, at least 256 MiB, but at most 1 GiB or 2 × it.
// A cyclic read of twice an LRU cache's size misses every line, and an EPYC VM reports the
// whole socket's 512 MiB of L3 (one core reaches 32 MiB of it): 8 × made each 0.5 s bracket
// take 9-15 s, most of it filling 4 GiB of fresh pages.
size_t default_buffer_bytes() {
  const size_t llc = last_level_cache_bytes();
  return std::max(256 * kMiB, std::min(8 * llc, std::max(1024 * kMiB, 2 * llc)));
}

// Every 4-byte word a float in [1, 2) with hashed mantissa bits: no two pages alike (so a
// hypervisor's page merging cannot serve them from one frame) and no NaN or denormal for triad.
void fill_unique(uint8_t* p, size_t bytes, uint64_t seed) {
  uint32_t* w = reinterpret_cast<uint32_t*>(p);
  for (size_t i = 0; i < bytes / 4; ++i) {
    uint64_t h = (i + seed) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    w[i] = 0x3f800000u | uint32_t(h & 0x007fffffu);
  }
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string pattern_name(int streams, bool prefetch) {
  return fmt::format("{} stream{}{}", streams, streams == 1 ? "" : "s", prefetch ? ", prefetch" : "");
}

// The three arrays the kernels work on, each `bytes` long, pages touched by the thread that
// will use them (first touch places them on that thread's memory node).
struct Arrays {
  Buffer a, b, c;
  size_t n_chunks;  // of kProbeChunkBytes, per array
  // read_only: only `a` (the quick probe reads and nothing else).
  Arrays(size_t bytes, ThreadPool& pool, bool read_only = false)
      : a(bytes), b(read_only ? 0 : bytes), c(read_only ? 0 : bytes), n_chunks(bytes / kProbeChunkBytes) {
    pool.run([&](int w, int n) {
      const Range r = split_range(int64_t(n_chunks), w, n);
      const size_t off = size_t(r.begin) * kProbeChunkBytes, len = size_t(r.end - r.begin) * kProbeChunkBytes;
      fill_unique(a.data() + off, len, off + 1);
      if (read_only) return;
      fill_unique(b.data() + off, len, off + (uint64_t(1) << 40));
      fill_unique(c.data() + off, len, off + (uint64_t(2) << 40));
    });
  }
};

// Runs one parallel pass; `body` returns the bytes its worker moved. Returns GB/s over the
// region's wall time.
std::atomic<uint64_t> g_sink{0};  // folded read results: keeps the loads alive
double timed_pass(ThreadPool& pool, const std::function<uint64_t(int worker, int n_workers, uint64_t& sink)>& body) {
  std::vector<uint64_t> moved(size_t(pool.size()) * 8, 0), sinks(size_t(pool.size()) * 8, 0);  // 64-byte apart slots
  const int64_t t0 = now_ns();
  pool.run([&](int w, int n) { moved[size_t(w) * 8] = body(w, n, sinks[size_t(w) * 8]); });
  const int64_t t1 = now_ns();
  uint64_t bytes = 0, sink = 0;
  for (int w = 0; w < pool.size(); ++w) bytes += moved[size_t(w) * 8], sink ^= sinks[size_t(w) * 8];
  g_sink.fetch_xor(sink, std::memory_order_relaxed);
  return double(bytes) / double(std::max<int64_t>(t1 - t0, 1));
}

double read_pass(ThreadPool& pool, const ProbeKernels& k, const Arrays& arr, int streams, bool prefetch) {
  return timed_pass(pool, [&](int w, int n, uint64_t& sink) -> uint64_t {
    const Range r = split_range(int64_t(arr.n_chunks), w, n);
    const size_t stream_bytes = size_t(r.end - r.begin) / size_t(streams) * kProbeChunkBytes;
    if (stream_bytes == 0) return 0;
    sink = k.read(arr.a.data() + size_t(r.begin) * kProbeChunkBytes, stream_bytes, streams, prefetch);
    return stream_bytes * size_t(streams);
  });
}

// The share of one worker, in bytes from the start of an array.
std::pair<size_t, size_t> share(const Arrays& arr, int w, int n) {
  const Range r = split_range(int64_t(arr.n_chunks), w, n);
  return {size_t(r.begin) * kProbeChunkBytes, size_t(r.end - r.begin) * kProbeChunkBytes};
}

double write_pass(ThreadPool& pool, const ProbeKernels& k, const Arrays& arr, bool nontemporal) {
  return timed_pass(pool, [&](int w, int n, uint64_t&) -> uint64_t {
    auto [off, len] = share(arr, w, n);
    k.write(arr.c.data() + off, len, nontemporal);
    return len;
  });
}

// STREAM's convention: copy counts the bytes read plus the bytes written (2 per byte copied),
// triad 3 per element byte; the write-allocate reads that normal stores cause are not counted.
double copy_pass(ThreadPool& pool, const ProbeKernels& k, const Arrays& arr) {
  return timed_pass(pool, [&](int w, int n, uint64_t&) -> uint64_t {
    auto [off, len] = share(arr, w, n);
    k.copy(arr.b.data() + off, arr.a.data() + off, len);
    return 2 * len;
  });
}

double triad_pass(ThreadPool& pool, const ProbeKernels& k, const Arrays& arr) {
  return timed_pass(pool, [&](int w, int n, uint64_t&) -> uint64_t {
    auto [off, len] = share(arr, w, n);
    k.triad(reinterpret_cast<float*>(arr.c.data() + off), reinterpret_cast<const float*>(arr.a.data() + off),
            reinterpret_cast<const float*>(arr.b.data() + off), 0.5f, len / sizeof(float));
    return 3 * len;
  });
}

ProbeFigure figure(const std::vector<double>& per_rep, const std::string& pattern) {
  ProbeFigure f;
  f.best_gbs = per_rep.empty() ? 0 : *std::max_element(per_rep.begin(), per_rep.end());
  f.median_gbs = median_of(per_rep);
  f.pattern = pattern;
  return f;
}

// All kernels at one thread count. Each repetition runs every kernel once, so drift on a
// shared host spreads over all of them instead of favouring the first.
ThreadFigures measure_threads(int threads, const std::vector<int>& cpus, const ProbeKernels& k, size_t buffer_bytes, int reps) {
  AffinityGuard keep_affinity;
  ThreadPool pool(threads, std::vector<int>(cpus.begin(), cpus.begin() + threads), true);
  Arrays arr(buffer_bytes, pool);
  const size_t n_patterns = std::size(kStreamCounts) * 2;
  std::vector<std::vector<double>> by_pattern(n_patterns);
  std::vector<double> read, write, write_nt, copy, triad;
  std::vector<size_t> read_winner;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1 warms up TLBs, caches and the pool
    double best = 0;
    size_t winner = 0;
    for (size_t p = 0; p < n_patterns; ++p) {
      const double gbs = read_pass(pool, k, arr, kStreamCounts[p / 2], p % 2 == 1);
      if (rep < 0) continue;
      by_pattern[p].push_back(gbs);
      if (gbs > best) best = gbs, winner = p;
    }
    const double w = write_pass(pool, k, arr, false), wnt = write_pass(pool, k, arr, true);
    const double c = copy_pass(pool, k, arr), t = triad_pass(pool, k, arr);
    if (rep < 0) continue;
    read.push_back(best);
    read_winner.push_back(winner);
    write.push_back(w), write_nt.push_back(wnt), copy.push_back(c), triad.push_back(t);
  }
  ThreadFigures f;
  f.threads = threads;
  const size_t best_rep = size_t(std::max_element(read.begin(), read.end()) - read.begin());
  const size_t wp = read_winner[best_rep];
  // A read figure: per repetition the best pattern, then best and median over repetitions
  // (the median is readbw's definition); its pattern is the one of the best repetition.
  f.read = figure(read, pattern_name(kStreamCounts[wp / 2], wp % 2 == 1));
  f.write = figure(write, "normal stores");
  f.write_nt = figure(write_nt, k.isa == std::string_view("plain") ? "normal stores (no non-temporal store here)" : "non-temporal stores");
  f.copy = figure(copy, "normal stores");
  f.triad = figure(triad, "normal stores");
  for (size_t p = 0; p < n_patterns; ++p) f.read_by_pattern.push_back(figure(by_pattern[p], pattern_name(kStreamCounts[p / 2], p % 2 == 1)));
  return f;
}

std::vector<int> thread_counts(int n) {
  std::vector<int> counts;
  if (n <= 8) {
    for (int t = 1; t <= n; ++t) counts.push_back(t);
  } else {  // many cores: doublings and N keep the probe under a minute
    for (int t = 1; t < n; t *= 2) counts.push_back(t);
    counts.push_back(n);
  }
  return counts;
}

}  // namespace

ProbeResult run_probe(const ProbeOptions& o) {
  if (o.reps < 1) fail("probe: repetitions must be at least 1, not {}", o.reps);
  const std::vector<int> cpus = allowed_cpus();
  if (o.max_threads < 0) fail("probe: --threads must be positive, not {}", o.max_threads);
  if (o.max_threads > int(cpus.size()))
    fail("probe: --threads {} exceeds the {} CPUs this process may run on", o.max_threads, cpus.size());
  const int n = o.max_threads > 0 ? o.max_threads : int(cpus.size());
  size_t buffer = o.buffer_bytes ? o.buffer_bytes : default_buffer_bytes();
  // Whole chunks for every stream of every thread.
  const size_t unit = kProbeChunkBytes * 16 * size_t(n);
  buffer = std::max(unit, buffer / unit * unit);

  const ProbeKernels& k = best_probe_kernels();
  ProbeResult r;
  r.machine = machine_description();
  r.measured_unix_s = int64_t(std::time(nullptr));
  r.buffer_bytes = buffer;
  r.isa = k.isa;
  r.reps = o.reps;
  for (int t : thread_counts(n)) r.per_threads.push_back(measure_threads(t, cpus, k, buffer, o.reps));
  // "all": the figures at N threads, except read, which is the best over thread counts (on a
  // busy host fewer threads sometimes stream faster, and the read figure is the roof).
  r.all = r.per_threads.back();
  for (const ThreadFigures& f : r.per_threads)
    if (f.read.best_gbs > r.all.read.best_gbs) r.all.read = f.read;
  if (o.compute) {
    r.compute = run_compute_probe(n, o.reps);
    for (const ComputeFigure& c : r.compute) r.compute_peak_gflops = std::max(r.compute_peak_gflops, c.best_gflops);
  }
  return r;
}

double bracketed_roof(double cached_gbs, std::optional<double> before_gbs, std::optional<double> after_gbs) {
  if (!before_gbs && !after_gbs) return cached_gbs;
  return std::max(before_gbs.value_or(0), after_gbs.value_or(0));
}

double quick_read_probe(int threads, double seconds, size_t buffer_bytes) {
  const std::vector<int> cpus = allowed_cpus();
  if (threads < 1 || threads > int(cpus.size()))
    fail("quick probe: {} threads requested, {} CPUs available", threads, cpus.size());
  AffinityGuard keep_affinity;
  ThreadPool pool(threads, std::vector<int>(cpus.begin(), cpus.begin() + threads), true);
  const size_t unit = kProbeChunkBytes * 16 * size_t(threads);
  const size_t wanted = buffer_bytes ? buffer_bytes : default_buffer_bytes();
  const size_t buffer = std::max(wanted / unit, size_t(1)) * unit;
  Arrays arr(buffer, pool, true);
  const ProbeKernels& k = best_probe_kernels();
  const int64_t deadline = now_ns() + int64_t(seconds * 1e9);
  double best = 0;
  // At least one full round of patterns, however short `seconds` is.
  do {
    for (int streams : kStreamCounts)
      for (bool prefetch : {false, true}) best = std::max(best, read_pass(pool, k, arr, streams, prefetch));
  } while (now_ns() < deadline);
  return best;
}

}  // namespace bwscope::meter
