// --trace on compare and bench: the file is valid Trace Event Format (every event has ph, ts,
// pid and tid; slices on a thread nest; counters are numeric), its op slices add up to the
// report's bytes per instance, its counters are the report's windows, its markers are there,
// and a trace over the cap is refused before anything runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using nlohmann::json;
using test_support::run_cli;

int64_t ns(const json& us) { return std::llround(us.get<double>() * 1000.0); }

// The Trace Event Format's rules as chrome://tracing and Perfetto read them; the problems found
// (empty when none).
std::vector<std::string> validate(const json& trace) {
  std::vector<std::string> bad;
  if (!trace.is_object() || !trace.contains("traceEvents") || !trace["traceEvents"].is_array()) return {"no traceEvents array"};
  struct Slice {
    int64_t t0, t1;
    std::string name;
  };
  std::map<std::pair<int64_t, int64_t>, std::vector<Slice>> slices;  // by (pid, tid)
  for (const json& e : trace["traceEvents"]) {
    const std::string where = e.dump().substr(0, 120);
    if (!e.contains("ph") || !e["ph"].is_string() || !e.contains("ts") || !e["ts"].is_number() || !e.contains("pid") ||
        !e["pid"].is_number_integer() || !e.contains("tid") || !e["tid"].is_number_integer() || !e.contains("name") ||
        !e["name"].is_string()) {
      bad.push_back("missing ph/ts/pid/tid/name: " + where);
      continue;
    }
    const std::string ph = e["ph"];
    if (ph == "X") {
      if (!e.contains("dur") || !e["dur"].is_number() || e["dur"].get<double>() < 0) bad.push_back("X without a duration: " + where);
      else slices[{e["pid"], e["tid"]}].push_back({ns(e["ts"]), ns(e["ts"]) + ns(e["dur"]), e["name"]});
    } else if (ph == "C") {
      if (!e.contains("args") || !e["args"].is_object() || e["args"].empty()) bad.push_back("C without values: " + where);
      else
        for (const auto& [k, v] : e["args"].items())
          if (!v.is_number()) bad.push_back("C value not a number: " + where);
    } else if (ph == "i") {
      if (!e.contains("s") || (e["s"] != "g" && e["s"] != "p" && e["s"] != "t")) bad.push_back("i without a scope: " + where);
    } else if (ph == "M") {
      if (!e.contains("args") || !(e["args"].contains("name") || e["args"].contains("sort_index"))) bad.push_back("M without args: " + where);
    } else {
      bad.push_back("unexpected ph " + ph);
    }
  }
  // On one thread, a slice that starts inside another ends inside it.
  for (auto& [key, list] : slices) {
    std::stable_sort(list.begin(), list.end(), [](const Slice& a, const Slice& b) { return a.t0 != b.t0 ? a.t0 < b.t0 : a.t1 > b.t1; });
    std::vector<const Slice*> open;
    for (const Slice& s : list) {
      while (!open.empty() && open.back()->t1 <= s.t0) open.pop_back();
      if (!open.empty() && s.t1 > open.back()->t1)
        bad.push_back("slice " + s.name + " overlaps " + open.back()->name + " without nesting in it");
      open.push_back(&s);
    }
  }
  return bad;
}

// Process names by pid, from the metadata events.
std::map<int64_t, std::string> process_names(const json& trace) {
  std::map<int64_t, std::string> names;
  for (const json& e : trace["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name") names[e["pid"]] = e["args"]["name"];
  return names;
}

TEST(Trace, CompareTraceIsValidAndAddsUpToTheReport) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::Q8_0);
  auto r = run_cli({"compare", "-m", model, "-p", "24", "-n", "12", "--probe", "none", "--window-ms", "0.2", "--no-progress",
                    "--trace", dir.file("t.json"), "--json-out", dir.file("c.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json trace = json::parse(test_support::read_text(dir.file("t.json")));
  const json rep = json::parse(test_support::read_text(dir.file("c.json")));
  const std::vector<std::string> problems = validate(trace);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first: " << problems.front();

  const auto names = process_names(trace);
  std::map<std::string, int64_t> pid_of;
  for (const auto& [pid, name] : names) pid_of[name] = pid;
  // Bytes by class of every op slice, per process.
  std::map<int64_t, std::map<std::string, double>> sums;
  std::map<int64_t, std::set<std::string>> markers;
  std::map<std::pair<int64_t, std::string>, std::vector<std::pair<int64_t, double>>> counters;
  std::set<std::string> global_markers, probes;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "op")
      for (const char* k : {"weight_bytes", "kv_read_bytes", "kv_write_bytes", "activation_bytes"}) sums[e["pid"]][k] += e["args"][k].get<double>();
    if (e["ph"] == "i") (e["s"] == "g" ? global_markers : markers[e["pid"]]).insert(e["name"].get<std::string>());
    if (e["ph"] == "C") counters[{e["pid"], e["name"]}].push_back({ns(e["ts"]), e["args"]["GB/s"].get<double>()});
  }
  ASSERT_GE(rep["scenarios"].size(), 2u);
  int instances = 0;
  for (const json& sc : rep["scenarios"]) {
    EXPECT_TRUE(global_markers.count("start barrier: " + sc["name"].get<std::string>())) << sc["name"];
    for (size_t k = 0; k < sc["instances"].size(); ++k) {
      const json& inst = sc["instances"][k];
      const std::string name = sc["name"].get<std::string>() + " · " + inst["name"].get<std::string>();
      ASSERT_TRUE(pid_of.count(name)) << name;
      const int64_t pid = pid_of[name];
      ++instances;
      // The op slices carry every byte the report counts for this instance, class by class.
      const auto& b = inst["bytes"];
      EXPECT_EQ(sums[pid]["weight_bytes"], b["weights"].get<double>()) << name;
      EXPECT_EQ(sums[pid]["kv_read_bytes"], b["kv_read"].get<double>()) << name;
      EXPECT_EQ(sums[pid]["kv_write_bytes"], b["kv_write"].get<double>()) << name;
      EXPECT_EQ(sums[pid]["activation_bytes"], b["activations"].get<double>()) << name;
      EXPECT_EQ(sums[pid]["weight_bytes"] + sums[pid]["kv_read_bytes"] + sums[pid]["kv_write_bytes"], b["model_traffic"].get<double>());
      EXPECT_GT(b["model_traffic"].get<double>(), 0);
      for (const char* m : {"start", "prefill start", "prefill → decode", "end"}) EXPECT_TRUE(markers[pid].count(m)) << name << ": " << m;
      // Its counter is the report's window series, value for value, then 0.
      const auto& series = sc["series"];
      const auto& c = counters[{pid, "GB/s"}];
      const json& want = series["instances_gbs"][k];
      ASSERT_EQ(c.size(), want.size() + 1) << name;
      const int64_t width = std::llround(series["window_ms"].get<double>() * 1e6);
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(c[i].first, series["t0_ns"].get<int64_t>() + int64_t(i) * width);
        EXPECT_EQ(c[i].second, want[i].get<double>());
      }
      EXPECT_EQ(c.back().second, 0.0);
    }
  }
  EXPECT_EQ(instances, 3);  // 1 alone, 2 in parallel
  EXPECT_FALSE((counters[{pid_of["device"], "device GB/s"}].empty()));
  // Op slices: layer, phase and flops in the args; phases and forward calls enclose them.
  int ops = 0, phases = 0, forwards = 0;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] != "X") continue;
    if (e["cat"] == "op") {
      ++ops;
      EXPECT_TRUE(e["args"]["layer"].is_number_integer());
      EXPECT_TRUE(e["args"]["phase"] == "prefill" || e["args"]["phase"] == "decode") << e;
    }
    phases += e["cat"] == "phase";
    forwards += e["cat"] == "forward";
  }
  EXPECT_GT(ops, forwards);
  EXPECT_EQ(phases, 6);  // prefill and decode of each of the 3 instance runs
}

TEST(Trace, BenchTraceHasEachTestsRepetitionsAndMatchesItsBytes) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::F16);
  auto r = run_cli({"bench", model, "-p", "16", "-n", "8", "-t", "1", "-r", "2", "--probe", "none", "--trace", dir.file("t.json"),
                    "--runs-json", dir.file("runs.jsonl"), "-o", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json trace = json::parse(test_support::read_text(dir.file("t.json")));
  const std::vector<std::string> problems = validate(trace);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first: " << problems.front();
  const auto names = process_names(trace);
  std::vector<json> rows;
  for (std::string line : {r.out.substr(0, r.out.find('\n')), r.out.substr(r.out.find('\n') + 1)})
    if (!line.empty() && line != "\n") rows.push_back(json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  // Per test: the model traffic of its op slices is bytes per token × tokens of the measured
  // repetitions (the warm-up is not on the trace), and a phase slice per repetition.
  std::map<int64_t, double> traffic;
  std::map<int64_t, int> phase_slices;
  std::map<int64_t, std::set<std::string>> markers;
  for (const json& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "op")
      traffic[e["pid"]] += e["args"]["weight_bytes"].get<double>() + e["args"]["kv_read_bytes"].get<double>() +
                           e["args"]["kv_write_bytes"].get<double>();
    if (e["ph"] == "X" && e["cat"] == "phase") ++phase_slices[e["pid"]];
    if (e["ph"] == "i") markers[e["pid"]].insert(e["name"].get<std::string>());
  }
  for (const json& row : rows) {
    const std::string test = row["n_gen"] == 0 ? "pp16" : "tg8";
    int64_t pid = 0;
    for (const auto& [p, n] : names)
      if (n.find(" · " + test + " · t1") != std::string::npos) pid = p;
    ASSERT_NE(pid, 0) << test;
    const double tokens = row["n_gen"] == 0 ? 16.0 * 2 : 8.0 * 2;
    EXPECT_NEAR(traffic[pid] / (row["bytes_per_token"].get<double>() * tokens), 1.0, 1e-9) << test;
    EXPECT_EQ(phase_slices[pid], 2) << test;
    const std::string phase = row["n_gen"] == 0 ? "prefill" : "decode";
    EXPECT_TRUE(markers[pid].count("rep 1 " + phase) && markers[pid].count("rep 2 " + phase)) << test;
  }
}

TEST(Trace, OverTheCapIsRefusedBeforeRunning) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::Q8_0);
  auto r = run_cli({"bench", model, "-p", "512", "-n", "512", "-r", "20", "--probe", "none", "--trace", dir.file("t.json"),
                    "--trace-max-mb", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--trace " + dir.file("t.json") + ": about "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("over the cap of 1 MB"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.json")));
  r = run_cli({"compare", "-m", model, "-p", "64", "-n", "1500", "--probe", "none", "--no-progress", "--trace", dir.file("t.json"),
               "--trace-max-mb", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("over the cap of 1 MB"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.json")));
}

}  // namespace
}  // namespace bwscope
