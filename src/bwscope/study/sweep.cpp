#include "bwscope/study/sweep.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/format/json_file.h"
#include "bwscope/model/model_cache.h"

namespace bwscope::study {
namespace {

const std::set<std::string> kSchedules = {"parallel", "time-sliced", "staggered"};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<std::string> parse_list(const std::string& flag, const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.empty()) fail("{} '{}': an empty item; give a comma list such as 1,4", flag, text);
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  for (const std::string& item : parse_list(flag, text)) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || end != item.data() + item.size()) fail("{} '{}': '{}' is not a whole number", flag, text, item);
    if (v < lo || v > hi) fail("{} '{}': {} is out of range ({} to {})", flag, text, v, lo, hi);
    out.push_back(v);
  }
  return out;
}

std::vector<report::SweepPoint> expand_grid(const SweepGrid& g, int n_cpus, bool partitioned) {
  auto need = [](bool nonempty, const char* flag) {
    if (!nonempty) fail("{}: an empty axis; give at least one value", flag);
  };
  need(!g.types.empty(), "--types");
  need(!g.batches.empty(), "--batch");
  need(!g.instances.empty(), "--instances");
  need(!g.threads.empty(), "--threads");
  need(!g.schedules.empty(), "--schedules");
  need(!g.prompts.empty(), "--n-prompt");
  auto no_repeats = [](const auto& axis, const char* flag) {
    for (size_t i = 0; i < axis.size(); ++i)
      for (size_t k = 0; k < i; ++k)
        if (axis[i] == axis[k]) fail("{}: {} is given twice", flag, fmt::format("{}", axis[i]));
  };
  no_repeats(g.types, "--types");
  no_repeats(g.batches, "--batch");
  no_repeats(g.instances, "--instances");
  no_repeats(g.threads, "--threads");
  no_repeats(g.schedules, "--schedules");
  no_repeats(g.prompts, "--n-prompt");
  for (const std::string& t : g.types)
    if (!parse_weight_plan(t)) fail("--types: unknown weight type '{}' ({})", t, kWeightPlanNames);
  for (const std::string& s : g.schedules)
    if (!kSchedules.count(s)) fail("--schedules: unknown schedule '{}' (parallel time-sliced staggered)", s);
  for (int n : g.instances)
    if (n < 1 || n > 64) fail("--instances: {} instances; give 1 to 64", n);
  for (int64_t b : g.batches)
    if (b < 1 || b > 256) fail("--batch: {}; give 1 to 256", b);
  for (int64_t p : g.prompts)
    if (p < 1 || p > 100000) fail("--n-prompt: {}; give 1 to 100000", p);
  const int max_n = *std::max_element(g.instances.begin(), g.instances.end());
  for (int t : g.threads) {
    if (t < 0) fail("--threads: {}; give 0 (CPUs / instances) or a positive count", t);
    for (int n : g.instances) {
      const int64_t need = int64_t(sweep_threads(report::SweepPoint{"", 1, n, t, "", 1}, max_n, n_cpus)) * n;
      if (partitioned && need > n_cpus)
        fail("--instances {} with --threads {}: {} threads on {} CPUs cannot be partitioned cores (use --cores share)", n, t, need, n_cpus);
    }
  }
  std::vector<report::SweepPoint> points;
  for (const std::string& type : g.types)
    for (int64_t p : g.prompts)
      for (int64_t b : g.batches)
        for (int t : g.threads)
          for (const std::string& sched : g.schedules)
            for (int n : g.instances) {
              if (n == 1 && sched != g.schedules.front()) continue;  // alone, every schedule is the same run
              report::SweepPoint pt{type, b, n, t, n == 1 ? "parallel" : sched, p};
              if (std::find(points.begin(), points.end(), pt) == points.end()) points.push_back(pt);
            }
  return points;
}

nlohmann::ordered_json grid_json(const SweepGrid& g) {
  return {{"types", g.types}, {"batch", g.batches}, {"instances", g.instances},
          {"threads", g.threads}, {"schedules", g.schedules}, {"n_prompt", g.prompts}};
}

SweepGrid grid_from_json(const nlohmann::json& j) {
  SweepGrid g;
  g.types = j.at("types").get<std::vector<std::string>>();
  g.batches = json_integers<int64_t>(j.at("batch"));
  g.instances = json_integers<int>(j.at("instances"));
  g.threads = json_integers<int>(j.at("threads"));
  g.schedules = j.at("schedules").get<std::vector<std::string>>();
  g.prompts = json_integers<int64_t>(j.at("n_prompt"));
  return g;
}

// --- the results file ---

ResultsFile ResultsFile::create(const std::string& path, const nlohmann::ordered_json& header) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0644);
  if (fd < 0) {
    if (errno == EEXIST) fail("{}: the results file exists; continue it with --resume {} or choose another with --results", path, path);
    fail("{}: cannot create the results file: {}", path, std::strerror(errno));
  }
  ResultsFile f(path, fd);
  f.header_ = header;
  f.write_line(header.dump());
  return f;
}

ResultsFile ResultsFile::resume(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the results file to resume: {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  // Whole lines only: what follows the last newline is a line torn by a crash.
  const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (keep == 0) fail("{}: not a bwscope sweep results file (no complete header line)", path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_APPEND);
  if (fd < 0) fail("{}: cannot open the results file to append: {}", path, std::strerror(errno));
  ResultsFile f(path, fd);
  if (keep < text.size() && ::ftruncate(fd, off_t(keep)) != 0) fail("{}: cannot cut the torn last line: {}", path, std::strerror(errno));
  size_t line_no = 0, pos = 0;
  while (pos < keep) {
    const size_t nl = text.find('\n', pos);
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail("{}:{}: not a JSON line", path, line_no);
    }
    if (line_no == 1) {
      // Compared, not read with value(): a header key of another type must not throw type_error.
      if (!j.is_object() || !j.contains("bwscope_sweep_results") || j["bwscope_sweep_results"] != 1 || !j.contains("grid") ||
          !j.contains("settings"))
        fail("{}: not a bwscope sweep results file (line 1 is not its header)", path);
      f.header_ = j;
      continue;
    }
    try {
      f.done_.push_back(report::point_from_json(j));
    } catch (const Error& e) {
      fail("{}:{}: {}", path, line_no, e.what());
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: a malformed point ({})", path, line_no, e.what());
    }
  }
  return f;
}

ResultsFile::ResultsFile(ResultsFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), header_(std::move(o.header_)), done_(std::move(o.done_)) {}

ResultsFile::~ResultsFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsFile::write_line(const std::string& line) {
  const std::string data = line + "\n";
  // One write of the whole line (O_APPEND), then to disk: a crash leaves whole lines and at
  // most one torn last line, which resume() cuts off.
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("{}: cannot write the results file: {}", path_, std::strerror(errno));
    off += size_t(n);
  }
  ::fdatasync(fd_);
}

void ResultsFile::append(const report::PointResult& result) {
  write_line(report::point_json(result).dump());
  done_.push_back(result);
}

// --- the loop ---

int sweep_threads(const report::SweepPoint& p, int max_instances, int n_cpus) {
  if (p.threads > 0) return p.threads;
  return std::max(1, n_cpus / std::max(1, max_instances));
}

SweepRun run_sweep(const std::vector<report::SweepPoint>& points, ResultsFile& file, const PointRunner& runner,
                   volatile std::sig_atomic_t* stop, const std::function<void(const SweepProgress&)>& on_point) {
  const auto t0 = std::chrono::steady_clock::now();
  auto recorded = [&](const report::SweepPoint& p) -> const report::PointResult* {
    for (const report::PointResult& r : file.done())
      if (r.point == p) return &r;
    return nullptr;
  };
  int remaining = 0;
  for (const report::SweepPoint& p : points) remaining += recorded(p) ? 0 : 1;
  SweepRun run;
  int ran = 0;
  double ran_s = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    if (recorded(points[i])) continue;
    if (stop && *stop) {
      run.interrupted = true;
      break;
    }
    if (on_point) {
      SweepProgress p{int(i), int(points.size()), remaining, seconds_since(t0), std::nullopt};
      if (ran > 0) p.eta_s = ran_s / ran * remaining;
      on_point(p);
    }
    const auto p0 = std::chrono::steady_clock::now();
    bool interrupted = false;
    report::PointResult r;
    try {
      r = runner(points[i], interrupted);
    } catch (const Error& e) {
      r = report::PointResult{};
      r.ok = false;
      r.error = e.what();
    }
    r.point = points[i];
    if (interrupted || (stop && *stop)) {
      run.interrupted = true;  // a point cut short is not a result: resume runs it again
      break;
    }
    file.append(r);
    ran_s += seconds_since(p0);
    ++ran;
    --remaining;
  }
  for (const report::SweepPoint& p : points)
    if (const report::PointResult* r = recorded(p)) run.results.push_back(*r);
  return run;
}

}  // namespace bwscope::study

namespace bwscope::study {

nlohmann::ordered_json sweep_settings_json(const CompareSettings& s) {
  return {{"preset", s.preset}, {"models", s.models}, {"n_gen", s.n_gen}, {"kv_type", s.kv_type}, {"isa", s.isa.empty() ? "best" : s.isa},
          {"isolation", s.isolation}, {"cores", s.cores}, {"weights", s.weights}, {"prompts", s.prompts},
          {"slice_steps", s.slice_steps}, {"probe", s.probe}, {"bracket_s", s.bracket_s}, {"window_ms", s.window_ms},
          {"threshold", s.threshold}};
}

CompareSettings sweep_settings_from_json(const nlohmann::json& j) {
  CompareSettings s;
  s.preset = j.at("preset").get<std::string>();
  if (j.contains("models")) s.models = j.at("models").get<std::vector<std::string>>();
  s.n_gen = json_integer<int64_t>(j.at("n_gen"));
  s.kv_type = j.at("kv_type").get<std::string>();
  s.isa = j.at("isa").get<std::string>();
  if (s.isa == "best") s.isa.clear();
  s.isolation = j.at("isolation").get<std::string>();
  s.cores = j.at("cores").get<std::string>();
  s.weights = j.at("weights").get<std::string>();
  s.prompts = j.at("prompts").get<std::string>();
  s.slice_steps = json_integer<int64_t>(j.at("slice_steps"));
  s.probe = j.at("probe").get<std::string>();
  s.bracket_s = j.at("bracket_s").get<double>();
  s.window_ms = j.at("window_ms").get<double>();
  s.threshold = j.at("threshold").get<double>();
  return s;
}

nlohmann::ordered_json results_header(const SweepGrid& grid, const CompareSettings& s) {
  return {{"bwscope_sweep_results", 1}, {"grid", grid_json(grid)}, {"settings", sweep_settings_json(s)}};
}

report::SweepReport sweep_report(const nlohmann::json& header, const std::vector<report::SweepPoint>& points,
                                 const std::vector<report::PointResult>& results) {
  report::SweepReport r;
  r.settings = header.at("settings");
  r.grid = header.at("grid");
  const meter::DeviceInfo dev = meter::device_info();
  r.cpu_model = dev.cpu_model;
  r.cpus = dev.cpus;
  r.memory_bytes = dev.memory_bytes;
  r.threshold = header.at("settings").value("threshold", 0.8);
  r.grid_points = points;
  r.results = results;
  return r;
}

}  // namespace bwscope::study
