// `bwscope bench --json` on a tiny model: the schema's keys, the ledger's figures agreeing with
// the bench's own bytes and timings, MBU against a given probe, and a bad probe file refused.
#include <gtest/gtest.h>
#include <vector>
#include <utility>

#include <fstream>

#include <nlohmann/json.hpp>

#include "bwscope/kernels/ops.h"
#include "bwscope/meter/probe.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using test_support::run_cli;

std::string write_probe(const test_support::TempDir& dir, double read_gbs) {
  meter::ProbeResult p;
  p.machine = "Test CPU; 1 CPUs; 1.0 GiB";
  p.buffer_bytes = 1 << 28;
  p.isa = "plain";
  p.reps = 1;
  // One thread reads 60 % of what two do: the roof of bench's cores (-t 1) differs from the device's.
  meter::ThreadFigures one, two;
  one.threads = 1;
  one.read = {0.6 * read_gbs, 0.6 * read_gbs, "1 stream"};
  one.write = one.write_nt = one.copy = one.triad = {read_gbs / 4, read_gbs / 4, "normal stores"};
  two = one;
  two.threads = 2;
  two.read = {read_gbs, read_gbs, "2 streams"};
  p.per_threads = {one, two};
  p.all = two;
  p.compute = {{"plain/q8_0 matmul 2048x2048x128", 50.0}, {"plain/f32 matmul 2048x2048x128", 20.0}};
  p.compute_peak_gflops = 50;
  const std::string path = dir.file("probe.json");
  std::ofstream(path) << p.to_json().dump();
  return path;
}

TEST(BenchJson, CarriesConfigDeviceProbePhasesAndSeries) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::Q8_0);
  const std::string probe = write_probe(dir, 100.0);
  auto r = run_cli({"bench", model, "-p", "8", "-n", "16", "-t", "1", "-r", "2", "--probe-file", probe, "--bracket-s", "0",
                    "--window-ms", "0.5", "--peak-bw", "200", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 3);
  EXPECT_EQ(j["config"]["threads"], 1);
  EXPECT_EQ(j["config"]["window_ms"], 0.5);
  EXPECT_EQ(j["config"]["peak_bw_gbs"], 200.0);
  EXPECT_EQ(j["config"]["weight_type"], "q8_0");
  EXPECT_EQ(j["config"]["layout"], kernels::best_ops().prefers_interleaved(DType::Q8_0) ? "interleaved" : "file");
  EXPECT_GT(j["device"]["cpus"].get<int>(), 0);
  EXPECT_GT(j["device"]["memory_bytes"].get<uint64_t>(), 0u);
  EXPECT_FALSE(j["device"]["cpu_model"].get<std::string>().empty());
  EXPECT_EQ(j["probe"]["read"]["best_gbs"], 100.0);
  EXPECT_EQ(j["probe"]["attainable_read_gbs"], 100.0);
  EXPECT_EQ(j["probe"]["compute_roof_gflops"], 50.0);  // the q8_0 figure, not the best of all
  // The keys of schema 1 are still there.
  for (const char* k : {"tokens_per_s", "bytes_per_token", "avg_bandwidth_gbs"}) EXPECT_TRUE(j["decode"].contains(k)) << k;
  EXPECT_TRUE(j["prefill"].contains("tokens_per_s"));

  const auto& d = j["decode"];
  const auto& led = d["ledger"];
  EXPECT_EQ(led["tokens"], 32);  // 16 tokens × 2 reps
  EXPECT_EQ(led["window_ms"], 0.5);
  // The ledger's per-op bytes add up to the shapes' bytes per token (rope_freqs, read once at
  // load, is the only tensor the model counts and the ledger does not: a few bytes).
  const double bpt = d["bytes_per_token"].get<double>();
  EXPECT_NEAR(led["bytes_per_token"].get<double>() / bpt, 1.0, 1e-3);
  // Average bandwidth = bytes per token × tokens/s of the same repetitions (the harmonic mean
  // of the per-repetition rates is tokens over total time).
  double inv = 0;
  for (double tps : d["samples"]) inv += 1.0 / tps;
  const double tps = double(d["samples"].size()) / inv;
  EXPECT_NEAR(led["avg_gbs"].get<double>() / (bpt * tps / 1e9), 1.0, 0.01);
  EXPECT_GE(led["peak_gbs"].get<double>(), led["p95_gbs"].get<double>());
  EXPECT_GE(led["p95_gbs"].get<double>(), led["p50_gbs"].get<double>());
  EXPECT_GT(led["p50_gbs"].get<double>(), 0);
  // MBU against the device's 100 GB/s and against what bench's one thread reads (60); MFU
  // against that thread's share of the compute probe's 50 GFLOP/s (all CPUs).
  EXPECT_DOUBLE_EQ(led["mbu"].get<double>(), led["avg_gbs"].get<double>() / 100.0);
  EXPECT_DOUBLE_EQ(led["mbu_cores"].get<double>(), led["avg_gbs"].get<double>() / 60.0);
  EXPECT_DOUBLE_EQ(led["mbu_datasheet"].get<double>(), led["avg_gbs"].get<double>() / 200.0);
  const double cpus = j["device"]["cpus"].get<double>();
  EXPECT_NEAR(led["mfu"].get<double>(), led["gflops"].get<double>() / (50.0 / cpus), 1e-12);
  EXPECT_FALSE(led["verdict"]["reason"].get<std::string>().empty());
  EXPECT_TRUE(j["prefill"]["ledger"]["verdict"].contains("bound"));
  EXPECT_GT(j["prefill"]["ledger"]["gflops"].get<double>(), 0);

  const auto& s = j["series"];
  EXPECT_EQ(s["window_ms"], 0.5);
  ASSERT_GT(s["gbs"].size(), 0u);
  EXPECT_EQ(s["spans"].size(), 4u);  // 2 prefill + 2 decode repetitions
  double sum = 0;
  for (double g : s["gbs"]) sum += g;
  EXPECT_GT(sum, 0);
  ASSERT_EQ(j["counters"]["sources"].size(), 2u);
  for (const auto& src : j["counters"]["sources"]) {
    const std::string st = src["status"];
    EXPECT_TRUE(st.rfind("available: ", 0) == 0 || st.rfind("unavailable: ", 0) == 0) << st;
  }
}

TEST(BenchJson, TextOutputShowsTheMeter) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::F16);
  auto r = run_cli({"bench", model, "-p", "4", "-n", "4", "-t", "1", "-r", "1", "--probe-file", write_probe(dir, 100.0),
                    "--bracket-s", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"decode   avg", "MBU", "MFU", "attainable read 100.00 GB/s", "counters: perf"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
}

TEST(BenchJson, RefusesAMalformedProbeFile) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::Q8_0);
  const std::string bad = dir.file("bad.json");
  std::ofstream(bad) << "{\"schema_version\": 1, \"read\": {\"best_gbs\": 3}}";
  auto r = run_cli({"bench", model, "-p", "4", "-n", "4", "-t", "1", "-r", "1", "--probe-file", bad, "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  // The probe cache's strict reader: not JSON, a number past double's range, no such file.
  for (const auto& [content, want] : std::vector<std::pair<std::string, std::string>>{
           {"{", "not valid JSON"}, {"{\"schema_version\": 1e999}", "not valid JSON (a number out of range)"}, {"", "not valid JSON"}}) {
    std::ofstream(bad) << content;
    r = run_cli({"bench", model, "-p", "4", "-n", "4", "-t", "1", "-r", "1", "--probe-file", bad});
    EXPECT_EQ(r.exit_code, 1) << content;
    EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("--probe-file " + bad + ": " + want), std::string::npos) << r.err;
  }
  r = run_cli({"bench", model, "-p", "4", "-n", "4", "-t", "1", "-r", "1", "--probe-file", dir.file("none.json")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("none.json: cannot open"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace bwscope
