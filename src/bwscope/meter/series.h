// Bandwidth over time from ledger records, and the statistics the reports print.
//
// Time [t0, t1) is cut into windows of width W (the last one may be shorter: it ends at t1).
// Each record's bytes are spread evenly over [t_begin, t_end); a window's bandwidth is the
// bytes that fall in it divided by its width. A record of zero duration puts all its bytes in
// the window that holds its instant. The device series is the sum of the instances' series.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "bwscope/meter/ledger.h"

namespace bwscope::meter {

// Which byte classes of a record count as memory traffic.
enum ByteClass : uint32_t {
  kWeights = 1u << 0,
  kKvRead = 1u << 1,
  kKvWrite = 1u << 2,
  kActivations = 1u << 3,
  kModelTraffic = kWeights | kKvRead | kKvWrite,  // the default: what the model must stream
  kAllBytes = kModelTraffic | kActivations,
};
uint64_t bytes_of(const Record& r, uint32_t classes);

struct Series {
  int64_t t0_ns = 0;
  int64_t t1_ns = 0;
  int64_t width_ns = 10'000'000;
  std::vector<double> bytes;  // bytes in each window

  size_t size() const { return bytes.size(); }
  int64_t window_begin_ns(size_t i) const { return t0_ns + int64_t(i) * width_ns; }
  int64_t window_ns(size_t i) const;  // width of window i (the last one may be shorter)
  double gbs(size_t i) const;         // bytes / ns = GB/s
  double total_bytes() const;
};

using RecordFilter = std::function<bool(const Record&)>;

// Throws Error when width_ns <= 0 or t1 < t0. Records outside [t0, t1) contribute only the
// part of their duration inside it.
Series bandwidth_series(std::span<const Record> records, int64_t t0_ns, int64_t t1_ns, int64_t width_ns,
                        uint32_t classes = kModelTraffic, const RecordFilter& keep = {});

// Element-wise sum of series on the same grid (same t0, t1, width); throws Error otherwise.
Series sum(std::span<const Series> parts);

struct Stats {
  double seconds = 0;      // t1 - t0
  double bytes = 0;
  double avg_gbs = 0;      // total bytes / (t1 - t0)
  double peak_gbs = 0;     // the largest window
  double p50_gbs = 0;      // of the windows, nearest rank
  double p95_gbs = 0;
  int64_t width_ns = 0;    // the window width the peak and percentiles belong to
  size_t n_windows = 0;
};
Stats stats(const Series& s);

// Nearest-rank percentile (q in [0, 1]) of values; 0 for none.
double percentile(std::vector<double> values, double q);

// The span [first t_begin, last t_end) of the records kept by `keep` (both 0 when none).
struct Span {
  int64_t t0_ns = 0, t1_ns = 0;
  bool empty() const { return t1_ns <= t0_ns; }
};
Span span_of(std::span<const Record> records, const RecordFilter& keep = {});

}  // namespace bwscope::meter
