// perf uncore memory-controller counters: Intel uncore_imc_* (cas_count_read / cas_count_write,
// as the kernel's sysfs events files describe them) and AMD amd_umc_* (Zen 4 and later, Linux
// 6.9+: umc_cas_cmd.rd / .wr, event 0x0a with rdwrmask 1 / 2, one 64-byte burst per CAS).
// AMD's data-fabric PMU (amd_df) also sees DRAM traffic, but its event encodings differ per
// CPU family and sysfs does not name them, so it is reported, not guessed.
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bwscope/base/error.h"
#include "bwscope/meter/counters.h"
#include "bwscope/meter/ledger.h"

namespace bwscope::meter {
namespace {

namespace fs = std::filesystem;

bool read_text(const fs::path& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return true;
}

std::map<std::string, FormatField> read_formats(const fs::path& pmu) {
  std::map<std::string, FormatField> formats;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(pmu / "format", ec)) {
    std::string text;
    if (read_text(e.path(), text)) formats[e.path().filename().string()] = parse_format_field(text);
  }
  return formats;
}

// Bytes per count from an events file's .scale and .unit ("6.103515625e-5" and "MiB" for
// Intel's cas_count_*: 64 bytes per CAS).
double bytes_per_count(const fs::path& event_file) {
  std::string scale_text, unit;
  if (!read_text(event_file.string() + ".scale", scale_text)) return 64;
  double scale = 0;
  try {
    scale = std::stod(scale_text);
  } catch (const std::exception&) {
    fail("{}.scale: '{}' is not a number", event_file.string(), scale_text);
  }
  read_text(event_file.string() + ".unit", unit);
  double unit_bytes = 1;
  if (unit == "MiB") unit_bytes = 1 << 20;
  else if (unit == "KiB") unit_bytes = 1 << 10;
  else if (unit == "GiB") unit_bytes = double(1ull << 30);
  else if (!unit.empty() && unit != "Bytes" && unit != "B") fail("{}.unit: unknown unit '{}'", event_file.string(), unit);
  return scale * unit_bytes;
}

struct Wanted {
  std::string event;     // name, also the sysfs events file looked for
  std::string fallback;  // encoding used when sysfs has no such file ("" = none)
  bool is_write;
};

}  // namespace

std::vector<PerfEvent> find_dram_events(const std::string& sysfs_root, std::string* why) {
  const fs::path dir = fs::path(sysfs_root) / "bus/event_source/devices";
  std::vector<fs::path> pmus;
  bool has_df = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    // uncore_imc_free_running_* (client chips) counts differently: left out.
    if ((name.rfind("uncore_imc_", 0) == 0 && name.find("free_running") == std::string::npos) || name.rfind("amd_umc_", 0) == 0)
      pmus.push_back(e.path());
    if (name == "amd_df") has_df = true;
  }
  std::sort(pmus.begin(), pmus.end());
  std::vector<PerfEvent> events;
  std::string problems;
  for (const fs::path& pmu : pmus) {
    const std::string name = pmu.filename().string();
    const bool amd = name.rfind("amd_umc_", 0) == 0;
    std::string type_text, mask_text;
    if (!read_text(pmu / "type", type_text)) fail("{}/type: cannot be read", pmu.string());
    uint32_t type = 0;
    try {
      type = uint32_t(std::stoul(type_text));
    } catch (const std::exception&) {
      fail("{}/type: '{}' is not a number", pmu.string(), type_text);
    }
    const int cpu = read_text(pmu / "cpumask", mask_text) && !mask_text.empty() ? parse_cpu_list(mask_text).front() : 0;
    const auto formats = read_formats(pmu);
    const std::vector<Wanted> wanted = amd ? std::vector<Wanted>{{"umc_cas_cmd.rd", "event=0x0a,rdwrmask=0x1", false},
                                                                 {"umc_cas_cmd.wr", "event=0x0a,rdwrmask=0x2", true}}
                                           : std::vector<Wanted>{{"cas_count_read", "", false}, {"cas_count_write", "", true}};
    for (const Wanted& w : wanted) {
      const fs::path file = pmu / "events" / w.event;
      std::string terms;
      PerfEvent ev{name, w.event, w.is_write, type, 0, 64, cpu};
      if (read_text(file, terms)) {
        ev.config = encode_event(terms, formats);
        ev.bytes_per_count = bytes_per_count(file);
      } else if (!w.fallback.empty()) {
        ev.config = encode_event(w.fallback, formats);
      } else {
        problems += fmt::format("{}{} has no events/{}", problems.empty() ? "" : "; ", name, w.event);
        continue;
      }
      events.push_back(ev);
    }
  }
  if (why) {
    if (pmus.empty())
      *why = fmt::format("no memory-controller PMU (uncore_imc_*, amd_umc_*) in {}{}", dir.string(),
                         has_df ? " (amd_df is there, but its DRAM events are family-specific and not named in sysfs)"
                                : "; virtual machines usually expose none");
    else if (events.empty())
      *why = problems;
    else
      *why = "";
  }
  return events;
}

namespace {

int open_event(const PerfEvent& e) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = e.type;
  attr.config = e.config;
  // Uncore counters count the whole controller: no task (pid -1), one CPU of its cpumask.
  return int(syscall(SYS_perf_event_open, &attr, -1, e.cpu, -1, 0));
}

std::string paranoid_hint() {
  std::string level;
  if (!read_text("/proc/sys/kernel/perf_event_paranoid", level)) return "";
  return fmt::format(" (kernel.perf_event_paranoid = {}: system-wide uncore events need CAP_PERFMON or a value <= 0)", level);
}

class PerfSource final : public CounterSource {
 public:
  explicit PerfSource(const std::string& sysfs_root) {
    std::string why;
    try {
      events_ = find_dram_events(sysfs_root, &why);
    } catch (const Error& e) {
      why = e.what();
      events_.clear();
    }
    if (events_.empty()) {
      status_ = "unavailable: " + why;
      return;
    }
    name_ = "perf " + events_.front().pmu.substr(0, events_.front().pmu.rfind('_'));
    // Opening each event once now tells whether this process may count them at all.
    for (const PerfEvent& e : events_) {
      const int fd = open_event(e);
      if (fd < 0) {
        const int err = errno;
        status_ = fmt::format("unavailable: perf_event_open({}/{}/) failed: {}{}", e.pmu, e.event, std::strerror(err),
                              err == EACCES || err == EPERM ? paranoid_hint() : "");
        return;
      }
      close(fd);
    }
    available_ = true;
    status_ = fmt::format("available: {} events on {} memory-controller PMUs", events_.size(), events_.size() / 2);
  }
  ~PerfSource() override { stop(); }

  std::string name() const override { return name_; }
  bool available() const override { return available_; }
  std::string status() const override { return status_; }
  bool splits_read_write() const override { return true; }

  void start() override {
    if (!available_) fail("{}: {}", name_, status_);
    stop();
    for (const PerfEvent& e : events_) {
      const int fd = open_event(e);
      if (fd < 0) fail("{}: perf_event_open({}/{}/) failed: {}", name_, e.pmu, e.event, std::strerror(errno));
      fds_.push_back(fd);
    }
    base_ = raw();
  }

  CounterSample sample() override {
    CounterSample s = raw();
    s.read_bytes -= base_.read_bytes;
    s.write_bytes -= base_.write_bytes;
    s.total_bytes = s.read_bytes + s.write_bytes;
    return s;
  }

  void stop() override {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  CounterSample raw() {
    CounterSample s;
    s.t_ns = now_ns();
    for (size_t i = 0; i < fds_.size(); ++i) {
      uint64_t count = 0;
      if (read(fds_[i], &count, sizeof count) != ssize_t(sizeof count)) fail("{}: reading {}/{}/ failed", name_, events_[i].pmu, events_[i].event);
      (events_[i].is_write ? s.write_bytes : s.read_bytes) += double(count) * events_[i].bytes_per_count;
    }
    s.total_bytes = s.read_bytes + s.write_bytes;
    return s;
  }

  std::vector<PerfEvent> events_;
  std::vector<int> fds_;
  std::string name_ = "perf uncore", status_;
  bool available_ = false;
  CounterSample base_;
};

}  // namespace

std::unique_ptr<CounterSource> make_perf_source(const std::string& sysfs_root) { return std::make_unique<PerfSource>(sysfs_root); }

std::vector<std::unique_ptr<CounterSource>> counter_sources(const std::string& sysfs_root, const std::string& resctrl_root) {
  std::vector<std::unique_ptr<CounterSource>> sources;
  sources.push_back(make_perf_source(sysfs_root));
  sources.push_back(make_resctrl_source(resctrl_root));
  return sources;
}

}  // namespace bwscope::meter
