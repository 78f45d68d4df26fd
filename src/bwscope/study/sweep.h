// bwscope sweep: a grid of compare-like points run one after another, each appended to a
// results file (JSON Lines) the moment it finishes, so an interrupted sweep resumes where it
// stopped. The loop takes its point runner as a function, so its resume logic is tested on a
// fake runner; run_sweep_point is the real one.
#pragma once

#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bwscope/report/sweep_report.h"
#include "bwscope/study/compare_run.h"

namespace bwscope::study {

// Each axis as a comma list from the command line.
struct SweepGrid {
  std::vector<std::string> types = {"f16", "q8_0", "q4_0"};
  std::vector<int64_t> batches = {1, 4};
  std::vector<int> instances = {1, 2};
  std::vector<int> threads = {0};                 // 0: CPUs / instances
  std::vector<std::string> schedules = {"parallel"};
  std::vector<int64_t> prompts = {64};
};

// Parses "f16,q8_0" (strings) / "1,4" (integers) for `flag`; throws Error with one line on an
// empty list, an empty item or a bad number.
std::vector<std::string> parse_list(const std::string& flag, const std::string& text);
std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& text, int64_t lo, int64_t hi);

// Every cell, type outermost (one model, one shared copy, per run of points), then prompt,
// batch, threads, schedule, instances. A schedule other than parallel only multiplies points
// with 2+ instances. Throws Error on an empty axis, an unknown type or schedule, a count out of
// range, or (on partitioned cores) instances × threads the CPUs cannot give.
std::vector<report::SweepPoint> expand_grid(const SweepGrid& grid, int n_cpus, bool partitioned = true);
nlohmann::ordered_json grid_json(const SweepGrid& grid);
// Threads per instance at a point: its own count, or (0) CPUs / the grid's largest instance
// count, so that every point's instances have the same cores, as compare does: the single
// instance is then what each of the N does alone on its share of the machine.
int sweep_threads(const report::SweepPoint& p, int max_instances, int n_cpus);
SweepGrid grid_from_json(const nlohmann::json& j);

// The results file: line 1 the header {"bwscope_sweep_results": 1, "grid": ..., "settings": ...},
// then one point per line, each written whole and flushed to disk before the next point runs.
class ResultsFile {
 public:
  // A new file; throws Error when it exists (resume it instead) or cannot be written.
  static ResultsFile create(const std::string& path, const nlohmann::ordered_json& header);
  // An existing file: its header and the points already in it. A torn last line (a crash
  // mid-write) is cut off; any other malformed line is an Error naming the file and line.
  static ResultsFile resume(const std::string& path);
  ResultsFile(ResultsFile&&) noexcept;
  ~ResultsFile();

  const nlohmann::json& header() const { return header_; }
  const std::vector<report::PointResult>& done() const { return done_; }
  void append(const report::PointResult& result);
  const std::string& path() const { return path_; }

 private:
  ResultsFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void write_line(const std::string& line);
  std::string path_;
  int fd_ = -1;
  nlohmann::json header_;
  std::vector<report::PointResult> done_;
};

struct SweepProgress {
  int index = 0, total = 0;      // the point about to run (0-based), of all grid points
  int remaining = 0;             // points still to run, this one included
  double elapsed_s = 0;          // this session's sweep so far
  std::optional<double> eta_s;   // from the points run in this session
};

// Runs a point; returns its result (ok false with the error for a point that failed). Sets
// `interrupted` when it was stopped by SIGINT: that result is not recorded.
using PointRunner = std::function<report::PointResult(const report::SweepPoint&, bool& interrupted)>;

// Runs every grid point not yet in `file`, appending each result; a runner that throws Error
// records a failed point and the sweep goes on. Stops at an interruption or when *stop is set.
// Returns the results in grid order (the file's and the new ones) and whether it was stopped.
struct SweepRun {
  std::vector<report::PointResult> results;
  bool interrupted = false;
};
SweepRun run_sweep(const std::vector<report::SweepPoint>& points, ResultsFile& file, const PointRunner& runner,
                   volatile std::sig_atomic_t* stop, const std::function<void(const SweepProgress&)>& on_point);

// The real runner's shared state: the settings every point shares, the roofs, and the one
// prepared copy of the current model's weights (made again when the type changes).
class PointRuns {
 public:
  PointRuns(CompareSettings base, int max_instances, ProgressLine& display, volatile std::sig_atomic_t* stop);
  report::PointResult run(const report::SweepPoint& point, bool& interrupted);

 private:
  CompareSettings base_;
  ProgressLine& display_;
  volatile std::sig_atomic_t* stop_;
  std::optional<meter::ProbeResult> probe_;
  std::string prepared_type_;
  std::shared_ptr<const PreparedWeights> prepared_;
  int max_instances_ = 1;
  int n_cpus_ = 1;
};

}  // namespace bwscope::study

namespace bwscope::study {

// The settings every point shares, as the results file's header keeps them (and back).
nlohmann::ordered_json sweep_settings_json(const CompareSettings& s);
CompareSettings sweep_settings_from_json(const nlohmann::json& j);
// The results file's header for a grid and settings.
nlohmann::ordered_json results_header(const SweepGrid& grid, const CompareSettings& s);

// The report of a sweep (no predictions yet; see plan's predict_sweep).
report::SweepReport sweep_report(const nlohmann::json& header, const std::vector<report::SweepPoint>& points,
                                 const std::vector<report::PointResult>& results);

}  // namespace bwscope::study
