// Hardware counters: sysfs event parsing on a fake sysfs tree, availability reasons, resctrl
// on a fake mount, and the series drawn from recorded cumulative samples.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bwscope/base/error.h"
#include "bwscope/meter/counters.h"
#include "support/temp_dir.h"

namespace bwscope::meter {
namespace {

namespace fs = std::filesystem;

void put(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text << "\n";
}

// A PMU type number no kernel hands out, so perf_event_open refuses it on any machine.
constexpr const char* kFakeType = "4000";

void add_intel_imc(const fs::path& root, int index) {
  const fs::path pmu = root / "bus/event_source/devices" / ("uncore_imc_" + std::to_string(index));
  put(pmu / "type", kFakeType);
  put(pmu / "cpumask", "0,36");
  put(pmu / "format/event", "config:0-7");
  put(pmu / "format/umask", "config:8-15");
  put(pmu / "events/cas_count_read", "event=0x04,umask=0x03");
  put(pmu / "events/cas_count_read.scale", "6.103515625e-5");
  put(pmu / "events/cas_count_read.unit", "MiB");
  put(pmu / "events/cas_count_write", "event=0x04,umask=0x0c");
  put(pmu / "events/cas_count_write.scale", "6.103515625e-5");
  put(pmu / "events/cas_count_write.unit", "MiB");
}

TEST(CounterSysfs, ParsesFormatFields) {
  const FormatField f = parse_format_field("config:0-7,32-35\n");
  EXPECT_EQ(f.config, "config");
  ASSERT_EQ(f.bit_ranges.size(), 2u);
  EXPECT_EQ(f.bit_ranges[1], (std::pair<int, int>{32, 35}));
  EXPECT_EQ(parse_format_field("config1:5").bit_ranges[0], (std::pair<int, int>{5, 5}));
  EXPECT_THROW(parse_format_field("config:9-3"), Error);
  EXPECT_THROW(parse_format_field("config:0-64"), Error);
  EXPECT_THROW(parse_format_field("cfg:0-7"), Error);
  EXPECT_THROW(parse_format_field("config"), Error);
}

TEST(CounterSysfs, EncodesEventsThroughTheFormat) {
  const std::map<std::string, FormatField> formats{{"event", parse_format_field("config:0-7")},
                                                   {"umask", parse_format_field("config:8-15")},
                                                   {"split", parse_format_field("config:16-19,32-35")},
                                                   {"edge", parse_format_field("config:18")},
                                                   {"far", parse_format_field("config1:0-7")}};
  EXPECT_EQ(encode_event("event=0x04,umask=0x03", formats), 0x0304u);
  EXPECT_EQ(encode_event("event=0xff,umask=12", formats), 0x0cffu);
  // Value bits fill the ranges from the lowest: 0x5a → bits 16-19 get 0xa, bits 32-35 get 0x5.
  EXPECT_EQ(encode_event("split=0x5a", formats), (0xaull << 16) | (0x5ull << 32));
  EXPECT_EQ(encode_event("event=1,edge", formats), 0x1u | (1u << 18));  // a bare term means 1
  EXPECT_THROW(encode_event("event=0x100", formats), Error);   // does not fit 8 bits
  EXPECT_THROW(encode_event("cmask=1", formats), Error);       // no such field
  EXPECT_THROW(encode_event("far=1", formats), Error);         // lives in config1
  EXPECT_THROW(encode_event("event=zz", formats), Error);
}

TEST(CounterSysfs, ParsesCpuLists) {
  EXPECT_EQ(parse_cpu_list("0-2,5\n"), (std::vector<int>{0, 1, 2, 5}));
  EXPECT_EQ(parse_cpu_list("36"), (std::vector<int>{36}));
  EXPECT_THROW(parse_cpu_list(""), Error);
  EXPECT_THROW(parse_cpu_list("3-1"), Error);
  EXPECT_THROW(parse_cpu_list("a"), Error);
}

TEST(CounterSysfs, FindsIntelImcEvents) {
  test_support::TempDir dir;
  add_intel_imc(dir.path(), 1);
  add_intel_imc(dir.path(), 0);
  put(dir.path() / "bus/event_source/devices/uncore_imc_free_running_0/type", "30");  // left out
  std::string why;
  const auto events = find_dram_events(dir.path().string(), &why);
  ASSERT_EQ(events.size(), 4u) << why;
  EXPECT_EQ(events[0].pmu, "uncore_imc_0");
  EXPECT_EQ(events[0].event, "cas_count_read");
  EXPECT_FALSE(events[0].is_write);
  EXPECT_EQ(events[0].config, 0x0304u);
  EXPECT_EQ(events[1].config, 0x0c04u);
  EXPECT_TRUE(events[1].is_write);
  EXPECT_EQ(events[0].type, 4000u);
  EXPECT_EQ(events[0].cpu, 0);
  EXPECT_DOUBLE_EQ(events[0].bytes_per_count, 64.0);  // 6.103515625e-5 MiB
  EXPECT_EQ(events[3].pmu, "uncore_imc_1");
}

TEST(CounterSysfs, FindsAmdUmcEventsWithoutEventFiles) {
  test_support::TempDir dir;
  const fs::path pmu = dir.path() / "bus/event_source/devices/amd_umc_0";
  put(pmu / "type", kFakeType);
  put(pmu / "cpumask", "8");
  put(pmu / "format/event", "config:0-7");
  put(pmu / "format/rdwrmask", "config:8-9");
  std::string why;
  const auto events = find_dram_events(dir.path().string(), &why);
  ASSERT_EQ(events.size(), 2u) << why;
  EXPECT_EQ(events[0].event, "umc_cas_cmd.rd");
  EXPECT_EQ(events[0].config, 0x10au);  // event 0x0a, rdwrmask 1
  EXPECT_EQ(events[1].config, 0x20au);  // rdwrmask 2: writes
  EXPECT_EQ(events[0].cpu, 8);
  EXPECT_DOUBLE_EQ(events[1].bytes_per_count, 64.0);
}

TEST(CounterSysfs, SaysWhyThereAreNoEvents) {
  test_support::TempDir dir;
  put(dir.path() / "bus/event_source/devices/software/type", "1");
  std::string why;
  EXPECT_TRUE(find_dram_events(dir.path().string(), &why).empty());
  EXPECT_NE(why.find("no memory-controller PMU"), std::string::npos) << why;
  put(dir.path() / "bus/event_source/devices/amd_df/type", "11");
  find_dram_events(dir.path().string(), &why);
  EXPECT_NE(why.find("amd_df"), std::string::npos) << why;
  // An Intel IMC without the CAS events.
  put(dir.path() / "bus/event_source/devices/uncore_imc_0/type", "12");
  EXPECT_TRUE(find_dram_events(dir.path().string(), &why).empty());
  EXPECT_NE(why.find("uncore_imc_0 has no events/cas_count_read"), std::string::npos) << why;
}

TEST(CounterSources, PerfReportsUnavailableWithTheReason) {
  test_support::TempDir dir;
  auto none = make_perf_source(dir.path().string());
  EXPECT_FALSE(none->available());
  EXPECT_EQ(none->status().rfind("unavailable: no memory-controller PMU", 0), 0u) << none->status();
  EXPECT_THROW(none->start(), Error);
  add_intel_imc(dir.path(), 0);
  auto refused = make_perf_source(dir.path().string());
  EXPECT_FALSE(refused->available());
  EXPECT_EQ(refused->status().rfind("unavailable: perf_event_open(uncore_imc_0/cas_count_read/) failed", 0), 0u)
      << refused->status();
  EXPECT_TRUE(refused->splits_read_write());
}

TEST(CounterSources, ThisMachineGetsAStatusFromEverySource) {
  // Whatever the host has, every source states availability in so many words.
  for (const auto& s : counter_sources()) {
    const std::string st = s->status();
    EXPECT_TRUE(st.rfind("available: ", 0) == 0 || st.rfind("unavailable: ", 0) == 0) << s->name() << ": " << st;
    EXPECT_EQ(s->available(), st.rfind("available: ", 0) == 0);
  }
}

TEST(CounterSources, ResctrlReadsMbmTotalBytesOverDomains) {
  test_support::TempDir dir;
  const fs::path root = dir.path() / "resctrl";
  auto unmounted = make_resctrl_source(root.string());
  EXPECT_NE(unmounted->status().find("unavailable: resctrl is not mounted"), std::string::npos) << unmounted->status();

  put(root / "info/L3_MON/mon_features", "llc_occupancy\nmbm_total_bytes\nmbm_local_bytes");
  put(root / "mon_data/mon_L3_00/mbm_total_bytes", "1000");
  put(root / "mon_data/mon_L3_01/mbm_total_bytes", "500");
  auto src = make_resctrl_source(root.string());
  ASSERT_TRUE(src->available()) << src->status();
  EXPECT_FALSE(src->splits_read_write());
  src->start();
  put(root / "mon_data/mon_L3_00/mbm_total_bytes", "3000");
  put(root / "mon_data/mon_L3_01/mbm_total_bytes", "1700");
  EXPECT_DOUBLE_EQ(src->sample().total_bytes, 3200);  // (3000 + 1700) - (1000 + 500)

  put(root / "mon_data/mon_L3_01/mbm_total_bytes", "Unavailable");
  auto broken = make_resctrl_source(root.string());
  EXPECT_FALSE(broken->available());
  EXPECT_NE(broken->status().find("'Unavailable' is not a byte count"), std::string::npos) << broken->status();

  put(root / "info/L3_MON/mon_features", "llc_occupancy");
  EXPECT_NE(make_resctrl_source(root.string())->status().find("does not list mbm_total_bytes"), std::string::npos);
}

// A source that replays recorded cumulative values, one per sample() call.
class ReplaySource final : public CounterSource {
 public:
  explicit ReplaySource(std::vector<CounterSample> values) : values_(std::move(values)) {}
  std::string name() const override { return "replay"; }
  bool available() const override { return true; }
  std::string status() const override { return "available: recorded values"; }
  bool splits_read_write() const override { return true; }
  void start() override { next_ = 0, started_ = true; }
  CounterSample sample() override { return values_[std::min(next_++, values_.size() - 1)]; }
  void stop() override { started_ = false; }
  bool started_ = false;

 private:
  std::vector<CounterSample> values_;
  size_t next_ = 0;
};

CounterSample at(int64_t t, double rd, double wr) { return {t, rd, wr, rd + wr}; }

TEST(CounterSeries, SpreadsEachIntervalOverItsWindows) {
  // Cumulative: 0 at t=0, 2000 read at t=20, nothing more until 30, then 3000 more (1000 of
  // it written) by t=40.
  const std::vector<CounterSample> s{at(0, 0, 0), at(20, 2000, 0), at(30, 2000, 0), at(40, 4000, 1000)};
  const Series total = counter_series(s, 0, 40, 10);
  EXPECT_EQ(total.bytes, (std::vector<double>{1000, 1000, 0, 3000}));
  EXPECT_DOUBLE_EQ(total.gbs(3), 300);
  EXPECT_EQ(counter_series(s, 0, 40, 10, CounterBytes::Write).bytes, (std::vector<double>{0, 0, 0, 1000}));
  EXPECT_EQ(counter_series(s, 0, 40, 10, CounterBytes::Read).bytes, (std::vector<double>{1000, 1000, 0, 2000}));
  // Over a window grid that starts mid-interval, only the part inside counts.
  EXPECT_EQ(counter_series(s, 5, 25, 10).bytes, (std::vector<double>{1000, 500}));
  const Stats st = stats(total);
  EXPECT_DOUBLE_EQ(st.avg_gbs, 125);   // 5000 B / 40 ns
  EXPECT_DOUBLE_EQ(st.peak_gbs, 300);
}

TEST(CounterSeries, RefusesSamplesOutOfOrderOrDecreasing) {
  const std::vector<CounterSample> backwards{at(10, 0, 0), at(5, 10, 0)};
  EXPECT_THROW(counter_series(backwards, 0, 20, 10), Error);
  const std::vector<CounterSample> shrinking{at(0, 100, 0), at(10, 50, 0)};
  EXPECT_THROW(counter_series(shrinking, 0, 20, 10), Error);
}

TEST(CounterRecorder, SamplesAFakeSourceUntilStopped) {
  std::vector<CounterSample> recorded;
  for (int i = 0; i < 1000; ++i) recorded.push_back(at(int64_t(i) * 1000, 64.0 * i, 0));
  ReplaySource src(recorded);
  {
    CounterRecorder rec(src, 2'000'000);  // every 2 ms
    rec.start();
    EXPECT_TRUE(src.started_);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    rec.stop();
    EXPECT_FALSE(src.started_);
    const auto got = rec.samples();
    ASSERT_GE(got.size(), 4u);  // the start, some periodic ones, the last
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].t_ns, recorded[i].t_ns);
    // The replayed cumulative bytes make a series of exactly 64 bytes per µs.
    const Series s = counter_series(got, 0, got.back().t_ns, got.back().t_ns);
    EXPECT_DOUBLE_EQ(s.total_bytes(), 64.0 * double(got.size() - 1));
  }
  EXPECT_THROW(CounterRecorder(src, 0), Error);
}

}  // namespace
}  // namespace bwscope::meter
