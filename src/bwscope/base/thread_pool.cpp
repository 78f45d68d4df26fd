#include "bwscope/base/thread_pool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <stdexcept>
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

Range split_tapered(int64_t n, int part, int n_parts, int64_t align) {
  // Parts 0..i-1 hold i(2 n_parts - i + 1) / (n_parts (n_parts + 1)) of the units.
  const int64_t units = (n + align - 1) / align, whole = int64_t(n_parts) * (n_parts + 1);
  const auto start = [&](int64_t i) { return std::min(units * (i * (2 * n_parts - i + 1)) / whole * align, n); };
  return {start(part), start(part + 1)};
}

namespace {

constexpr uint64_t kEveryWorker = uint64_t(1) << 31;

uint64_t pack_state(uint32_t region, bool every_worker, int n_parts, int next) {
  return uint64_t(region) << 32 | (every_worker ? kEveryWorker : 0) | uint64_t(n_parts) << 16 | uint64_t(next);
}
uint32_t state_region(uint64_t s) { return uint32_t(s >> 32); }
bool state_every_worker(uint64_t s) { return (s & kEveryWorker) != 0; }
int state_parts(uint64_t s) { return int((s >> 16) & 0x7fff); }
int state_next(uint64_t s) { return int(s & 0xffff); }

}  // namespace

ThreadPool::ThreadPool(int n_threads, std::vector<int> cpus, bool pin_caller)
    : n_threads_(n_threads < 1 ? 1 : n_threads), cpus_(std::move(cpus)) {
  if (pin_caller && !cpus_.empty()) pin_current_thread(cpus_[0]);
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  region_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(region_);
  for (auto& t : threads_) t.join();
}

void ThreadPool::execute(int part, int n_parts, int worker) {
  try {
    (*job_)(part, n_parts, worker);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::finish_part(int n_parts) {
  if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == uint32_t(n_parts)) wake_if_sleeping(done_, done_sleepers_);
}

// Takes parts of region `region` until none is left (or a later region has begun).
void ThreadPool::claim_parts(uint32_t region, int worker) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (state_region(s) != region || state_next(s) >= state_parts(s)) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The claimed part keeps the region (and job_) alive until finish_part.
    execute(state_next(s), state_parts(s), worker);
    finish_part(state_parts(s));
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_main(int index) {
  if (!cpus_.empty()) pin_current_thread(cpus_[size_t(index) % cpus_.size()]);
  uint32_t handled = 0;  // the last region this worker took part in
  for (;;) {
    wait_while_equal(region_, handled, spin_limit_.load(std::memory_order_relaxed), region_sleepers_);
    if (stop_.load(std::memory_order_seq_cst)) return;
    const uint64_t s = state_.load(std::memory_order_acquire);
    const uint32_t region = state_region(s);
    if (region == handled) continue;  // region_ is bumped just after state_: catch up
    if (state_every_worker(s)) {
      // The caller waits for this worker's part, so the region is still current.
      execute(index, state_parts(s), index);
      finish_part(state_parts(s));
    } else {
      claim_parts(region, index);
    }
    handled = region;
  }
}

void ThreadPool::start(bool every_worker, int n_parts, const Job& job) {
  job_ = &job;
  error_ = nullptr;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t region = state_region(state_.load(std::memory_order_relaxed)) + 1;
  state_.store(pack_state(region, every_worker, n_parts, 0), std::memory_order_seq_cst);
  region_.store(region, std::memory_order_seq_cst);
  wake_if_sleeping(region_, region_sleepers_);
  if (every_worker) {
    execute(0, n_parts, 0);
    finish_part(n_parts);
  } else {
    claim_parts(region, 0);
  }
  for (uint32_t done; (done = done_.load(std::memory_order_acquire)) != uint32_t(n_parts);)
    wait_while_equal(done_, done, spin_limit_.load(std::memory_order_relaxed), done_sleepers_);
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  const Job job = [&fn](int part, int n_parts, int) { fn(part, n_parts); };
  start(true, n_threads_, job);
}

void ThreadPool::run_parts(int n_parts, const std::function<void(int, int, int)>& fn) {
  if (n_parts < 1 || n_parts > kMaxParts) throw std::invalid_argument("run_parts: n_parts out of range");
  if (n_threads_ == 1 || n_parts == 1) {
    for (int p = 0; p < n_parts; ++p) fn(p, n_parts, 0);
    return;
  }
  start(false, n_parts, fn);
}

}  // namespace bwscope
