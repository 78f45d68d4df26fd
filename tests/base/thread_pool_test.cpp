#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <stdexcept>

#include "bwscope/base/thread_pool.h"

namespace bwscope {
namespace {

TEST(ThreadPool, EveryWorkerRunsEachRegionOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(4);
  for (int region = 0; region < 1000; ++region)
    pool.run([&](int w, int n) {
      EXPECT_EQ(n, 4);
      hits[size_t(w)].fetch_add(1);
    });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1000);
}

TEST(ThreadPool, RegionsSeeEachOthersWrites) {
  ThreadPool pool(3);
  std::vector<int64_t> data(3000, 0);
  for (int round = 1; round <= 200; ++round) {
    pool.run([&](int w, int n) {
      Range r = split_range(int64_t(data.size()), w, n);
      for (int64_t i = r.begin; i < r.end; ++i) data[size_t(i)] += 1;
    });
    // Read on the caller what workers wrote: the region's end must publish it.
    int64_t sum = 0;
    for (int64_t v : data) sum += v;
    ASSERT_EQ(sum, int64_t(round) * 3000);
  }
}

TEST(ThreadPool, SleepingWorkersWakeUp) {
  ThreadPool pool(2);
  pool.set_spin_limit(1);  // go to sleep at once
  std::atomic<int> count{0};
  for (int i = 0; i < 300; ++i) pool.run([&](int, int) { count.fetch_add(1); });
  EXPECT_EQ(count.load(), 600);
}

TEST(ThreadPool, WorkerExceptionIsRethrownToTheCaller) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.run([](int w, int) {
    if (w == 2) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  std::atomic<int> count{0};
  pool.run([&](int, int) { count.fetch_add(1); });  // still usable
  EXPECT_EQ(count.load(), 3);
}

TEST(ThreadPool, EveryPartRunsOnceAcrossMixedRegions) {
  ThreadPool pool(3);
  std::mt19937 rng(7);
  for (int region = 0; region < 2000; ++region) {
    const int n_parts = 1 + int(rng() % 37);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n_parts));
    if (region % 5 == 0) {  // every-worker regions in between must not confuse late workers
      std::atomic<int> workers{0};
      pool.run([&](int, int) { workers.fetch_add(1); });
      ASSERT_EQ(workers.load(), 3);
    }
    pool.run_parts(n_parts, [&](int part, int n, int worker) {
      EXPECT_EQ(n, n_parts);
      EXPECT_GE(worker, 0);
      EXPECT_LT(worker, 3);
      hits[size_t(part)].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, OthersTakeTheSharesOfAStalledWorker) {
  // Worker 1 stalls in the first part it claims (as when the OS deschedules it): the caller
  // must take every other part rather than leave them for worker 1.
  ThreadPool pool(2);
  std::atomic<int> by_caller{0}, by_worker{0};
  pool.run_parts(8, [&](int, int, int worker) {
    if (worker == 1) {
      by_worker.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } else {
      by_caller.fetch_add(1);
    }
  });
  EXPECT_EQ(by_caller.load() + by_worker.load(), 8);
  EXPECT_LE(by_worker.load(), 1);
}

TEST(ThreadPool, PartExceptionIsRethrownToTheCaller) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run_parts(5, [](int part, int, int) {
    if (part == 3) throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_THROW(pool.run_parts(0, [](int, int, int) {}), std::invalid_argument);
}

TEST(SplitRange, CoversEverythingOnceAndRespectsAlignment) {
  for (auto split : {&split_range, &split_tapered})
    for (int64_t n : {0, 1, 15, 16, 17, 1000, 8192}) {
      for (int parts : {1, 2, 3, 7, 16}) {
        int64_t next = 0;
        for (int p = 0; p < parts; ++p) {
          Range r = split(n, p, parts, 16);
          EXPECT_EQ(r.begin, next);
          if (r.end < n) {
            EXPECT_EQ(r.end % 16, 0);
          }
          next = r.end;
        }
        EXPECT_EQ(next, n);
      }
    }
}

// Tapered parts shrink from first to last: 2048 rows in 16 parts (the 1B decode's Q rows on
// 2 threads) run from about 2/17 of the rows down to one aligned unit.
TEST(SplitRange, TaperedPartsShrinkTowardTheEnd) {
  int64_t previous = INT64_MAX;
  for (int p = 0; p < 16; ++p) {
    const Range r = split_tapered(2048, p, 16, 16);
    const int64_t size = r.end - r.begin;
    EXPECT_LE(size, previous) << "part " << p;
    previous = size;
    if (p == 0) {
      EXPECT_NEAR(double(size), 2048.0 * 16 / 136, 16.0);
    }
  }
  EXPECT_EQ(previous, 16);
  const Range whole = split_tapered(1000, 0, 1, 16);
  EXPECT_EQ(whole.begin, 0);
  EXPECT_EQ(whole.end, 1000);
}

}  // namespace
}  // namespace bwscope
