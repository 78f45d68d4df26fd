// A timeline of a run in the Trace Event Format (the JSON chrome://tracing and Perfetto load):
// one process track per instance, every ledger record an op slice (layer, phase, bytes by class
// in its args) inside its forward call inside its phase; counter tracks of each instance's
// bandwidth and the device's (the report's windows); markers for the start barrier, the
// prefill/decode boundary and the probes bracketing the runs. Timestamps are CLOCK_MONOTONIC in
// microseconds — the ledger's clock — so co-located instances, in threads or processes, line up.
// docs/trace.md describes the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bwscope/meter/ledger.h"
#include "bwscope/report/scenario.h"
#include "bwscope/runtime/colocate.h"

namespace bwscope::report {

// Bytes a trace takes per op slice, about (docs/trace.md): for sizing before a run.
inline constexpr uint64_t kTraceBytesPerOp = 260;  // 235 measured on a 1B compare trace, counters included

struct TraceMarker {
  std::string name;
  int64_t t_ns = 0;
};

class Trace {
 public:
  // The file may not exceed `max_bytes`; write() refuses past it.
  explicit Trace(uint64_t max_bytes);

  // A process track for one instance run; returns its pid. Its records (in time order, one
  // instance) become op slices nested in forward-call slices (a forward call starts at its
  // embedding op) nested in phase slices (consecutive forwards of one phase; a new one also
  // starts past each time in `phase_breaks`, e.g. a repetition's start).
  int add_instance(const std::string& name, std::span<const meter::Record> records,
                   const std::vector<TraceMarker>& markers = {}, const std::vector<int64_t>& phase_breaks = {});
  // A counter track "name" on process `pid`: value[i] from t0 + i × width, then 0 at the end.
  void add_counter(int pid, const std::string& name, int64_t t0_ns, int64_t width_ns, const std::vector<double>& values);
  // The device's process (made on first use): counters of all instances together, probes.
  int device_pid();
  // A slice on the device's "probes" thread (a quick read probe: its threads and GB/s).
  void add_probe(const std::string& name, int64_t t0_ns, int64_t t1_ns, int threads, double gbs);
  // A marker on the device's track, seen across every track (a start barrier).
  void add_global_marker(const std::string& name, int64_t t_ns);

  // {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}, written atomically;
  // throws Error naming the file and both sizes when it is over the cap.
  void write(const std::string& path, const std::string& producer) const;

 private:
  void meta(int pid, int tid, const char* what, const std::string& value, bool number = false);
  void event(const std::string& text);
  uint64_t max_bytes_;
  std::string events_;  // comma-separated event objects
  int next_pid_ = 1, device_pid_ = 0;
};

// One compare scenario: a process per instance ("<scenario> · <instance>") with its markers
// (start, prefill start, prefill → decode, end) and its bandwidth counter ("GB/s"), the device
// counter ("device GB/s", every instance together) and the start barrier as a global marker.
void trace_scenario(Trace& trace, const ColocateResult& result, const ScenarioFigures& figures);

}  // namespace bwscope::report
