// The live display's bandwidth of one instance: its ledger byte count, sampled as the run goes,
// turned into GB/s over a trailing window at least a second long and at least one and a half
// decode steps long. A window shorter than a step (the display refreshes every 0.25 s; a 3B
// F16 step on one core takes 0.2-1 s) showed the instance's rate in one refresh and 0.0 GB/s
// in the next.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>

namespace bwscope {

class LiveRate {
 public:
  // `bytes` so far and `steps` done (the prefill is step 1, each decode step one more) at `now`.
  void sample(int64_t now_ns, uint64_t bytes, int64_t steps) {
    if (steps != steps_) {
      // A decode step ended: the prefill's length says nothing of a decode step's.
      if (steps_ >= 1 && step_end_ns_ > 0) step_ns_ = now_ns - step_end_ns_;
      step_end_ns_ = now_ns;
      steps_ = steps;
    }
    if (!samples_.empty() && samples_.back().second == bytes && now_ns - samples_.back().first < kCoalesceNs) return;
    samples_.emplace_back(now_ns, bytes);
    while (samples_.size() > 2 && now_ns - samples_[1].first > kKeepNs) samples_.pop_front();
  }

  // (GB/s, the window's length in seconds) at `now`: the bytes counted since the window's start
  // over its length (shorter only when the samples begin later).
  std::pair<double, double> rate(int64_t now_ns) const {
    if (samples_.empty()) return {0, 0};
    const int64_t from = now_ns - window_ns();
    size_t k = 0;  // the newest sample at or before the window's start (else the oldest)
    while (k + 1 < samples_.size() && samples_[k + 1].first <= from) ++k;
    const int64_t t0 = std::max(from, samples_[k].first);
    if (now_ns <= t0) return {0, 0};
    return {double(samples_.back().second - samples_[k].second) / double(now_ns - t0), double(now_ns - t0) * 1e-9};
  }

  int64_t window_ns() const { return std::min(kKeepNs, std::max<int64_t>(kMinWindowNs, step_ns_ * 3 / 2)); }

 private:
  static constexpr int64_t kMinWindowNs = 1'000'000'000, kKeepNs = 30'000'000'000, kCoalesceNs = 50'000'000;
  std::deque<std::pair<int64_t, uint64_t>> samples_;  // (time, bytes so far)
  int64_t steps_ = 0, step_end_ns_ = 0, step_ns_ = 0;
};

}  // namespace bwscope
