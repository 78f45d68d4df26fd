// Persistent worker threads for one engine instance and for the probes (in base/ because
// engine/ and meter/ both use it). A parallel region is cut into parts that the workers claim
// one at a time from a shared counter, so a worker the OS has descheduled (two instances
// sharing cores) delays only the part it holds: the others, the caller included, take the
// rest. Waiting threads spin only briefly, then sleep on a futex, so a spinning worker does
// not burn the time slice another instance's worker needs.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bwscope {

class ThreadPool {
 public:
  // n_threads >= 1 (the calling thread is worker 0). When `cpus` is non-empty, worker i is
  // pinned to cpus[i % cpus.size()] (the caller too, when pin_caller).
  explicit ThreadPool(int n_threads, std::vector<int> cpus = {}, bool pin_caller = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  const std::vector<int>& cpus() const { return cpus_; }

  // Calls fn(worker, n_workers) once on every worker — each on its own thread, as the
  // bandwidth probes need — and returns when all have finished.
  void run(const std::function<void(int worker, int n_workers)>& fn);

  // Calls fn(part, n_parts, worker) once for every part in [0, n_parts) (1..kMaxParts), on
  // whichever worker claims it first; `worker` names the thread, for per-thread scratch.
  // Returns when all parts have finished.
  static constexpr int kMaxParts = 32767;
  void run_parts(int n_parts, const std::function<void(int part, int n_parts, int worker)>& fn);

  // Either way, the first exception a part throws is rethrown here after all parts are done.

  // Spin iterations (pause instructions, ~10 ns each here) before a waiting thread sleeps.
  // The default, ~20 µs, covers the gap between two regions of one forward pass; spinning
  // longer only burns the time slices of other processes sharing the cores (measured with
  // two instances on the same 2 cores: 2,000 beat 20,000 by 1.2-1.35× in aggregate tokens/s).
  void set_spin_limit(int iterations) { spin_limit_.store(iterations, std::memory_order_relaxed); }

 private:
  using Job = std::function<void(int, int, int)>;
  void start(bool every_worker, int n_parts, const Job& job);
  void worker_main(int index);
  void claim_parts(uint32_t region, int worker);
  void execute(int part, int n_parts, int worker);
  void finish_part(int n_parts);

  int n_threads_;
  std::vector<int> cpus_;
  std::vector<std::thread> threads_;
  // The current region, one word: region number (32 bits), every-worker flag (1), number of
  // parts (15), next unclaimed part (16). A claim is a compare-and-swap on it, so a worker
  // that wakes late can never take a part of a later region.
  alignas(64) std::atomic<uint64_t> state_{0};
  const Job* job_ = nullptr;  // valid while a part of the current region is unfinished
  alignas(64) std::atomic<uint32_t> region_{0};  // futex word: bumped to start a region
  alignas(64) std::atomic<uint32_t> done_{0};    // parts finished in the current region
  std::atomic<int> region_sleepers_{0};
  std::atomic<int> done_sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> spin_limit_{2000};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// Splits [0, n) into n_parts near-equal ranges, aligned to `align`; returns part `i`.
struct Range {
  int64_t begin, end;
};
Range split_range(int64_t n, int part, int n_parts, int64_t align = 1);

// The same, with part sizes falling linearly from the first to the last (in the ratio
// n_parts : n_parts - 1 : ... : 1). Workers claim parts in order, so a region ends on small
// parts: the worker that runs out of parts first waits for at most a small one of the others.
Range split_tapered(int64_t n, int part, int n_parts, int64_t align = 1);

// Pins the calling thread to one CPU; returns false if the OS refused.
bool pin_current_thread(int cpu);

}  // namespace bwscope
