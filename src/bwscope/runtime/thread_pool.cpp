#include "bwscope/runtime/thread_pool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bwscope {
namespace {

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Waits until `word` differs from `value`: spins `spin_limit` times, then sleeps on the futex.
// `sleepers` counts threads asleep on `word` so the other side only makes the wake syscall
// when someone sleeps (both sides use seq_cst: either the waker sees the sleeper, or the
// sleeper sees the new value).
void wait_while_equal(std::atomic<uint32_t>& word, uint32_t value, int spin_limit, std::atomic<int>& sleepers) {
  for (int i = 0; i < spin_limit; ++i) {
    if (word.load(std::memory_order_acquire) != value) return;
    cpu_relax();
  }
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  while (word.load(std::memory_order_seq_cst) == value) futex_wait(word, value);
  sleepers.fetch_sub(1, std::memory_order_seq_cst);
}

void wake_if_sleeping(std::atomic<uint32_t>& word, std::atomic<int>& sleepers) {
  if (sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(word);
}

}  // namespace

bool pin_current_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

Range split_range(int64_t n, int part, int n_parts, int64_t align) {
  int64_t units = (n + align - 1) / align;
  int64_t begin = units * part / n_parts * align, end = units * (part + 1) / n_parts * align;
  return {std::min(begin, n), std::min(end, n)};
}

ThreadPool::ThreadPool(int n_threads, std::vector<int> cpus, bool pin_caller)
    : n_threads_(n_threads < 1 ? 1 : n_threads), cpus_(std::move(cpus)) {
  if (pin_caller && !cpus_.empty()) pin_current_thread(cpus_[0]);
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(generation_);
  for (auto& t : threads_) t.join();
}

void ThreadPool::execute(int index) {
  try {
    (*job_)(index, n_threads_);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_main(int index) {
  if (!cpus_.empty()) pin_current_thread(cpus_[size_t(index) % cpus_.size()]);
  uint32_t seen = 0;
  for (;;) {
    wait_while_equal(generation_, seen, spin_limit_, generation_sleepers_);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    execute(index);
    if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_if_sleeping(pending_, pending_sleepers_);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  error_ = nullptr;
  pending_.store(uint32_t(n_threads_ - 1), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  wake_if_sleeping(generation_, generation_sleepers_);
  execute(0);
  for (uint32_t left; (left = pending_.load(std::memory_order_acquire)) != 0;)
    wait_while_equal(pending_, left, spin_limit_, pending_sleepers_);
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace bwscope
