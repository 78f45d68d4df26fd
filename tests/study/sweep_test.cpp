// The sweep's grid and its results file: a bad grid is refused with one line, and an
// interrupted sweep (a stopped point, a torn last line) resumes to the same file an
// uninterrupted one writes. The runner is a fake: the loop does not care what a point does.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bwscope/base/error.h"
#include "bwscope/study/sweep.h"
#include "support/temp_dir.h"

namespace bwscope::study {
namespace {

using report::PointResult;
using report::SweepPoint;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SweepGrid small_grid() {
  SweepGrid g;
  g.types = {"f16", "q8_0"};
  g.batches = {1, 4};
  g.instances = {1, 2};
  return g;
}

// A deterministic point: figures that follow from its coordinates; the q8_0 b4 N2 point fails.
PointResult fake(const SweepPoint& p) {
  if (p.type == "q8_0" && p.batch == 4 && p.instances == 2) throw Error("instance B: killed by signal 9");
  PointResult r;
  r.ok = true;
  r.scenario = p.instances == 1 ? "1 instance" : "2 × parallel";
  r.tokens_per_s = double(p.batch * p.instances) * (p.type == "f16" ? 10 : 19);
  r.decode_gbs = 40 + p.instances;
  r.threads = 1;
  return r;
}

nlohmann::ordered_json header(const SweepGrid& g) { return results_header(g, CompareSettings{}); }

TEST(SweepGrid, ExpandsTypeOutermostAndEveryCellOnce) {
  const auto points = expand_grid(small_grid(), 2);
  ASSERT_EQ(points.size(), 8u);
  EXPECT_EQ(points[0].key(), "f16 b1 N1 t0 parallel p64");
  EXPECT_EQ(points[1].key(), "f16 b1 N2 t0 parallel p64");
  EXPECT_EQ(points[4].type, "q8_0");
  // A second schedule adds points only where 2+ instances run.
  SweepGrid g = small_grid();
  g.schedules = {"parallel", "time-sliced"};
  EXPECT_EQ(expand_grid(g, 2).size(), 12u);
}

TEST(SweepGrid, BadGridsAreRefusedWithOneLine) {
  auto refused = [](const std::function<void()>& f, const std::string& words) {
    try {
      f();
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(words), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      return;
    }
    ADD_FAILURE() << "accepted; expected: " << words;
  };
  refused([] { parse_list("--types", ""); }, "empty item");
  refused([] { parse_list("--types", "f16,,q8_0"); }, "empty item");
  refused([] { parse_int_list("--batch", "1,x", 1, 256); }, "'x' is not a whole number");
  refused([] { parse_int_list("--instances", "0,2", 1, 64); }, "0 is out of range");
  SweepGrid g = small_grid();
  g.types = {"f16", "q9_9"};
  refused([&] { expand_grid(g, 2); }, "unknown weight type 'q9_9'");
  g = small_grid();
  g.instances = {};
  refused([&] { expand_grid(g, 2); }, "--instances: an empty axis");
  g = small_grid();
  g.instances = {0, 1};
  refused([&] { expand_grid(g, 2); }, "0 instances");
  g = small_grid();
  g.batches = {4, 4};
  refused([&] { expand_grid(g, 2); }, "given twice");
  g = small_grid();
  g.threads = {2};
  refused([&] { expand_grid(g, 2); }, "4 threads on 2 CPUs");
  g = small_grid();
  g.instances = {1, 3};  // 3 one-thread instances on 2 CPUs
  refused([&] { expand_grid(g, 2); }, "3 threads on 2 CPUs cannot be partitioned");
  EXPECT_EQ(expand_grid(g, 2, false).size(), 8u);  // shared cores: fine
  g = small_grid();
  g.schedules = {"round-robin"};
  refused([&] { expand_grid(g, 2); }, "unknown schedule");
}

TEST(SweepResults, AnInterruptedSweepResumesToTheSameFile) {
  test_support::TempDir dir;
  const SweepGrid grid = small_grid();
  const auto points = expand_grid(grid, 2);

  // The reference: one uninterrupted run.
  const std::string whole = dir.file("whole.jsonl");
  {
    ResultsFile f = ResultsFile::create(whole, header(grid));
    const SweepRun run = run_sweep(points, f, [](const SweepPoint& p, bool&) { return fake(p); }, nullptr, nullptr);
    EXPECT_FALSE(run.interrupted);
    ASSERT_EQ(run.results.size(), 8u);
    EXPECT_FALSE(run.results[7].ok);
    EXPECT_EQ(run.results[7].error, "instance B: killed by signal 9");  // recorded, and the sweep went on
  }

  // Stopped during the 4th point (Ctrl-C): three points are in the file, the 4th is not.
  const std::string path = dir.file("cut.jsonl");
  {
    ResultsFile f = ResultsFile::create(path, header(grid));
    int calls = 0;
    const SweepRun run = run_sweep(points, f, [&](const SweepPoint& p, bool& interrupted) {
      if (++calls == 4) interrupted = true;
      return fake(p);
    }, nullptr, nullptr);
    EXPECT_TRUE(run.interrupted);
    EXPECT_EQ(run.results.size(), 3u);
  }
  // Then a crash mid-write leaves a torn line.
  { std::ofstream(path, std::ios::app) << R"({"point":{"type":"f16","ba)"; }

  int calls = 0;
  {
    ResultsFile f = ResultsFile::resume(path);
    EXPECT_EQ(f.done().size(), 3u);
    std::vector<std::string> ran;
    const SweepRun run = run_sweep(points, f, [&](const SweepPoint& p, bool&) {
      ++calls;
      ran.push_back(p.key());
      return fake(p);
    }, nullptr, nullptr);
    EXPECT_FALSE(run.interrupted);
    EXPECT_EQ(run.results.size(), 8u);
    EXPECT_EQ(ran.front(), points[3].key());  // starts where it stopped
  }
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(read_all(path), read_all(whole));

  // A complete file resumes to nothing to run.
  ResultsFile again = ResultsFile::resume(path);
  const SweepRun none = run_sweep(points, again, [&](const SweepPoint&, bool&) -> PointResult {
    ADD_FAILURE() << "ran a point that is in the file";
    return {};
  }, nullptr, nullptr);
  EXPECT_EQ(none.results.size(), 8u);
}

TEST(SweepResults, AStopFlagEndsTheSweepBeforeTheNextPoint) {
  test_support::TempDir dir;
  const auto points = expand_grid(small_grid(), 2);
  ResultsFile f = ResultsFile::create(dir.file("r.jsonl"), header(small_grid()));
  volatile std::sig_atomic_t stop = 0;
  const SweepRun run = run_sweep(points, f, [&](const SweepPoint& p, bool&) {
    stop = 1;  // Ctrl-C while the first point runs: it is cut short, so not recorded
    return fake(p);
  }, &stop, nullptr);
  EXPECT_TRUE(run.interrupted);
  EXPECT_TRUE(run.results.empty());
}

TEST(SweepResults, ExistingFilesAndMalformedLinesAreRefused) {
  test_support::TempDir dir;
  const std::string path = dir.file("r.jsonl");
  { ResultsFile f = ResultsFile::create(path, header(small_grid())); }
  EXPECT_THROW(ResultsFile::create(path, header(small_grid())), Error);  // resume it instead
  { std::ofstream(path, std::ios::app) << "{\"point\": 3}\n{}\n"; }
  try {
    ResultsFile::resume(path);
    ADD_FAILURE() << "a malformed point was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2:"), std::string::npos) << e.what();
  }
  std::ofstream(dir.file("other.jsonl")) << "{\"not\": \"a sweep\"}\n";
  EXPECT_THROW(ResultsFile::resume(dir.file("other.jsonl")), Error);
  EXPECT_THROW(ResultsFile::resume(dir.file("missing.jsonl")), Error);
}

TEST(SweepResults, APointSurvivesTheRoundTripThroughItsLine) {
  PointResult r = fake(SweepPoint{"q4_0", 4, 2, 1, "staggered", 32});
  r.point = SweepPoint{"q4_0", 4, 2, 1, "staggered", 32};
  r.verdict = "device-bound (device 91 %)";
  r.device_read_gbs = 61.5;
  r.decode_bytes_per_token = 1.75e8;
  const PointResult back = report::point_from_json(nlohmann::json::parse(report::point_json(r).dump()));
  EXPECT_EQ(back.point, r.point);
  EXPECT_EQ(back.tokens_per_s, r.tokens_per_s);
  EXPECT_EQ(back.verdict, r.verdict);
  EXPECT_EQ(back.device_read_gbs, r.device_read_gbs);
  EXPECT_EQ(back.decode_bytes_per_token, r.decode_bytes_per_token);
}

}  // namespace
}  // namespace bwscope::study
