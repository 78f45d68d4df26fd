// Per-phase figures from ledger records of known bytes and times, checked exactly.
#include <gtest/gtest.h>

#include "bwscope/base/error.h"
#include "bwscope/meter/phase_figures.h"

namespace bwscope::meter {
namespace {

Record rec(int64_t b, int64_t e, uint64_t weights, uint64_t kv_read, Phase ph) {
  Record r;
  r.t_begin_ns = b;
  r.t_end_ns = e;
  r.weight_bytes = weights;
  r.kv_read_bytes = kv_read;
  r.act_bytes = 7;
  r.flops = 100;
  r.phase = ph;
  return r;
}

TEST(PhaseFigures, CountsOnlyThePhaseInsideTheSpans) {
  const std::vector<Record> rs{
      rec(0, 50, 4000, 1000, Phase::Decode),      // span 1, windows 0 (5000 B)
      rec(50, 100, 1000, 0, Phase::Decode),       // span 1, window 1 (1000 B)
      rec(60, 90, 999999, 0, Phase::Prefill),     // other phase: left out
      rec(120, 180, 888888, 0, Phase::Decode),    // between the spans: left out
      rec(200, 300, 6000, 0, Phase::Decode),      // span 2, 3000 B in each window
  };
  const std::vector<Span> spans{{0, 100}, {200, 300}};
  const PhaseFigures f = phase_figures(rs, Phase::Decode, spans, 4, 50);
  EXPECT_EQ(f.n_records, 3u);
  EXPECT_DOUBLE_EQ(f.seconds, 200e-9);
  EXPECT_DOUBLE_EQ(f.weight_bytes, 11000);
  EXPECT_DOUBLE_EQ(f.kv_read_bytes, 1000);
  EXPECT_DOUBLE_EQ(f.act_bytes, 21);
  EXPECT_DOUBLE_EQ(f.flops, 300);
  EXPECT_DOUBLE_EQ(f.model_bytes(), 12000);
  EXPECT_DOUBLE_EQ(f.bytes_per_token(), 3000);
  EXPECT_DOUBLE_EQ(f.avg_gbs(), 60);        // 12000 B / 200 ns
  EXPECT_DOUBLE_EQ(f.gflops(), 1.5);        // 300 FLOP / 200 ns
  // Windows: 5000, 1000, 3000, 3000 bytes over 50 ns → 100, 20, 60, 60 GB/s.
  EXPECT_EQ(f.windows.n_windows, 4u);
  EXPECT_DOUBLE_EQ(f.windows.peak_gbs, 100);
  EXPECT_DOUBLE_EQ(f.windows.p50_gbs, 60);
  EXPECT_DOUBLE_EQ(f.windows.p95_gbs, 100);
  EXPECT_DOUBLE_EQ(f.windows.avg_gbs, 60);
  EXPECT_EQ(f.windows.width_ns, 50);
}

TEST(PhaseFigures, EmptyPhaseIsZeroNotNaN) {
  const std::vector<Record> rs{rec(0, 10, 100, 0, Phase::Prefill)};
  const PhaseFigures f = phase_figures(rs, Phase::Decode, {}, 0, 10);
  EXPECT_EQ(f.avg_gbs(), 0);
  EXPECT_EQ(f.bytes_per_token(), 0);
  EXPECT_EQ(f.windows.n_windows, 0u);
}

TEST(PhaseFigures, RejectsBadWindowsAndSpans) {
  const std::vector<Record> rs;
  const std::vector<Span> backwards{{10, 5}};
  EXPECT_THROW(phase_figures(rs, Phase::Decode, backwards, 1, 10), Error);
  EXPECT_THROW(phase_figures(rs, Phase::Decode, {}, 1, 0), Error);
}

}  // namespace
}  // namespace bwscope::meter
