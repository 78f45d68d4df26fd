// The probe result as JSON, strictly validated on the way back in, and its per-machine cache
// (~/.cache/bwscope/probe-<key>.json) so `bench` and `compare` need not re-probe every time.
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bwscope/base/error.h"
#include "bwscope/format/json_file.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/meter/probe.h"
#include "bwscope/model/model_cache.h"

namespace bwscope::meter {
namespace {

using nlohmann::json;

json figure_json(const ProbeFigure& f) {
  return {{"best_gbs", f.best_gbs}, {"median_gbs", f.median_gbs}, {"pattern", f.pattern}};
}

json threads_json(const ThreadFigures& f) {
  json j = {{"threads", f.threads},         {"read", figure_json(f.read)},   {"write", figure_json(f.write)},
            {"write_nt", figure_json(f.write_nt)}, {"copy", figure_json(f.copy)}, {"triad", figure_json(f.triad)}};
  j["read_patterns"] = json::array();
  for (const ProbeFigure& p : f.read_by_pattern) j["read_patterns"].push_back(figure_json(p));
  return j;
}

// Checked accessors: every failure names the key path, so a hand-edited or truncated cache
// file gets a one-line error instead of a crash.
const json& member(const json& j, const std::string& key, const std::string& where) {
  if (!j.is_object()) fail("probe JSON: '{}' is not an object", where);
  auto it = j.find(key);
  if (it == j.end()) fail("probe JSON: missing '{}{}'", where.empty() ? "" : where + ".", key);
  return *it;
}

double gbs_number(const json& j, const std::string& key, const std::string& where) {
  const json& v = member(j, key, where);
  if (!v.is_number()) fail("probe JSON: '{}.{}' is not a number", where, key);
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0) fail("probe JSON: '{}.{}' = {} is not a finite non-negative number", where, key, d);
  return d;
}

std::string text(const json& j, const std::string& key, const std::string& where) {
  const json& v = member(j, key, where);
  if (!v.is_string()) fail("probe JSON: '{}.{}' is not a string", where, key);
  return v.get<std::string>();
}

int64_t integer(const json& j, const std::string& key, const std::string& where, int64_t lo) {
  const json& v = member(j, key, where);
  if (!v.is_number_integer()) fail("probe JSON: '{}.{}' is not an integer", where, key);
  const int64_t i = v.get<int64_t>();
  if (i < lo) fail("probe JSON: '{}.{}' = {} is below {}", where, key, i, lo);
  return i;
}

ProbeFigure figure_from(const json& j, const std::string& where) {
  ProbeFigure f;
  f.best_gbs = gbs_number(j, "best_gbs", where);
  f.median_gbs = gbs_number(j, "median_gbs", where);
  f.pattern = text(j, "pattern", where);
  return f;
}

ThreadFigures threads_from(const json& j, const std::string& where) {
  ThreadFigures f;
  f.threads = int(integer(j, "threads", where, 1));
  f.read = figure_from(member(j, "read", where), where + ".read");
  f.write = figure_from(member(j, "write", where), where + ".write");
  f.write_nt = figure_from(member(j, "write_nt", where), where + ".write_nt");
  f.copy = figure_from(member(j, "copy", where), where + ".copy");
  f.triad = figure_from(member(j, "triad", where), where + ".triad");
  if (auto it = j.find("read_patterns"); it != j.end()) {
    if (!it->is_array()) fail("probe JSON: '{}.read_patterns' is not an array", where);
    for (size_t i = 0; i < it->size(); ++i) f.read_by_pattern.push_back(figure_from((*it)[i], fmt::format("{}.read_patterns[{}]", where, i)));
  }
  return f;
}

std::string first_line_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      size_t b = line.find_first_not_of(" \t", colon + 1);
      return b == std::string::npos ? "" : line.substr(b);
    }
  return "";
}

// FNV-1a: a stable file-name key for the machine string (std::hash may differ between builds).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

json ProbeResult::to_json() const {
  json j;
  j["schema_version"] = schema_version;
  j["machine"] = machine;
  j["measured_unix_s"] = measured_unix_s;
  j["buffer_bytes"] = buffer_bytes;
  j["isa"] = isa;
  j["reps"] = reps;
  // The figures at all threads at the top, as `probe --json` promises (read.best_gbs, ...).
  j["threads"] = all.threads;
  j["read"] = figure_json(all.read);
  j["write"] = figure_json(all.write);
  j["write_nt"] = figure_json(all.write_nt);
  j["copy"] = figure_json(all.copy);
  j["triad"] = figure_json(all.triad);
  j["per_threads"] = json::array();
  for (const ThreadFigures& f : per_threads) j["per_threads"].push_back(threads_json(f));
  j["compute"] = json::array();
  for (const ComputeFigure& c : compute) j["compute"].push_back({{"kernel", c.kernel}, {"best_gflops", c.best_gflops}});
  j["compute_peak_gflops"] = compute_peak_gflops;
  return j;
}

ProbeResult ProbeResult::from_json(const json& j) {
  if (!j.is_object()) fail("probe JSON: not an object");
  ProbeResult r;
  r.schema_version = int(integer(j, "schema_version", "", 1));
  if (r.schema_version != 1) fail("probe JSON: schema_version {} is not one this bwscope reads (1)", r.schema_version);
  r.machine = text(j, "machine", "");
  r.measured_unix_s = integer(j, "measured_unix_s", "", 0);
  r.buffer_bytes = size_t(integer(j, "buffer_bytes", "", 1));
  r.isa = text(j, "isa", "");
  r.reps = int(integer(j, "reps", "", 1));
  r.all.threads = int(integer(j, "threads", "", 1));
  r.all.read = figure_from(member(j, "read", ""), "read");
  r.all.write = figure_from(member(j, "write", ""), "write");
  r.all.write_nt = figure_from(member(j, "write_nt", ""), "write_nt");
  r.all.copy = figure_from(member(j, "copy", ""), "copy");
  r.all.triad = figure_from(member(j, "triad", ""), "triad");
  const json& per = member(j, "per_threads", "");
  if (!per.is_array() || per.empty()) fail("probe JSON: 'per_threads' is not a non-empty array");
  for (size_t i = 0; i < per.size(); ++i) r.per_threads.push_back(threads_from(per[i], fmt::format("per_threads[{}]", i)));
  const json& comp = member(j, "compute", "");
  if (!comp.is_array()) fail("probe JSON: 'compute' is not an array");
  for (size_t i = 0; i < comp.size(); ++i) {
    const std::string where = fmt::format("compute[{}]", i);
    r.compute.push_back({text(comp[i], "kernel", where), gbs_number(comp[i], "best_gflops", where)});
  }
  r.compute_peak_gflops = gbs_number(j, "compute_peak_gflops", "");
  return r;
}

DeviceInfo device_info() {
  DeviceInfo d;
  d.cpu_model = first_line_value("/proc/cpuinfo", "model name");
  if (d.cpu_model.empty()) d.cpu_model = "unknown CPU";
  d.cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
  d.memory_bytes = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  return d;
}

std::string machine_description() {
  const DeviceInfo d = device_info();
  return fmt::format("{}; {} CPUs; {:.1f} GiB", d.cpu_model, d.cpus, double(d.memory_bytes) / double(1ull << 30));
}

std::string probe_cache_path(const std::string& dir) {
  const std::string base = dir.empty() ? cache_dir() : dir;
  return fmt::format("{}/probe-{:016x}.json", base, fnv1a(machine_description()));
}

ProbeResult read_probe_cache(const std::string& path) {
  const json j = read_json_file(path);
  try {
    return ProbeResult::from_json(j);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  } catch (const json::exception& e) {
    fail("{}: a malformed probe ({})", path, e.what());
  }
}

ProbeResult cached_probe(const ProbeOptions& options, bool reprobe) {
  const std::string path = probe_cache_path(options.cache_dir);
  if (!reprobe && std::filesystem::exists(path)) {
    // A cache that does not parse is reported and measured again; one measured on other
    // hardware or with another thread count is measured again silently. Neither is trusted.
    try {
      ProbeResult r = read_probe_cache(path);
      cpu_set_t allowed;
      CPU_ZERO(&allowed);
      const int n_allowed = sched_getaffinity(0, sizeof(allowed), &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
      const bool same_threads = (options.max_threads > 0 ? options.max_threads : n_allowed) == r.all.threads;
      const bool has_compute = !options.compute || !r.compute.empty();
      if (r.machine == machine_description() && same_threads && has_compute) return r;
    } catch (const Error& e) {
      std::fprintf(stderr, "bwscope: warning: %s; probing again\n", e.what());
    }
  }
  ProbeResult r = run_probe(options);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  write_file_atomic(path, r.to_json().dump(2) + "\n");
  return r;
}

}  // namespace bwscope::meter
