// Hardware DRAM-traffic counters beside the ledger: a source reports cumulative bytes read and
// written since start(), a recorder samples it periodically, and the samples become a series on
// the same windows as the ledger's. Sources detect whether the platform exposes them and say
// "unavailable: <reason>" otherwise; nothing here ever invents a figure.
//
// Linux sources: perf uncore memory-controller events (Intel uncore_imc_* cas_count_read/write,
// AMD amd_umc_* umc_cas_cmd.rd/wr; 64 bytes per CAS), and resctrl MBM (mbm_total_bytes).
// Every filesystem path is rooted at a parameter so tests can hand in a fake sysfs.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bwscope/meter/series.h"

namespace bwscope::meter {

struct CounterSample {
  int64_t t_ns = 0;         // now_ns() when read
  double read_bytes = 0;    // cumulative since start(); 0 when the source cannot split
  double write_bytes = 0;
  double total_bytes = 0;   // read + write, or the source's own total
};

class CounterSource {
 public:
  virtual ~CounterSource() = default;
  virtual std::string name() const = 0;          // e.g. "perf amd_umc", "resctrl mbm"
  virtual bool available() const = 0;
  // "available: <what is counted>" or "unavailable: <reason>".
  virtual std::string status() const = 0;
  virtual bool splits_read_write() const = 0;
  virtual void start() = 0;                      // throws Error when unavailable
  virtual CounterSample sample() = 0;            // cumulative bytes since start()
  virtual void stop() = 0;
};

// ---- sysfs event descriptions (perf_event_source) ----------------------------------------------

// One field of a PMU's format directory: "config:0-7" or "config:0-7,32-35".
struct FormatField {
  std::string config = "config";  // config, config1 or config2
  std::vector<std::pair<int, int>> bit_ranges;  // inclusive [lo, hi]
};
FormatField parse_format_field(const std::string& text);  // throws Error on malformed text
// Encodes "event=0x04,umask=0x03" (a sysfs events file, or a spec of ours) into the `config`
// word through the PMU's format fields. A term without "=value" means 1, as perf reads it.
// Throws Error naming the term when a field is unknown, is not in `config`, or overflows it.
uint64_t encode_event(const std::string& terms, const std::map<std::string, FormatField>& formats);
// "0-3,8,10-11" → {0,1,2,3,8,10,11}; throws Error on malformed text.
std::vector<int> parse_cpu_list(const std::string& text);

// A DRAM counter event resolved from sysfs.
struct PerfEvent {
  std::string pmu;            // "uncore_imc_0", "amd_umc_1"
  std::string event;          // "cas_count_read"
  bool is_write = false;
  uint32_t type = 0;          // the PMU's perf type number
  uint64_t config = 0;
  double bytes_per_count = 0; // from the .scale/.unit files, or 64 for a CAS command
  int cpu = 0;                // uncore events are opened on one CPU of the PMU's cpumask
};

// Reads every DRAM read/write event that <sysfs_root>/bus/event_source/devices exposes.
// Returns none (with `why` set) when there is no memory-controller PMU.
std::vector<PerfEvent> find_dram_events(const std::string& sysfs_root, std::string* why);

// ---- sources --------------------------------------------------------------------------------------

// perf_event_open on the events above, summed over all memory-controller PMUs.
std::unique_ptr<CounterSource> make_perf_source(const std::string& sysfs_root = "/sys");
// resctrl memory-bandwidth monitoring: the root group's mbm_total_bytes over all L3 domains.
std::unique_ptr<CounterSource> make_resctrl_source(const std::string& resctrl_root = "/sys/fs/resctrl");
// Every source this platform might have, in order of preference.
std::vector<std::unique_ptr<CounterSource>> counter_sources(const std::string& sysfs_root = "/sys",
                                                            const std::string& resctrl_root = "/sys/fs/resctrl");

// Samples a source every `period_ns` on a background thread between start() and stop().
class CounterRecorder {
 public:
  CounterRecorder(CounterSource& source, int64_t period_ns);
  ~CounterRecorder();
  void start();
  void stop();  // takes a last sample
  std::vector<CounterSample> samples() const;

 private:
  CounterSource& source_;
  int64_t period_ns_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  mutable std::mutex mutex_;
  std::vector<CounterSample> samples_;
};

enum class CounterBytes { Read, Write, Total };
// The windows of [t0, t1) from cumulative samples: the bytes between two consecutive samples
// are spread evenly over the time between them (as a ledger record's are). Samples must be in
// time order and never decrease; throws Error otherwise.
Series counter_series(std::span<const CounterSample> samples, int64_t t0_ns, int64_t t1_ns, int64_t width_ns,
                      CounterBytes which = CounterBytes::Total);

}  // namespace bwscope::meter
