// Persistent worker threads for one engine instance. Each parallel region hands every worker
// its index; workers spin only briefly at the start of a region, then sleep on a futex, so
// instances sharing cores do not starve each other (a spinning worker burns the time slice
// another instance's worker needs).
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

  // Calls fn(worker, n_workers) on every worker and returns when all have finished. The first
  // exception a worker throws is rethrown here, after all workers are done.
  void run(const std::function<void(int worker, int n_workers)>& fn);

  // Spin iterations before a waiting thread goes to sleep (default ~ tens of microseconds).
  void set_spin_limit(int iterations) { spin_limit_ = iterations; }

 private:
  void worker_main(int index);
  void execute(int index);

  int n_threads_;
  std::vector<int> cpus_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped to start a region
  alignas(64) std::atomic<uint32_t> pending_{0};     // workers still running the region
  std::atomic<int> generation_sleepers_{0};
  std::atomic<int> pending_sleepers_{0};
  std::atomic<bool> stop_{false};
  int spin_limit_ = 20000;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

// Splits [0, n) into n_parts near-equal ranges, aligned to `align`; returns part `i`.
struct Range {
  int64_t begin, end;
};
Range split_range(int64_t n, int part, int n_parts, int64_t align = 1);

// Pins the calling thread to one CPU; returns false if the OS refused.
bool pin_current_thread(int cpu);

}  // namespace bwscope
