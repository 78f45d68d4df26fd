#include "bwscope/meter/phase_figures.h"

#include <algorithm>

#include "bwscope/base/error.h"

namespace bwscope::meter {

PhaseFigures phase_figures(std::span<const Record> records, Phase phase, std::span<const Span> spans, uint64_t tokens,
                           int64_t width_ns) {
  if (width_ns <= 0) fail("phase figures: window width must be positive, not {} ns", width_ns);
  PhaseFigures f;
  f.phase = phase;
  f.tokens = tokens;
  std::vector<double> window_gbs;
  double window_bytes = 0;
  for (const Span& sp : spans) {
    if (sp.t1_ns < sp.t0_ns) fail("phase figures: span ends at {} ns, before its start at {} ns", sp.t1_ns, sp.t0_ns);
    f.seconds += double(sp.t1_ns - sp.t0_ns) * 1e-9;
    auto inside = [&](const Record& r) { return r.phase == phase && r.t_begin_ns >= sp.t0_ns && r.t_begin_ns < sp.t1_ns; };
    for (const Record& r : records)
      if (inside(r)) {
        f.weight_bytes += double(r.weight_bytes);
        f.kv_read_bytes += double(r.kv_read_bytes);
        f.kv_write_bytes += double(r.kv_write_bytes);
        f.act_bytes += double(r.act_bytes);
        f.flops += double(r.flops);
        ++f.n_records;
      }
    const Series s = bandwidth_series(records, sp.t0_ns, sp.t1_ns, width_ns, kModelTraffic, inside);
    for (size_t i = 0; i < s.size(); ++i) window_gbs.push_back(s.gbs(i));
    window_bytes += s.total_bytes();
  }
  f.windows.seconds = f.seconds;
  f.windows.bytes = window_bytes;
  f.windows.avg_gbs = f.seconds > 0 ? window_bytes / (f.seconds * 1e9) : 0;
  f.windows.width_ns = width_ns;
  f.windows.n_windows = window_gbs.size();
  if (!window_gbs.empty()) f.windows.peak_gbs = *std::max_element(window_gbs.begin(), window_gbs.end());
  f.windows.p50_gbs = percentile(window_gbs, 0.50);
  f.windows.p95_gbs = percentile(window_gbs, 0.95);
  return f;
}

}  // namespace bwscope::meter
