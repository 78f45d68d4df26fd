#include "bwscope/meter/series.h"

#include <algorithm>
#include <cmath>

#include "bwscope/base/error.h"

namespace bwscope::meter {

uint64_t bytes_of(const Record& r, uint32_t classes) {
  return ((classes & kWeights) ? r.weight_bytes : 0) + ((classes & kKvRead) ? r.kv_read_bytes : 0) +
         ((classes & kKvWrite) ? r.kv_write_bytes : 0) + ((classes & kActivations) ? r.act_bytes : 0);
}

int64_t Series::window_ns(size_t i) const { return std::min(width_ns, t1_ns - window_begin_ns(i)); }

double Series::gbs(size_t i) const { return bytes[i] / double(window_ns(i)); }

double Series::total_bytes() const {
  double t = 0;
  for (double b : bytes) t += b;
  return t;
}

Series bandwidth_series(std::span<const Record> records, int64_t t0, int64_t t1, int64_t width, uint32_t classes,
                        const RecordFilter& keep) {
  if (width <= 0) fail("bandwidth series: window width must be positive, not {} ns", width);
  if (t1 < t0) fail("bandwidth series: end {} ns is before start {} ns", t1, t0);
  Series s;
  s.t0_ns = t0;
  s.t1_ns = t1;
  s.width_ns = width;
  s.bytes.assign(size_t((t1 - t0 + width - 1) / width), 0.0);
  if (s.bytes.empty()) return s;
  for (const Record& r : records) {
    if (keep && !keep(r)) continue;
    const double b = double(bytes_of(r, classes));
    if (b == 0) continue;
    if (r.t_end_ns <= r.t_begin_ns) {  // an instant: all bytes in its window
      if (r.t_begin_ns >= t0 && r.t_begin_ns < t1) s.bytes[size_t((r.t_begin_ns - t0) / width)] += b;
      continue;
    }
    const double rate = b / double(r.t_end_ns - r.t_begin_ns);  // bytes per ns
    const int64_t lo = std::max(r.t_begin_ns, t0), hi = std::min(r.t_end_ns, t1);
    if (hi <= lo) continue;
    for (int64_t w = (lo - t0) / width; w < int64_t(s.bytes.size()); ++w) {
      const int64_t wb = t0 + w * width, we = std::min(wb + width, t1);
      if (wb >= hi) break;
      s.bytes[size_t(w)] += rate * double(std::min(we, hi) - std::max(wb, lo));
    }
  }
  return s;
}

Series sum(std::span<const Series> parts) {
  if (parts.empty()) return {};
  Series out = parts[0];
  for (const Series& p : parts.subspan(1)) {
    if (p.t0_ns != out.t0_ns || p.t1_ns != out.t1_ns || p.width_ns != out.width_ns)
      fail("bandwidth series: cannot sum series on different time grids");
    for (size_t i = 0; i < out.bytes.size(); ++i) out.bytes[i] += p.bytes[i];
  }
  return out;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * double(v.size()));
  return v[size_t(std::max(rank, 1.0)) - 1];
}

Stats stats(const Series& s) {
  Stats st;
  st.seconds = double(s.t1_ns - s.t0_ns) * 1e-9;
  st.bytes = s.total_bytes();
  st.avg_gbs = s.t1_ns > s.t0_ns ? st.bytes / double(s.t1_ns - s.t0_ns) : 0;
  st.width_ns = s.width_ns;
  st.n_windows = s.size();
  std::vector<double> g(s.size());
  for (size_t i = 0; i < s.size(); ++i) g[i] = s.gbs(i);
  if (!g.empty()) st.peak_gbs = *std::max_element(g.begin(), g.end());
  st.p50_gbs = percentile(g, 0.50);
  st.p95_gbs = percentile(g, 0.95);
  return st;
}

Span span_of(std::span<const Record> records, const RecordFilter& keep) {
  Span sp;
  bool any = false;
  for (const Record& r : records) {
    if (keep && !keep(r)) continue;
    if (!any) sp = {r.t_begin_ns, r.t_end_ns}, any = true;
    sp.t0_ns = std::min(sp.t0_ns, r.t_begin_ns);
    sp.t1_ns = std::max(sp.t1_ns, r.t_end_ns);
  }
  return sp;
}

}  // namespace bwscope::meter
