// `bwscope bench --json` on a tiny model: the schema's keys, the ledger's figures agreeing with
// the bench's own bytes and timings, MBU against a given probe, and a bad probe file refused.
// And bench's llama-bench rows (-m repeated, lists, -o md|csv|json|jsonl|sql): one row per test
// in llama-bench's order, each agreeing with the single-run report of the same measurement
// (--runs-json) and with a separate --json run of the same configuration.
#include <gtest/gtest.h>
#include <vector>
#include <utility>

#include <cstdlib>
#include <fstream>
#include <sstream>

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
  EXPECT_EQ(j["probe"]["cores_threads"], 1);  // the cores bench ran on, with no bracket too (--bracket-s 0)
  EXPECT_EQ(j["probe"]["cores_read_gbs"], 60.0);
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
  auto r = run_cli({"bench", model, "-p", "4", "-n", "4", "-t", "1", "-r", "1", "-o", "text", "--probe-file", write_probe(dir, 100.0),
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

// Lines of a text, without the newline.
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

struct TwoModels {
  test_support::TempDir dir;
  std::string a = test_support::write_tiny_model(dir, DType::Q8_0), b = test_support::write_tiny_model(dir, DType::F16);
  std::string probe = write_probe(dir, 100.0);
  std::vector<std::string> args(const std::string& format) const {
    return {"bench", "-m", a, "-m", b, "-p", "8,16", "-n", "8", "-t", "1,2", "-r", "2", "--bracket-s", "0",
            "--probe-file", probe, "-o", format};
  }
};

TEST(BenchRows, OneRowPerTestInLlamaBenchsOrderAgreeingWithEachRunsReport) {
  TwoModels m;
  std::vector<std::string> args = m.args("jsonl");
  args.insert(args.end(), {"--runs-json", m.dir.file("runs.jsonl")});
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = lines_of(r.out);
  const auto runs = lines_of(test_support::read_text(m.dir.file("runs.jsonl")));
  ASSERT_EQ(rows.size(), 12u) << r.out;  // 2 models × 2 thread counts × (pp8, pp16, tg8)
  ASSERT_EQ(runs.size(), 12u);
  size_t i = 0;
  for (const std::string& model : {m.a, m.b})
    for (int threads : {1, 2})
      for (const auto& [p, n] : std::vector<std::pair<int, int>>{{8, 0}, {16, 0}, {0, 8}}) {
        const auto row = nlohmann::json::parse(rows[i]), run = nlohmann::json::parse(runs[i]);
        ++i;
        SCOPED_TRACE(rows[i - 1]);
        EXPECT_EQ(row["model_filename"], model);
        EXPECT_EQ(row["n_threads"], threads);
        EXPECT_EQ(row["n_prompt"], p);
        EXPECT_EQ(row["n_gen"], n);
        EXPECT_EQ(row["backends"], "CPU");
        EXPECT_EQ(row["model_type"], model == m.a ? "llama ?B Q8_0" : "llama ?B F16");
        ASSERT_EQ(row["samples_ns"].size(), 2u);
        // t/s as llama-bench computes it: per repetition from its time, then the mean.
        double mean = 0;
        for (size_t k = 0; k < 2; ++k) {
          const double ts = 1e9 * (p + n) / row["samples_ns"][k].get<double>();
          EXPECT_NEAR(row["samples_ts"][k].get<double>() / ts, 1.0, 1e-12);
          mean += ts / 2;
        }
        EXPECT_NEAR(row["avg_ts"].get<double>() / mean, 1.0, 1e-6);
        EXPECT_EQ(row["avg_ns"], (row["samples_ns"][0].get<int64_t>() + row["samples_ns"][1].get<int64_t>()) / 2);
        // The same measurement's single-run report (bench --json's object) says the same.
        EXPECT_EQ(run["config"]["threads"], threads);
        const auto& phase = p > 0 ? run["prefill"] : run["decode"];
        ASSERT_FALSE(phase.is_null());
        EXPECT_NEAR(row["avg_ts"].get<double>() / phase["mean"].get<double>(), 1.0, 1e-6);
        EXPECT_NEAR(row["stddev_ts"].get<double>(), phase["stddev"].get<double>(), 1e-5 * phase["mean"].get<double>());
        EXPECT_NEAR(row["avg_gbs"].get<double>() / phase["ledger"]["avg_gbs"].get<double>(), 1.0, 1e-6);
        EXPECT_NEAR(row["bytes_per_token"].get<double>() / phase["ledger"]["bytes_per_token"].get<double>(), 1.0, 1e-6);
        EXPECT_NEAR(row["mbu"].get<double>() / phase["ledger"]["mbu_cores"].get<double>(), 1.0, 1e-5);
        EXPECT_EQ(row["bound"], phase["ledger"]["verdict"]["bound"]);
        // MBU against the cores used: 60 GB/s for one thread, 100 for two (the probe file's).
        EXPECT_EQ(row["cores_roof_gbs"], threads == 1 ? 60.0 : 100.0);
        EXPECT_NEAR(row["mbu"].get<double>() * row["cores_roof_gbs"].get<double>() / row["avg_gbs"].get<double>(), 1.0, 1e-5);
        // Bandwidth is the ledger's bytes over the repetitions' time: bytes/token × tokens/time.
        const double tokens_per_s = 2.0 * (p + n) / (1e-9 * (row["samples_ns"][0].get<double>() + row["samples_ns"][1].get<double>()));
        EXPECT_NEAR(row["avg_gbs"].get<double>() / (row["bytes_per_token"].get<double>() * tokens_per_s / 1e9), 1.0, 0.02);
      }
}

TEST(BenchRows, ARowAgreesWithASeparateSingleRunOfTheSameConfiguration) {
  TwoModels m;
  for (const auto& [p, n] : std::vector<std::pair<std::string, std::string>>{{"16", "0"}, {"0", "16"}}) {
    auto rows = run_cli({"bench", m.a, "-p", p, "-n", n, "-t", "1", "-r", "3", "--bracket-s", "0", "--probe-file", m.probe, "-o", "json"});
    auto single = run_cli({"bench", m.a, "-p", p, "-n", n, "-t", "1", "-r", "3", "--bracket-s", "0", "--probe-file", m.probe, "--json"});
    ASSERT_EQ(rows.exit_code, 0) << rows.err;
    ASSERT_EQ(single.exit_code, 0) << single.err;
    const auto row = nlohmann::json::parse(rows.out).at(0);
    const auto run = nlohmann::json::parse(single.out);
    const auto& phase = p != "0" ? run["prefill"] : run["decode"];
    // Bytes per token depend on the shapes only: equal. Speed is two runs on a shared host: the
    // medians within a factor of 5 (a slow path on one side would be many times off).
    EXPECT_NEAR(row["bytes_per_token"].get<double>() / phase["ledger"]["bytes_per_token"].get<double>(), 1.0, 1e-9);
    std::vector<double> ts = row["samples_ts"];
    std::sort(ts.begin(), ts.end());
    const double ts_ratio = ts[1] / phase["tokens_per_s"].get<double>();  // medians of 3
    EXPECT_GT(ts_ratio, 0.2) << rows.out << single.out;
    EXPECT_LT(ts_ratio, 5.0);
    // The same bytes per token, so GB/s follows tokens over the repetitions' total time (the
    // harmonic mean of the per-repetition rates) on both sides.
    auto harmonic = [](const std::vector<double>& v) {
      double inv = 0;
      for (double x : v) inv += 1 / x;
      return double(v.size()) / inv;
    };
    const double gbs_ratio = row["avg_gbs"].get<double>() / phase["ledger"]["avg_gbs"].get<double>();
    EXPECT_NEAR(gbs_ratio / (harmonic(ts) / harmonic(phase["samples"])), 1.0, 0.01);
  }
}

TEST(BenchRows, EveryFormatParsesAndTheSqlLoadsIntoSqlite) {
  TwoModels m;
  auto csv = run_cli(m.args("csv"));
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto csv_lines = lines_of(csv.out);
  ASSERT_EQ(csv_lines.size(), 13u);  // header + 12 rows
  EXPECT_EQ(csv_lines[0].rfind("build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,", 0), 0u);
  for (size_t i = 1; i < csv_lines.size(); ++i) EXPECT_EQ(csv_lines[i].front(), '"');

  auto json = run_cli(m.args("json"));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out).size(), 12u);

  auto md = run_cli(m.args("md"));
  ASSERT_EQ(md.exit_code, 0) << md.err;
  const auto md_lines = lines_of(md.out);
  ASSERT_EQ(md_lines.size(), 16u) << md.out;  // header, rule, 12 rows, blank, build
  std::vector<std::string> header;  // the header's cells, padding trimmed
  for (std::istringstream in(md_lines[0]); std::getline(in, header.emplace_back(), '|');) {
    std::string& c = header.back();
    c.erase(0, c.find_first_not_of(' '));
    c.erase(c.find_last_not_of(' ') + 1);
  }
  header.pop_back();
  EXPECT_EQ(header, std::vector<std::string>({"", "model", "size", "params", "backend", "threads", "test", "t/s", "GB/s", "MB/tok", "MBU", "bound"}));
  EXPECT_NE(md_lines[2].find(" pp8 |"), std::string::npos) << md_lines[2];
  EXPECT_NE(md_lines[4].find(" tg8 |"), std::string::npos) << md_lines[4];
  EXPECT_EQ(md_lines[15].rfind("build: ", 0), 0u);

  auto sql = run_cli(m.args("sql"));
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  std::ofstream(m.dir.file("rows.sql")) << sql.out;
  const std::string cmd = "sqlite3 -batch '" + m.dir.file("db") + "' < '" + m.dir.file("rows.sql") + "' && sqlite3 -batch '" +
                          m.dir.file("db") + "' \"SELECT count(*), count(DISTINCT model_filename), sum(n_prompt), sum(n_gen),"
                          " min(avg_ts) > 0, min(avg_gbs) > 0 FROM llama_bench\" > '" + m.dir.file("q.txt") + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test_support::read_text(m.dir.file("q.txt"));
  EXPECT_EQ(test_support::read_text(m.dir.file("q.txt")), "12|2|96|32|1|1\n");
}

TEST(BenchRows, BadListsAndConflictsAreOneLineBeforeAnythingRuns) {
  TwoModels m;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"bench", m.a, "-p", "0-8*2"}, "--n-prompt 0-8*2: the range does not grow"},
      {{"bench", m.a, "-t", "1,,2"}, "--threads 1,,2: an empty item in the list"},
      {{"bench", m.a, "-p", "8,16", "--json"}, "--json reports one configuration; for several give -o md, csv, json, jsonl or sql"},
      {{"bench", m.a, "-o", "xml"}, "-o xml: not an output format"},
      {{"bench", m.a, "--json", "-o", "csv"}, "--json and -o both choose the output; give one"},
      {{"bench", "-m", m.a, "--type", "q8_0"}, "--type chooses the synthetic model's weight type"},
      {{"bench", "--type", "q3_k"}, "--type q3_k: not a type bench can make a model of"},
      {{"bench", m.a, "-p", "0", "-n", "0"}, "nothing to measure: -p and -n are both 0"},
  };
  for (const auto& [args, want] : cases) {
    auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  // A missing file among several: named before any row is printed.
  auto r = run_cli({"bench", "-m", m.a, "-m", m.dir.file("missing.gguf"), "-p", "8", "-n", "0", "-r", "1", "--probe", "none"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.gguf"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace bwscope
