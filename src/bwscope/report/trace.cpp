#include "bwscope/report/trace.h"

#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"

namespace bwscope::report {
namespace {

// Nanoseconds as microseconds with three exact decimals: no rounding, so a slice that ends
// where its parent ends says so to the nanosecond.
std::string us(int64_t ns) {
  const char* sign = ns < 0 ? "-" : "";
  const uint64_t a = uint64_t(ns < 0 ? -ns : ns);
  return fmt::format("{}{}.{:03}", sign, a / 1000, a % 1000);
}

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

constexpr int kOpsTid = 1, kProbesTid = 2;

}  // namespace

Trace::Trace(uint64_t max_bytes) : max_bytes_(max_bytes) {}

void Trace::event(const std::string& text) {
  if (!events_.empty()) events_ += ",\n";
  events_ += text;
}

void Trace::meta(int pid, int tid, const char* what, const std::string& value, bool number) {
  event(fmt::format(R"({{"ph":"M","name":"{}","pid":{},"tid":{},"ts":0,"args":{{"{}":{}}}}})", what, pid, tid,
                    std::string_view(what).ends_with("sort_index") ? "sort_index" : "name", number ? value : quoted(value)));
}

int Trace::add_instance(const std::string& name, std::span<const meter::Record> records, const std::vector<TraceMarker>& markers,
                        const std::vector<int64_t>& phase_breaks) {
  const int pid = next_pid_++;
  meta(pid, 0, "process_name", name);
  meta(pid, 0, "process_sort_index", std::to_string(pid), true);
  meta(pid, kOpsTid, "thread_name", "ops");

  // Forward calls: each starts at an embedding op (or a phase change); phases: consecutive
  // forwards of one phase, cut at each break.
  struct Group {
    size_t first, last;  // records [first, last]
  };
  std::vector<Group> forwards;
  for (size_t i = 0; i < records.size(); ++i) {
    const bool starts = forwards.empty() || records[i].op == meter::Op::Embed || records[i].phase != records[i - 1].phase;
    if (starts) forwards.push_back({i, i});
    else forwards.back().last = i;
  }
  size_t next_break = 0;
  std::vector<std::pair<size_t, size_t>> phases;  // forwards [a, b]
  for (size_t f = 0; f < forwards.size(); ++f) {
    const meter::Record& r = records[forwards[f].first];
    bool starts = phases.empty() || r.phase != records[forwards[f - 1].first].phase;
    while (next_break < phase_breaks.size() && phase_breaks[next_break] <= r.t_begin_ns) {
      if (f > 0 && records[forwards[f - 1].last].t_end_ns <= phase_breaks[next_break]) starts = true;
      ++next_break;
    }
    if (starts) phases.push_back({f, f});
    else phases.back().second = f;
  }
  int64_t decode_step = 0;
  for (const auto& [a, b] : phases) {
    const meter::Record& first = records[forwards[a].first];
    const int64_t t0 = first.t_begin_ns, t1 = records[forwards[b].last].t_end_ns;
    const std::string phase(meter::phase_name(first.phase));
    event(fmt::format(R"({{"ph":"X","name":"{}","cat":"phase","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"forward_calls":{}}}}})",
                      phase, pid, kOpsTid, us(t0), us(t1 - t0), b - a + 1));
    for (size_t f = a; f <= b; ++f) {
      const Group& g = forwards[f];
      const int64_t f0 = records[g.first].t_begin_ns, f1 = records[g.last].t_end_ns;
      const std::string label = first.phase == meter::Phase::Decode ? fmt::format("decode step {}", decode_step++)
                                                                    : fmt::format("{} forward", phase);
      event(fmt::format(R"({{"ph":"X","name":"{}","cat":"forward","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"ops":{}}}}})",
                        label, pid, kOpsTid, us(f0), us(f1 - f0), g.last - g.first + 1));
      for (size_t i = g.first; i <= g.last; ++i) {
        const meter::Record& r = records[i];
        event(fmt::format(R"({{"ph":"X","name":"{}","cat":"op","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"layer":{},"phase":"{}",)"
                          R"("weight_bytes":{},"kv_read_bytes":{},"kv_write_bytes":{},"activation_bytes":{},"flops":{}}}}})",
                          meter::op_name(r.op), pid, kOpsTid, us(r.t_begin_ns), us(r.t_end_ns - r.t_begin_ns), r.layer,
                          meter::phase_name(r.phase), r.weight_bytes, r.kv_read_bytes, r.kv_write_bytes, r.act_bytes, r.flops));
      }
    }
  }
  for (const TraceMarker& m : markers)
    event(fmt::format(R"({{"ph":"i","name":{},"cat":"marker","pid":{},"tid":{},"ts":{},"s":"p"}})", quoted(m.name), pid, kOpsTid,
                      us(m.t_ns)));
  return pid;
}

void Trace::add_counter(int pid, const std::string& name, int64_t t0_ns, int64_t width_ns, const std::vector<double>& values) {
  auto sample = [&](int64_t t, double v) {
    if (!std::isfinite(v)) v = 0;
    event(fmt::format(R"({{"ph":"C","name":{},"pid":{},"tid":0,"ts":{},"args":{{"GB/s":{}}}}})", quoted(name), pid, us(t), v));
  };
  for (size_t i = 0; i < values.size(); ++i) sample(t0_ns + int64_t(i) * width_ns, values[i]);
  if (!values.empty()) sample(t0_ns + int64_t(values.size()) * width_ns, 0.0);
}

int Trace::device_pid() {
  if (device_pid_ == 0) {
    device_pid_ = next_pid_++;
    meta(device_pid_, 0, "process_name", "device");
    meta(device_pid_, 0, "process_sort_index", "0", true);  // on top
    meta(device_pid_, kProbesTid, "thread_name", "probes");
  }
  return device_pid_;
}

void Trace::add_probe(const std::string& name, int64_t t0_ns, int64_t t1_ns, int threads, double gbs) {
  const int pid = device_pid();
  event(fmt::format(R"({{"ph":"X","name":{},"cat":"probe","pid":{},"tid":{},"ts":{},"dur":{},"args":{{"threads":{},"read_gbs":{}}}}})",
                    quoted(name), pid, kProbesTid, us(t0_ns), us(t1_ns - t0_ns), threads, gbs));
}

void Trace::add_global_marker(const std::string& name, int64_t t_ns) {
  event(fmt::format(R"({{"ph":"i","name":{},"cat":"marker","pid":{},"tid":{},"ts":{},"s":"g"}})", quoted(name), device_pid(),
                    kProbesTid, us(t_ns)));
}

void Trace::write(const std::string& path, const std::string& producer) const {
  const std::string text = fmt::format(R"({{"displayTimeUnit":"ms","otherData":{{"producer":{},"clock":"CLOCK_MONOTONIC, microseconds"}},)"
                                       "\n\"traceEvents\":[\n{}\n]}}\n",
                                       quoted(producer), events_);
  if (text.size() > max_bytes_)
    fail("{}: the trace would be {:.1f} MB, over the cap of {:.1f} MB (--trace-max-mb); trace fewer tokens or raise the cap",
         path, double(text.size()) / 1e6, double(max_bytes_) / 1e6);
  write_file_atomic(path, text);
}

void trace_scenario(Trace& trace, const ColocateResult& result, const ScenarioFigures& f) {
  if (result.go_ns > 0) trace.add_global_marker("start barrier: " + f.name, result.go_ns);
  for (size_t k = 0; k < result.instances.size(); ++k) {
    const InstanceResult& r = result.instances[k];
    std::vector<TraceMarker> markers;
    if (r.start_ns > 0) markers.push_back({"start", r.start_ns});
    if (r.prefill_t1_ns > r.prefill_t0_ns) {
      markers.push_back({"prefill start", r.prefill_t0_ns});
      markers.push_back({"prefill → decode", r.prefill_t1_ns});
    }
    if (r.end_ns > 0) markers.push_back({r.completed ? "end" : "end (" + r.error + ")", r.end_ns});
    const int pid = trace.add_instance(f.name + " · " + r.name, r.records, markers);
    if (k < f.instance_gbs.size()) trace.add_counter(pid, "GB/s", f.t0_ns, f.width_ns, f.instance_gbs[k]);
  }
  trace.add_counter(trace.device_pid(), "device GB/s", f.t0_ns, f.width_ns, f.device_gbs);
}

}  // namespace bwscope::report
