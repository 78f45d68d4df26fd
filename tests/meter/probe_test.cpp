// The probe: its JSON round trip and refusals, its per-machine cache, its memory kernels on
// every ISA this CPU runs, and a short real run whose figures must be positive and finite.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/meter/probe.h"
#include "bwscope/meter/probe_kernels.h"
#include "support/temp_dir.h"

namespace bwscope::meter {
namespace {

ProbeFigure fig(double best, double median, const char* pattern) { return {best, median, pattern}; }

ProbeResult sample_result() {
  ProbeResult r;
  r.machine = "Test CPU; 2 CPUs; 8.0 GiB";
  r.measured_unix_s = 1700000000;
  r.buffer_bytes = 268435456;
  r.isa = "avx512";
  r.reps = 5;
  for (int t = 1; t <= 2; ++t) {
    ThreadFigures f;
    f.threads = t;
    f.read = fig(30.5 * t, 28.25 * t, "4 streams, prefetch");
    f.write = fig(20.0 + t, 19.0 + t, "normal stores");
    f.write_nt = fig(25.5 + t, 24.0 + t, "non-temporal stores");
    f.copy = fig(22.0 + t, 21.0 + t, "normal stores");
    f.triad = fig(23.0 + t, 22.5 + t, "normal stores");
    f.read_by_pattern = {fig(10 * t, 9 * t, "1 stream"), fig(30.5 * t, 28.25 * t, "4 streams, prefetch")};
    r.per_threads.push_back(f);
  }
  r.all = r.per_threads.back();
  r.compute = {{"avx512/q8_0 matmul 2048x2048x128", 222.5}, {"avx512/f32 matmul 2048x2048x128", 110.25}};
  r.compute_peak_gflops = 222.5;
  return r;
}

void expect_same(const ProbeFigure& a, const ProbeFigure& b) {
  EXPECT_EQ(a.best_gbs, b.best_gbs);
  EXPECT_EQ(a.median_gbs, b.median_gbs);
  EXPECT_EQ(a.pattern, b.pattern);
}

TEST(ProbeJson, RoundTripKeepsEveryFigure) {
  const ProbeResult r = sample_result();
  const nlohmann::json j = r.to_json();
  // The keys `probe --json` promises.
  EXPECT_EQ(j["read"]["best_gbs"], 61.0);
  EXPECT_EQ(j["write"]["best_gbs"], 22.0);
  EXPECT_EQ(j["copy"]["best_gbs"], 24.0);
  EXPECT_EQ(j["triad"]["best_gbs"], 25.0);
  EXPECT_EQ(j["per_threads"].size(), 2u);
  const ProbeResult back = ProbeResult::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.machine, r.machine);
  EXPECT_EQ(back.measured_unix_s, r.measured_unix_s);
  EXPECT_EQ(back.buffer_bytes, r.buffer_bytes);
  EXPECT_EQ(back.isa, r.isa);
  EXPECT_EQ(back.reps, r.reps);
  ASSERT_EQ(back.per_threads.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.per_threads[i].threads, r.per_threads[i].threads);
    expect_same(back.per_threads[i].read, r.per_threads[i].read);
    expect_same(back.per_threads[i].write, r.per_threads[i].write);
    expect_same(back.per_threads[i].write_nt, r.per_threads[i].write_nt);
    expect_same(back.per_threads[i].copy, r.per_threads[i].copy);
    expect_same(back.per_threads[i].triad, r.per_threads[i].triad);
    ASSERT_EQ(back.per_threads[i].read_by_pattern.size(), 2u);
    expect_same(back.per_threads[i].read_by_pattern[1], r.per_threads[i].read_by_pattern[1]);
  }
  EXPECT_EQ(back.all.threads, 2);
  expect_same(back.all.read, r.all.read);
  ASSERT_EQ(back.compute.size(), 2u);
  EXPECT_EQ(back.compute[1].kernel, r.compute[1].kernel);
  EXPECT_EQ(back.compute[1].best_gflops, 110.25);
  EXPECT_EQ(back.compute_peak_gflops, 222.5);
  EXPECT_EQ(back.attainable_read_gbs(), 61.0);
}

// Each malformed variant must be refused with a message naming what is wrong.
TEST(ProbeJson, RefusesMalformedObjects) {
  const nlohmann::json good = sample_result().to_json();
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    const char* message;
  };
  const std::vector<Case> cases{
      {"missing read", [](nlohmann::json& j) { j.erase("read"); }, "missing 'read'"},
      {"missing best", [](nlohmann::json& j) { j["copy"].erase("best_gbs"); }, "missing 'copy.best_gbs'"},
      {"string figure", [](nlohmann::json& j) { j["triad"]["median_gbs"] = "fast"; }, "'triad.median_gbs' is not a number"},
      {"negative figure", [](nlohmann::json& j) { j["write"]["best_gbs"] = -3.0; }, "'write.best_gbs' = -3"},
      {"future schema", [](nlohmann::json& j) { j["schema_version"] = 7; }, "schema_version 7"},
      {"empty per_threads", [](nlohmann::json& j) { j["per_threads"] = nlohmann::json::array(); }, "'per_threads'"},
      {"zero threads", [](nlohmann::json& j) { j["per_threads"][1]["threads"] = 0; }, "per_threads[1].threads"},
      {"bad compute", [](nlohmann::json& j) { j["compute"][0].erase("kernel"); }, "compute[0].kernel"},
      {"not an object", [](nlohmann::json& j) { j = nlohmann::json::array({1, 2}); }, "not an object"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(j);
    try {
      ProbeResult::from_json(j);
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.what << ": " << e.what();
    }
  }
}

ProbeOptions tiny_options(const std::string& dir) {
  ProbeOptions o;
  o.max_threads = 1;
  o.buffer_bytes = size_t(4) << 20;  // figures from cache, not DRAM: these tests check plumbing
  o.reps = 1;
  o.compute = false;
  o.cache_dir = dir;
  return o;
}

TEST(ProbeCache, ReturnsTheStoredResultForThisMachine) {
  test_support::TempDir dir;
  ProbeResult stored = sample_result();
  stored.machine = machine_description();
  stored.all.threads = 1;  // as asked for below
  {
    std::ofstream out(probe_cache_path(dir.path().string()));
    out << stored.to_json().dump();
  }
  ProbeOptions o = tiny_options(dir.path().string());
  o.compute = true;  // the stored result has compute figures, so it serves
  const ProbeResult r = cached_probe(o, false);
  EXPECT_EQ(r.measured_unix_s, 1700000000);  // not measured again
  EXPECT_EQ(r.all.read.best_gbs, 61.0);
}

TEST(ProbeCache, MeasuresAgainForAnotherMachineOrOnReprobe) {
  test_support::TempDir dir;
  const std::string path = probe_cache_path(dir.path().string());
  ProbeResult stored = sample_result();  // "Test CPU": not this machine
  stored.all.threads = 1;
  {
    std::ofstream out(path);
    out << stored.to_json().dump();
  }
  const ProbeResult r = cached_probe(tiny_options(dir.path().string()), false);
  EXPECT_EQ(r.machine, machine_description());
  EXPECT_NE(r.measured_unix_s, 1700000000);
  // The new result replaced the file, and a reprobe measures once more.
  std::ifstream in(path);
  EXPECT_EQ(ProbeResult::from_json(nlohmann::json::parse(in)).measured_unix_s, r.measured_unix_s);
  const ProbeResult again = cached_probe(tiny_options(dir.path().string()), true);
  EXPECT_EQ(again.machine, machine_description());
}

TEST(ProbeCache, AGarbledCacheIsMeasuredAgain) {
  test_support::TempDir dir;
  {
    std::ofstream out(probe_cache_path(dir.path().string()));
    out << "{\"schema_version\": 1, \"read\": ";
  }
  testing::internal::CaptureStderr();
  const ProbeResult r = cached_probe(tiny_options(dir.path().string()), false);
  const std::string warned = testing::internal::GetCapturedStderr();
  EXPECT_GT(r.all.read.best_gbs, 0);
  // One warning line naming the file and why; the cache now holds the new, valid probe.
  const std::string path = probe_cache_path(dir.path().string());
  EXPECT_EQ(warned, "bwscope: warning: " + path + ": not valid JSON (at byte 31); probing again\n");
  EXPECT_EQ(read_probe_cache(path).all.read.best_gbs, r.all.read.best_gbs);
}

bool finite_positive(const ProbeFigure& f) {
  return std::isfinite(f.best_gbs) && f.best_gbs > 0 && std::isfinite(f.median_gbs) && f.median_gbs > 0 && f.median_gbs <= f.best_gbs;
}

TEST(Probe, ShortRealRunGivesPositiveFiniteFigures) {
  test_support::TempDir dir;
  ProbeOptions o = tiny_options(dir.path().string());
  o.reps = 2;
  const ProbeResult r = run_probe(o);
  ASSERT_EQ(r.per_threads.size(), 1u);
  const ThreadFigures& f = r.per_threads[0];
  EXPECT_EQ(f.threads, 1);
  for (const ProbeFigure* p : {&f.read, &f.write, &f.write_nt, &f.copy, &f.triad}) EXPECT_TRUE(finite_positive(*p)) << p->pattern;
  EXPECT_EQ(f.read_by_pattern.size(), 10u);  // 1, 2, 4, 8, 16 streams × prefetch off/on
  for (const ProbeFigure& p : f.read_by_pattern) EXPECT_TRUE(finite_positive(p)) << p.pattern;
  EXPECT_NE(f.read.pattern.find("stream"), std::string::npos);
  EXPECT_EQ(r.attainable_read_gbs(), f.read.best_gbs);
  EXPECT_EQ(r.buffer_bytes % (128 * 16), 0u);
  EXPECT_EQ(r.machine, machine_description());
}

TEST(Probe, ComputeProbeCoversTheSynthTypes) {
  const std::vector<ComputeFigure> c = run_compute_probe(1, 1);
  ASSERT_EQ(c.size(), 5u);  // f32, f16, bf16, q8_0, q4_0
  for (const ComputeFigure& f : c) {
    EXPECT_TRUE(std::isfinite(f.best_gflops) && f.best_gflops > 0) << f.kernel;
    EXPECT_NE(f.kernel.find("matmul 2048x2048x128"), std::string::npos) << f.kernel;
  }
}

TEST(Probe, QuickReadProbeIsPositive) {
  // A small buffer: this checks the mechanics (the figure itself is judged against readbw by
  // bench/meter_acceptance.sh), and a cache-sized buffer keeps it fast under the sanitizers.
  const double gbs = quick_read_probe(1, 0.01, 8 << 20);
  EXPECT_TRUE(std::isfinite(gbs) && gbs > 0);
  EXPECT_THROW(quick_read_probe(0), Error);
}

TEST(Probe, RejectsMoreThreadsThanCpus) {
  ProbeOptions o;
  o.max_threads = 100000;
  EXPECT_THROW(run_probe(o), Error);
}

// Every kernel table this CPU runs must touch exactly the bytes it is asked to.
std::vector<const ProbeKernels*> tables() {
  std::vector<const ProbeKernels*> t{&probe_kernels_plain()};
  if (const ProbeKernels* k = probe_kernels_avx2()) t.push_back(k);
  if (const ProbeKernels* k = probe_kernels_avx512()) t.push_back(k);
  return t;
}

struct Aligned {
  // aligned_alloc wants a size that is a multiple of the alignment.
  explicit Aligned(size_t n) : bytes((n + 2 * 4096 - 1) / 4096 * 4096), p(static_cast<uint8_t*>(std::aligned_alloc(4096, bytes))) {
    std::memset(p, 0, bytes);
  }
  ~Aligned() { std::free(p); }
  size_t bytes;
  uint8_t* p;
};

TEST(ProbeKernels, ReadCoversEveryStreamAndNothingBeyond) {
  const size_t stream_bytes = 3 * kProbeChunkBytes;
  for (const ProbeKernels* k : tables())
    for (int streams : {1, 2, 4, 8, 16})
      for (bool prefetch : {false, true}) {
        Aligned buf(stream_bytes * 16);
        const uint64_t marker = 0x0123456789abcdefull;
        // The last word of the last stream is read...
        const size_t last = stream_bytes * size_t(streams) - 8;
        std::memcpy(buf.p + last, &marker, 8);
        EXPECT_EQ(k->read(buf.p, stream_bytes, streams, prefetch), marker) << k->isa << " " << streams;
        // ...the first word after it is not.
        std::memset(buf.p, 0, buf.bytes);
        std::memcpy(buf.p + last + 8, &marker, 8);
        EXPECT_EQ(k->read(buf.p, stream_bytes, streams, prefetch), 0u) << k->isa << " " << streams;
      }
}

TEST(ProbeKernels, WriteCopyAndTriadComputeWhatTheySay) {
  const size_t bytes = 4 * kProbeChunkBytes;
  const size_t n = bytes / sizeof(float);
  for (const ProbeKernels* k : tables())
    for (bool nt : {false, true}) {
      Aligned dst(bytes), src(bytes), c(bytes);
      k->write(dst.p, bytes, nt);
      for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(dst.p[i], dst.p[i % 8]) << k->isa;  // one 8-byte pattern
      EXPECT_NE(dst.p[0] | dst.p[1] | dst.p[7], 0) << k->isa;
      EXPECT_EQ(dst.p[bytes], 0) << k->isa << ": wrote past the end";
      float* a = reinterpret_cast<float*>(dst.p);
      float* b = reinterpret_cast<float*>(src.p);
      float* cc = reinterpret_cast<float*>(c.p);
      for (size_t i = 0; i < n; ++i) b[i] = float(i), cc[i] = float(2 * i + 1);
      k->copy(dst.p, src.p, bytes);
      EXPECT_EQ(std::memcmp(dst.p, src.p, bytes), 0) << k->isa;
      k->triad(a, b, cc, 0.5f, n);  // exact in float: i + (i + 0.5)
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], float(i) + 0.5f * float(2 * i + 1)) << k->isa << " at " << i;
    }
}

}  // namespace
}  // namespace bwscope::meter
