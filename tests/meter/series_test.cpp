// The bandwidth series and its statistics, checked exactly on records of known bytes and times.
#include <gtest/gtest.h>

#include "bwscope/base/error.h"
#include "bwscope/meter/series.h"

namespace bwscope::meter {
namespace {

Record rec(int64_t b, int64_t e, uint64_t weights, uint32_t instance = 0, Phase ph = Phase::Decode) {
  Record r;
  r.t_begin_ns = b;
  r.t_end_ns = e;
  r.weight_bytes = weights;
  r.instance = instance;
  r.phase = ph;
  return r;
}

TEST(Series, SpreadsBytesEvenlyOverTheRecordsDuration) {
  // 3000 bytes over [5, 35) ns, windows of 10 ns from 0 to 40: 500, 1000, 1000, 500.
  const std::vector<Record> rs{rec(5, 35, 3000)};
  const Series s = bandwidth_series(rs, 0, 40, 10);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_DOUBLE_EQ(s.bytes[0], 500);
  EXPECT_DOUBLE_EQ(s.bytes[1], 1000);
  EXPECT_DOUBLE_EQ(s.bytes[2], 1000);
  EXPECT_DOUBLE_EQ(s.bytes[3], 500);
  EXPECT_DOUBLE_EQ(s.gbs(1), 100.0);  // 1000 bytes / 10 ns
}

TEST(Series, CountsOnlyTheChosenByteClasses) {
  Record r = rec(0, 10, 100);
  r.kv_read_bytes = 20;
  r.kv_write_bytes = 3;
  r.act_bytes = 1000;
  const std::vector<Record> rs{r};
  EXPECT_DOUBLE_EQ(bandwidth_series(rs, 0, 10, 10).bytes[0], 123);
  EXPECT_DOUBLE_EQ(bandwidth_series(rs, 0, 10, 10, kAllBytes).bytes[0], 1123);
  EXPECT_DOUBLE_EQ(bandwidth_series(rs, 0, 10, 10, kKvRead | kKvWrite).bytes[0], 23);
}

TEST(Series, ClipsRecordsToTheRangeAndKeepsInstants) {
  const std::vector<Record> rs{rec(-10, 10, 200), rec(25, 25, 7), rec(40, 50, 99)};
  const Series s = bandwidth_series(rs, 0, 30, 10);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s.bytes[0], 100);  // half of the first record lies before t0
  EXPECT_DOUBLE_EQ(s.bytes[1], 0);
  EXPECT_DOUBLE_EQ(s.bytes[2], 7);    // the instant at 25
}

TEST(Series, LastWindowIsShorterAndDividesByItsOwnWidth) {
  const std::vector<Record> rs{rec(0, 25, 2500)};
  const Series s = bandwidth_series(rs, 0, 25, 10);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.window_ns(2), 5);
  EXPECT_DOUBLE_EQ(s.gbs(2), 100.0);
  EXPECT_DOUBLE_EQ(s.gbs(0), 100.0);
}

TEST(Series, FiltersByInstanceAndSumsToTheDeviceSeries) {
  const std::vector<Record> rs{rec(0, 20, 2000, 0), rec(10, 30, 4000, 1)};
  const auto of = [](uint32_t i) { return [i](const Record& r) { return r.instance == i; }; };
  const std::vector<Series> parts{bandwidth_series(rs, 0, 30, 10, kModelTraffic, of(0)),
                                  bandwidth_series(rs, 0, 30, 10, kModelTraffic, of(1))};
  const Series dev = sum(parts);
  EXPECT_EQ(dev.bytes, (std::vector<double>{1000, 3000, 2000}));
  EXPECT_EQ(dev.bytes, bandwidth_series(rs, 0, 30, 10).bytes);
}

TEST(Series, StatsAreExact) {
  // Ten windows of 1 µs with 1000·k bytes in window k (k = 1..10): 1..10 GB/s.
  std::vector<Record> rs;
  for (int k = 1; k <= 10; ++k) rs.push_back(rec((k - 1) * 1000, k * 1000, uint64_t(1000 * k)));
  const Stats st = stats(bandwidth_series(rs, 0, 10'000, 1000));
  EXPECT_EQ(st.n_windows, 10u);
  EXPECT_DOUBLE_EQ(st.bytes, 55'000);
  EXPECT_DOUBLE_EQ(st.seconds, 1e-5);
  EXPECT_DOUBLE_EQ(st.avg_gbs, 5.5);
  EXPECT_DOUBLE_EQ(st.peak_gbs, 10);
  EXPECT_DOUBLE_EQ(st.p50_gbs, 5);
  EXPECT_DOUBLE_EQ(st.p95_gbs, 10);
  EXPECT_EQ(st.width_ns, 1000);
}

TEST(Series, PeakDependsOnTheWindowWidth) {
  // A 1 µs burst of 10 000 bytes inside 100 µs of 1 GB/s background.
  const std::vector<Record> rs{rec(0, 100'000, 100'000), rec(50'000, 51'000, 10'000)};
  EXPECT_DOUBLE_EQ(stats(bandwidth_series(rs, 0, 100'000, 1000)).peak_gbs, 11.0);
  EXPECT_DOUBLE_EQ(stats(bandwidth_series(rs, 0, 100'000, 10'000)).peak_gbs, 2.0);
}

TEST(Series, PercentileIsNearestRank) {
  EXPECT_DOUBLE_EQ(percentile({}, 0.5), 0);
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 0.0), 1);
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 0.5), 2);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0.5), 2);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0.95), 4);
}

TEST(Series, SpanOfKeptRecords) {
  const std::vector<Record> rs{rec(5, 9, 1, 0, Phase::Prefill), rec(12, 30, 1, 0, Phase::Decode), rec(31, 40, 1, 0, Phase::Decode)};
  const Span all = span_of(rs);
  EXPECT_EQ(all.t0_ns, 5);
  EXPECT_EQ(all.t1_ns, 40);
  const Span dec = span_of(rs, [](const Record& r) { return r.phase == Phase::Decode; });
  EXPECT_EQ(dec.t0_ns, 12);
  EXPECT_EQ(dec.t1_ns, 40);
  EXPECT_TRUE(span_of({}).empty());
}

TEST(Series, RefusesBadGrids) {
  EXPECT_THROW(bandwidth_series({}, 0, 10, 0), Error);
  EXPECT_THROW(bandwidth_series({}, 10, 0, 1), Error);
  const std::vector<Series> mixed{bandwidth_series({}, 0, 10, 5), bandwidth_series({}, 0, 10, 2)};
  EXPECT_THROW(sum(mixed), Error);
}

}  // namespace
}  // namespace bwscope::meter
