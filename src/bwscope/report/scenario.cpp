#include "bwscope/report/scenario.h"

#include <algorithm>
#include <set>

namespace bwscope::report {
namespace {

bool in_phase(const meter::Record& r, meter::Phase p) { return r.phase == p; }

// Bytes of `phase` over the wall time from its first record's start to its last one's end.
struct PhaseSum {
  double bytes = 0, flops = 0;
  meter::Span span;
  double gbs() const { return span.empty() ? 0 : bytes / double(span.t1_ns - span.t0_ns); }
  double gflops() const { return span.empty() ? 0 : flops / double(span.t1_ns - span.t0_ns); }
};
PhaseSum phase_sum(std::span<const meter::Record> records, meter::Phase phase) {
  PhaseSum s;
  for (const meter::Record& r : records)
    if (in_phase(r, phase)) {
      s.bytes += double(meter::bytes_of(r, meter::kModelTraffic));
      s.flops += double(r.flops);
    }
  s.span = meter::span_of(records, [phase](const meter::Record& r) { return in_phase(r, phase); });
  return s;
}

double ms(double s) { return s * 1e3; }

}  // namespace

std::vector<meter::Span> busy_intervals(std::span<const meter::Record> records, int64_t gap_ns, bool computing_only) {
  std::vector<meter::Span> spans;
  for (const meter::Record& r : records)
    if (!computing_only || r.op != meter::Op::Comm) spans.push_back({r.t_begin_ns, r.t_end_ns});
  std::sort(spans.begin(), spans.end(), [](const meter::Span& a, const meter::Span& b) { return a.t0_ns < b.t0_ns; });
  std::vector<meter::Span> merged;
  for (const meter::Span& s : spans) {
    if (!merged.empty() && s.t0_ns <= merged.back().t1_ns + gap_ns) merged.back().t1_ns = std::max(merged.back().t1_ns, s.t1_ns);
    else merged.push_back(s);
  }
  return merged;
}

double overlap_seconds(const std::vector<std::vector<meter::Span>>& lists) {
  if (lists.empty()) return 0;
  std::vector<meter::Span> common = lists[0];
  for (size_t k = 1; k < lists.size(); ++k) {
    std::vector<meter::Span> next;
    size_t i = 0, j = 0;
    const auto& other = lists[k];
    while (i < common.size() && j < other.size()) {
      const int64_t a = std::max(common[i].t0_ns, other[j].t0_ns), b = std::min(common[i].t1_ns, other[j].t1_ns);
      if (b > a) next.push_back({a, b});
      if (common[i].t1_ns < other[j].t1_ns) ++i;
      else ++j;
    }
    common = std::move(next);
  }
  double total = 0;
  for (const meter::Span& s : common) total += double(s.t1_ns - s.t0_ns) * 1e-9;
  return total;
}

ScenarioFigures scenario_figures(const ColocateResult& result, const std::string& name, const std::string& kind,
                                 int64_t width_ns) {
  ScenarioFigures f;
  f.name = name;
  f.kind = kind;
  f.n_instances = int(result.instances.size());
  f.completed = result.all_completed();
  f.failures = result.failures();
  if (result.interrupted) f.failures.push_back("interrupted: stopped before the end");
  f.seconds = double(result.end_ns - result.go_ns) * 1e-9;
  f.t0_ns = result.go_ns;
  f.width_ns = width_ns;

  std::vector<meter::Record> all;
  std::vector<meter::Series> parts;
  std::vector<std::vector<meter::Span>> busy;
  std::vector<double> tpots;
  std::set<std::string> shared_files;
  const bool have_span = result.end_ns > result.go_ns && result.go_ns > 0;
  for (const InstanceResult& r : result.instances) {
    InstanceFigures g;
    g.name = r.name;
    g.model_path = r.model_path;
    g.weight_type = r.weight_type;
    g.threads = r.threads;
    g.cpus = r.cpus;
    g.batch = r.batch;
    g.n_prompt = r.n_prompt;
    g.n_gen = r.n_gen;
    g.steps_done = r.steps_done();
    g.pid = r.pid;
    g.completed = r.completed;
    g.error = r.error;
    g.ttft_ms = r.token_ns.empty() ? 0 : ms(r.ttft_s());
    const std::vector<double> t = r.tpot_s();
    g.tpot_p50_ms = ms(meter::percentile(t, 0.5));
    g.tpot_p99_ms = ms(meter::percentile(t, 0.99));
    tpots.insert(tpots.end(), t.begin(), t.end());
    g.decode_tokens_per_s = r.decode_tokens_per_s();
    g.seconds = r.end_ns > r.start_ns && r.start_ns > 0 ? double(r.end_ns - r.start_ns) * 1e-9 : 0;
    if (r.prefill_t1_ns > r.prefill_t0_ns && result.go_ns > 0) {
      g.prefill_start_s = double(r.prefill_t0_ns - result.go_ns) * 1e-9;
      g.prefill_end_s = double(r.prefill_t1_ns - result.go_ns) * 1e-9;
    }
    double decode_weight = 0;
    for (const meter::Record& rec : r.records) {
      g.bytes += double(meter::bytes_of(rec, meter::kModelTraffic));
      g.weight_bytes_read += double(rec.weight_bytes);
      g.kv_read_bytes += double(rec.kv_read_bytes);
      g.kv_write_bytes += double(rec.kv_write_bytes);
      g.act_bytes += double(rec.act_bytes);
      if (rec.phase == meter::Phase::Decode) decode_weight += double(rec.weight_bytes);
    }
    g.avg_gbs = g.seconds > 0 ? g.bytes / g.seconds * 1e-9 : 0;
    const PhaseSum pre = phase_sum(r.records, meter::Phase::Prefill), dec = phase_sum(r.records, meter::Phase::Decode);
    g.prefill_gbs = pre.gbs();
    g.decode_gbs = dec.gbs();
    g.prefill_gflops = pre.gflops();
    g.decode_gflops = dec.gflops();
    g.decode_weight_bytes_per_step = g.steps_done > 1 ? decode_weight / double(g.steps_done - 1) : 0;
    g.weight_bytes = r.weight_bytes;
    g.weights = std::string(weight_mode_name(r.weights));
    g.kv_bytes = r.kv_bytes;
    g.scratch_bytes = r.scratch_bytes;
    g.peak_rss_bytes = r.peak_rss_bytes;
    g.rss_bytes = r.rss_bytes;
    g.pss_bytes = r.pss_bytes;
    g.weights_inode = r.weights_inode;
    g.weights_rss_bytes = r.weights_rss_bytes;
    g.tokens_digest = r.tokens_digest;
    f.cpus_used += int(r.cpus.size());
    // Resident weights: a private copy per instance, a shared copy or file once.
    if (r.weights == WeightMode::Private) f.memory_bytes += r.weight_bytes;
    else if (shared_files.insert(r.model_path).second) f.memory_bytes += r.weight_bytes;
    f.memory_bytes += r.kv_bytes + r.scratch_bytes;
    f.n_requests += int(r.batch);
    f.tokens_per_s += g.decode_tokens_per_s;
    f.ttft_max_ms = std::max(f.ttft_max_ms, g.ttft_ms);
    f.ttft_ms += g.ttft_ms / double(result.instances.size());
    if (!result.split.empty()) {
      double comm_ns = 0, compute_ns = 0, comm_bytes = 0;
      for (const meter::Record& rec : r.records) {
        if (rec.phase != meter::Phase::Decode) continue;
        (rec.op == meter::Op::Comm ? comm_ns : compute_ns) += double(rec.t_end_ns - rec.t_begin_ns);
        if (rec.op == meter::Op::Comm) comm_bytes += double(rec.act_bytes);
      }
      const double span = double(dec.span.t1_ns - dec.span.t0_ns);
      g.comm_share = dec.span.empty() ? 0 : comm_ns / span;
      g.compute_share = dec.span.empty() ? 0 : compute_ns / span;
      g.comm_bytes_per_step = g.steps_done > 1 ? comm_bytes / double(g.steps_done - 1) : 0;
      g.clock_offset_us = double(r.clock_offset_ns) * 1e-3;
      g.clock_round_trip_us = double(r.clock_round_trip_ns) * 1e-3;
    }
    all.insert(all.end(), r.records.begin(), r.records.end());
    busy.push_back(busy_intervals(r.records, 100'000, !result.split.empty()));
    if (have_span) parts.push_back(meter::bandwidth_series(r.records, result.go_ns, result.end_ns, width_ns));
    f.instances.push_back(std::move(g));
  }
  f.resident_bytes = result.resident_bytes;
  f.resident_how = result.resident_how;
  if (!result.split.empty() && !result.instances.empty()) {
    // One model on every rank: its requests, tokens and latency are rank 0's, once.
    const InstanceFigures& r0 = f.instances[0];
    f.split = result.split;
    f.micro_batches = result.micro_batches;
    f.n_requests = int(r0.batch);
    f.tokens_per_s = r0.decode_tokens_per_s;
    f.ttft_ms = f.ttft_max_ms = r0.ttft_ms;
    tpots = result.instances[0].tpot_s();
    double idle = 0, comm = 0;
    for (const InstanceFigures& g : f.instances) idle += 1 - g.compute_share, comm += g.comm_share;
    f.bubble = idle / double(f.instances.size());
    f.comm_share = comm / double(f.instances.size());
  }
  f.tpot_p50_ms = ms(meter::percentile(tpots, 0.5));
  f.tpot_p99_ms = ms(meter::percentile(tpots, 0.99));
  for (const InstanceFigures& g : f.instances) f.bytes += g.bytes;
  f.avg_gbs = f.seconds > 0 ? f.bytes / f.seconds * 1e-9 : 0;
  const PhaseSum pre = phase_sum(all, meter::Phase::Prefill), dec = phase_sum(all, meter::Phase::Decode);
  f.prefill_gbs = pre.gbs();
  f.decode_gbs = dec.gbs();
  f.prefill_gflops = pre.gflops();
  f.decode_gflops = dec.gflops();
  if (f.n_instances >= 2) {
    f.overlap_s = overlap_seconds(busy);
    f.overlap_fraction = f.seconds > 0 ? *f.overlap_s / f.seconds : 0;
  }
  if (!parts.empty()) {
    const meter::Series device = meter::sum(parts);
    f.device = meter::stats(device);
    for (size_t k = 0; k < parts.size(); ++k) {
      const meter::Series& s = parts[k];
      f.instances[k].peak_gbs = meter::stats(s).peak_gbs;
      std::vector<double> gbs(s.size());
      for (size_t i = 0; i < s.size(); ++i) gbs[i] = s.gbs(i);
      f.instance_gbs.push_back(std::move(gbs));
    }
    f.device_gbs.resize(device.size());
    for (size_t i = 0; i < device.size(); ++i) f.device_gbs[i] = device.gbs(i);
  }
  return f;
}

}  // namespace bwscope::report
