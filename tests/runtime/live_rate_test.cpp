// The live display's rate: over a trailing window as long as a decode step at least, it holds
// steady between the steps of a slow instance instead of dropping to zero.
#include <gtest/gtest.h>

#include "bwscope/runtime/live_rate.h"

namespace bwscope {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(LiveRate, SteadyStreamGivesItsRate) {
  LiveRate r;
  // 10 GB/s: 10 MB every millisecond, sampled every 20 ms for 5 s, 10 steps a second.
  for (int64_t t = 0; t <= 5000; t += 20) r.sample(t * kMs, uint64_t(t) * 10'000'000, 1 + t / 100);
  const auto [gbs, window_s] = r.rate(5000 * kMs);
  EXPECT_NEAR(gbs, 10.0, 0.05);
  EXPECT_NEAR(window_s, 1.0, 1e-9);  // steps of 0.1 s: the one-second floor
}

TEST(LiveRate, ASlowStepDoesNotFlickerToZero) {
  // Steps of 3 s whose bytes (6 GB each) arrive in a burst at the step's end, refreshed every
  // 0.25 s: after the first decode step, every refresh sees at least one step's bytes.
  LiveRate r;
  uint64_t bytes = 0;
  int64_t steps = 1;
  r.sample(0, 0, steps);
  double lowest = 1e9, highest = 0;
  for (int64_t t = 20; t <= 30'000; t += 20) {
    if (t % 3000 == 0) bytes += 6'000'000'000, ++steps;
    r.sample(t * kMs, bytes, steps);
    if (t % 250 == 0 && t > 6000) {
      const double gbs = r.rate(t * kMs).first;
      lowest = std::min(lowest, gbs);
      highest = std::max(highest, gbs);
    }
  }
  EXPECT_NEAR(double(r.window_ns()) / 1e9, 4.5, 1e-9);  // one and a half steps
  EXPECT_GT(lowest, 1.0);    // never 0.0 GB/s between steps (the true rate is 2 GB/s)
  EXPECT_LT(highest, 3.0);   // nor the burst over a quarter second (24 GB/s)
}

TEST(LiveRate, AFinishedInstanceDecaysToZeroOverItsWindow) {
  LiveRate r;
  for (int64_t t = 0; t <= 2000; t += 20) r.sample(t * kMs, uint64_t(t) * 1'000'000, 1 + t / 100);
  EXPECT_GT(r.rate(2000 * kMs).first, 0.5);
  r.sample(4000 * kMs, 2000 * 1'000'000ull, 21);
  EXPECT_EQ(r.rate(4000 * kMs).first, 0.0);  // nothing in the last second
}

TEST(LiveRate, NoSamplesNoRate) {
  LiveRate r;
  EXPECT_EQ(r.rate(1000 * kMs).first, 0.0);
}

}  // namespace
}  // namespace bwscope
