// Ratios, conclusion and the text forms of the compare report (terminal, Markdown, CSV).
#include "bwscope/report/compare_report.h"
#include "bwscope/report/text_table.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bwscope::report {
namespace {

double pct(double now, double base) { return base > 0 ? 100 * (now / base - 1) : 0; }
// A fraction as whole percent rounded down, as the verdict prints it beside its threshold.
int floor_pct(double fraction) { return int(std::floor(100 * fraction + 1e-9)); }
std::string ms_str(double v) { return format_ms(v); }
double gib(uint64_t bytes) { return double(bytes) / (1024.0 * 1024.0 * 1024.0); }
std::string signed_pct(double p) { return fmt::format("{:+.0f} %", p); }

// The verdict of an instance (or of a scenario's mean instance) with `threads` threads that
// reaches `gbs` and `gflops` in a phase where all instances together reach `device_gbs`.
meter::Verdict judge_phase(const CompareReport& r, const ScenarioFigures& s, int threads, double gbs, double gflops, double device_gbs) {
  meter::VerdictInput in;
  in.achieved_gbs = gbs;
  in.achieved_gflops = gflops;
  in.threads = threads;
  in.core_roof_gbs = r.probe.read_for(threads);
  in.core_roof_gflops = r.probe.compute_for(threads);
  in.n_instances = s.n_instances;
  in.device_gbs = device_gbs;
  in.device_roof_gbs = r.probe.attainable_read_gbs;
  in.free_cpus = s.cpus_used > 0 ? std::max(0, r.cpus - s.cpus_used) : 0;
  in.threshold = r.threshold;
  in.datasheet_gbs = r.probe.datasheet_gbs;
  return meter::judge(in);
}

void judge_scenario(const CompareReport& r, ScenarioFigures& s) {
  if (s.instances.empty()) return;
  double decode = 0, prefill = 0, decode_fl = 0, prefill_fl = 0;
  for (InstanceFigures& g : s.instances) {
    g.decode_verdict = judge_phase(r, s, g.threads, g.decode_gbs, g.decode_gflops, s.decode_gbs);
    g.prefill_verdict = judge_phase(r, s, g.threads, g.prefill_gbs, g.prefill_gflops, s.prefill_gbs);
    decode += g.decode_gbs, prefill += g.prefill_gbs, decode_fl += g.decode_gflops, prefill_fl += g.prefill_gflops;
  }
  const double n = double(s.instances.size());
  const int threads = s.instances[0].threads;
  s.decode_verdict = judge_phase(r, s, threads, decode / n, decode_fl / n, s.decode_gbs);
  s.prefill_verdict = judge_phase(r, s, threads, prefill / n, prefill_fl / n, s.prefill_gbs);
}

std::string per_instance_tps(const ScenarioFigures& s) {
  if (!s.split.empty() && !s.instances.empty()) return fmt::format("{:.1f}", s.instances[0].decode_tokens_per_s);  // one model
  std::string out;
  for (const InstanceFigures& g : s.instances) out += (out.empty() ? "" : " + ") + fmt::format("{:.1f}", g.decode_tokens_per_s);
  return out;
}

// The columns every text form shares, for one scenario.
std::vector<std::string> row(const ScenarioFigures& s) {
  return {s.name + (s.completed ? "" : " (incomplete)"),
          fmt::format("{:.1f}", s.avg_gbs),
          fmt::format("{:.1f}", s.device.peak_gbs),
          fmt::format("{:.1f}", s.prefill_gbs),
          fmt::format("{:.1f}", s.decode_gbs),
          ms_str(s.ttft_ms),
          ms_str(s.tpot_p50_ms) + " / " + ms_str(s.tpot_p99_ms),
          per_instance_tps(s),
          fmt::format("{:.1f}", s.tokens_per_s),
          fmt::format("{:.2f}", gib(s.memory_bytes)),
          s.resident_bytes ? fmt::format("{:.2f}", gib(s.resident_bytes)) : "-",
          s.overlap_fraction ? fmt::format("{:.0f} %", 100 * *s.overlap_fraction) : "-",
          verdict_short(s.decode_verdict)};
}

std::vector<std::string> header(const CompareReport& r) {
  return {"scenario", "avg GB/s", fmt::format("peak GB/s ({:g} ms)", r.window_ms), "prefill GB/s", "decode GB/s", "TTFT ms",
          "TPOT p50 / p99 ms", "tok/s each", "tok/s total", "planned GiB", "resident GiB", "overlap", "decode verdict"};
}

// What each split scenario saves and costs, in one sentence each.
std::string split_sentences(const CompareReport& r) {
  std::string out;
  const double whole = r.scenarios[0].instances.empty() ? 0 : r.scenarios[0].instances[0].decode_weight_bytes_per_step;
  for (const ScenarioFigures& s : r.scenarios) {
    if (s.split.empty() || s.instances.empty()) continue;
    double most = 0;
    for (const InstanceFigures& g : s.instances) most = std::max(most, g.decode_weight_bytes_per_step);
    out += fmt::format(" {} reads at most {:.0f} MB of weights per decode step on a rank (one instance: {:.0f} MB), spends {:.0f} % of a "
                       "step in MPI and leaves each rank idle {:.0f} % of it{}.",
                       s.name, most / 1e6, whole / 1e6, 100 * s.comm_share, 100 * s.bubble,
                       s.split == "pp" ? fmt::format(" ({} micro-batch{}; the pipeline bubble)", s.micro_batches, s.micro_batches == 1 ? "" : "es")
                                       : "");
  }
  return out;
}

// Which roof binds the co-located scenario's decode, in words.
std::string bound_words(const CompareReport& r, const ScenarioFigures& many) {
  if (!many.decode_verdict) return "without a probe bwscope cannot say which roof binds";
  const meter::Verdict& v = *many.decode_verdict;
  const int threads = many.instances.empty() ? 1 : many.instances[0].threads;
  const std::string cores = threads == 1 ? "its core" : fmt::format("its {} cores", threads);
  const std::string device = fmt::format("{} % of the device's {:.1f} GB/s", floor_pct(v.mbu_device), r.probe.attainable_read_gbs);
  switch (v.bound) {
    case meter::Bound::Device:
      return fmt::format("together they use {}, so the memory system is saturated (device-bound): more models mainly trade "
                         "latency for throughput",
                         device);
    case meter::Bound::Cores:
      return fmt::format("each instance pulls {} % of what {} can read (core-bound) and together they use {}: {}", floor_pct(v.mbu_cores),
                         cores, device,
                         many.cpus_used > 0 && many.cpus_used < r.cpus ? "another model on the free cores would add bandwidth"
                                                                       : "the device has headroom that only more cores per instance "
                                                                         "could use");
    case meter::Bound::Compute:
      return fmt::format("decode is nearer the compute roof (MFU {} % of {}) than either bandwidth roof ({} % of what {} can read, {})",
                         floor_pct(v.mfu), cores, floor_pct(v.mbu_cores), cores, device);
    default:
      return fmt::format("each instance pulls {} % of what {} can read and together they use {}: below the {:.0f} % line on both "
                         "roofs, the nearer being {}",
                         floor_pct(v.mbu_cores), cores, device, 100 * r.threshold,
                         v.mbu_device > v.mbu_cores ? "the device's" : "that of " + cores);
  }
}

std::string conclusion_for(const CompareReport& r) {
  const ScenarioFigures& one = r.scenarios[0];
  // The first co-located scenario is the one the question is about (N models at once).
  const ScenarioFigures& many = r.scenarios[1];
  const Ratio& q = r.ratios[0];
  const std::string latency = q.tpot_p50_pct >= 0 ? fmt::format("each token takes {:.0f} % longer", q.tpot_p50_pct)
                                                  : fmt::format("each token takes {:.0f} % less time", -q.tpot_p50_pct);
  return fmt::format("{} moves {:.1f} GB/s in decode against {:.1f} GB/s for one instance ({}), {} (TPOT p50 {} → {} ms) and "
                     "aggregate throughput is ×{:.2f}: {}.",
                     many.name, many.decode_gbs, one.decode_gbs, signed_pct(q.decode_gbs_pct), latency, ms_str(one.tpot_p50_ms),
                     ms_str(many.tpot_p50_ms), q.throughput_x, bound_words(r, many));
}

}  // namespace

uint64_t baseline_digest(const CompareReport& r) {
  if (r.scenarios.empty() || r.scenarios[0].instances.empty() || !r.scenarios[0].instances[0].completed) return 0;
  return r.scenarios[0].instances[0].tokens_digest;
}

std::string split_line(const ScenarioFigures& s, uint64_t baseline_digest) {
  std::string out = fmt::format("{} over {} ranks", s.split, s.n_instances);
  if (s.split == "pp") out += fmt::format(" in {} micro-batch{}", s.micro_batches, s.micro_batches == 1 ? "" : "es");
  out += "; of a decode step, ";
  for (size_t k = 0; k < s.instances.size(); ++k) {
    const InstanceFigures& g = s.instances[k];
    out += fmt::format("{}{} {:.0f} % in MPI ({:.2f} MB per step), {:.0f} % computing", k ? "; " : "", g.name, 100 * g.comm_share,
                       g.comm_bytes_per_step / 1e6, 100 * g.compute_share);
  }
  out += fmt::format("; bubble {:.0f} %", 100 * s.bubble);
  if (baseline_digest && s.completed && !s.instances.empty() && s.instances[0].tokens_digest)
    out += s.instances[0].tokens_digest == baseline_digest ? "; the same tokens as 1 instance"
                                                          : "; tokens differ from 1 instance's (the ranks sum in another order, and quantized kernels re-quantize what they sum, which can flip a near tie)";
  std::string clocks;
  for (size_t k = 1; k < s.instances.size(); ++k)
    clocks += fmt::format("{}rank {} {:+.1f} ± {:.1f} µs", clocks.empty() ? "" : ", ", k, s.instances[k].clock_offset_us,
                          s.instances[k].clock_round_trip_us / 2);
  if (!clocks.empty()) out += "; clocks against rank 0 (applied): " + clocks;
  return out;
}

std::string format_ms(double v) {
  return v < 1 ? fmt::format("{:.3f}", v) : v < 10 ? fmt::format("{:.2f}", v) : fmt::format("{:.1f}", v);
}

double ProbeSummary::read_for(int threads) const {
  if (threads < 1) return 0;
  if (size_t(threads) <= read_by_threads.size()) return read_by_threads[size_t(threads) - 1];
  return attainable_read_gbs;
}

double ProbeSummary::compute_for(int threads) const {
  if (threads < 1 || cpus < 1) return 0;
  return compute_roof_gflops * double(std::min(threads, cpus)) / double(cpus);
}

void finish_report(CompareReport& r) {
  if (r.probe.attainable_read_gbs > 0 || r.probe.compute_roof_gflops > 0)
    for (ScenarioFigures& s : r.scenarios) judge_scenario(r, s);
  r.ratios.clear();
  r.failures.clear();
  for (const ScenarioFigures& s : r.scenarios)
    for (const std::string& f : s.failures) r.failures.push_back(s.name + ": " + f);
  r.incomplete = !r.failures.empty();
  if (r.scenarios.size() < 2) {
    r.conclusion = r.scenarios.empty() ? "nothing was measured." : "only the single instance was measured.";
    return;
  }
  const ScenarioFigures& base = r.scenarios[0];
  const double base_per_request = base.n_requests > 0 ? base.tokens_per_s / base.n_requests : 0;
  for (size_t i = 1; i < r.scenarios.size(); ++i) {
    const ScenarioFigures& s = r.scenarios[i];
    Ratio q;
    q.scenario = s.name;
    q.baseline = base.name;
    q.avg_gbs_pct = pct(s.avg_gbs, base.avg_gbs);
    q.peak_gbs_pct = pct(s.device.peak_gbs, base.device.peak_gbs);
    q.prefill_gbs_pct = pct(s.prefill_gbs, base.prefill_gbs);
    q.decode_gbs_pct = pct(s.decode_gbs, base.decode_gbs);
    q.ttft_pct = pct(s.ttft_ms, base.ttft_ms);
    q.tpot_p50_pct = pct(s.tpot_p50_ms, base.tpot_p50_ms);
    q.tpot_p99_pct = pct(s.tpot_p99_ms, base.tpot_p99_ms);
    q.throughput_x = base.tokens_per_s > 0 ? s.tokens_per_s / base.tokens_per_s : 0;
    q.per_request_throughput_x = base_per_request > 0 && s.n_requests > 0 ? s.tokens_per_s / s.n_requests / base_per_request : 0;
    r.ratios.push_back(q);
  }
  r.conclusion = (r.predicted ? "Predicted: " : "") + conclusion_for(r);
  if (r.scenarios.size() > 2) {
    // Several co-located scenarios (--schedule all, --fused): which serves the N requests best.
    size_t best_tps = 1, best_lat = 1;
    for (size_t i = 2; i < r.scenarios.size(); ++i) {
      if (r.scenarios[i].tokens_per_s > r.scenarios[best_tps].tokens_per_s) best_tps = i;
      if (r.scenarios[i].tpot_p50_ms < r.scenarios[best_lat].tpot_p50_ms) best_lat = i;
    }
    const bool ways = std::any_of(r.scenarios.begin(), r.scenarios.end(), [](const ScenarioFigures& s) { return s.kind == "wide"; });
    r.conclusion += fmt::format(" Of the {}, {} gives the best aggregate throughput ({:.1f} tok/s) and {} the best "
                                "latency (TPOT p50 {} ms).",
                                ways ? "ways of using these CPUs" : "co-located scenarios", r.scenarios[best_tps].name,
                                r.scenarios[best_tps].tokens_per_s, r.scenarios[best_lat].name, ms_str(r.scenarios[best_lat].tpot_p50_ms));
  }
  r.conclusion += split_sentences(r);
}

std::string verdict_short(const std::optional<meter::Verdict>& v) {
  if (!v) return "no probe";
  switch (v->bound) {
    case meter::Bound::Device: return fmt::format("device-bound (device {} %)", floor_pct(v->mbu_device));
    case meter::Bound::Cores: return fmt::format("core-bound (cores {} %, device {} %)", floor_pct(v->mbu_cores), floor_pct(v->mbu_device));
    case meter::Bound::Compute: return fmt::format("compute (MFU {} %)", floor_pct(v->mfu));
    default: return fmt::format("neither (cores {} %, device {} %)", floor_pct(v->mbu_cores), floor_pct(v->mbu_device));
  }
}

std::string probe_line(const CompareReport& r) {
  const ProbeSummary& p = r.probe;
  if (p.attainable_read_gbs <= 0) return "none — no MBU and no verdict";
  std::string out = fmt::format("{}: the device reads {:.1f} GB/s", p.source, p.attainable_read_gbs);
  if (p.instance_threads > 0 && p.instance_threads < p.cpus)
    out += fmt::format(", {} pinned thread(s) (one instance's cores) {:.1f} GB/s", p.instance_threads, p.read_for(p.instance_threads));
  if (auto d = p.drift_pct()) out += fmt::format("; brackets on every CPU before {:.1f}, after {:.1f} GB/s (drift {:+.1f} %)", *p.before_gbs, *p.after_gbs, *d);
  if (p.instance_before_gbs && p.instance_after_gbs)
    out += fmt::format(", on {} thread(s) {:.1f} and {:.1f}", p.instance_threads, *p.instance_before_gbs, *p.instance_after_gbs);
  if (p.compute_roof_gflops > 0) out += fmt::format("; compute {:.0f} GFLOP/s on {} CPUs", p.compute_roof_gflops, p.cpus);
  return out;
}

std::string weights_line(const CompareReport& r) {
  const WeightsSummary& w = r.weights;
  std::string out;
  for (const WeightsSummary::File& f : w.files) {
    const std::string name = f.model_path.substr(f.model_path.find_last_of('/') + 1);
    if (!out.empty()) out += "; ";
    if (w.mode == "shared")
      out += fmt::format("one shared copy of {} ({:.2f} GiB, {:.0f} % interleaved for {}) written in {:.1f} s before the runs, mapped "
                         "read-only by every instance",
                         name, gib(f.bytes), f.bytes ? 100.0 * double(f.interleaved_bytes) / double(f.bytes) : 0.0, w.isa, f.seconds);
    else if (w.mode == "file")
      out += fmt::format("computed on the mapping of {} ({:.2f} GiB re-read into the page cache in {:.1f} s)", name, gib(f.bytes), f.seconds);
    else
      out += fmt::format("a private copy of {} per instance, in the layout the {} kernels prefer", name, w.isa);
  }
  return out.empty() ? w.mode : out;
}

std::string render_table(const CompareReport& r) {
  std::vector<std::vector<std::string>> rows{header(r)};
  for (const ScenarioFigures& s : r.scenarios) rows.push_back(row(s));
  std::string out = r.predicted ? "PREDICTED by bwscope plan's roofline model; nothing ran (docs/plan.md)\n\n" : "";
  out += text_table(rows);
  out += "\n";
  for (const ScenarioFigures& s : r.scenarios) {
    out += fmt::format("{} ({:.2f} s", s.name, s.seconds);
    if (s.overlap_s) out += fmt::format(", all instances busy at once for {:.2f} s", *s.overlap_s);
    out += "):\n";
    for (const InstanceFigures& g : s.instances) {
      out += fmt::format("  {:<6} {}, {} weights, batch {}, {} thread(s){}: prefill {:.1f} GB/s, decode {:.1f} GB/s, peak {:.1f} GB/s; "
                         "TTFT {} ms, TPOT {} / {} ms, {:.1f} tok/s",
                         g.name, g.weight_type, g.weights, g.batch, g.threads,
                         g.cpus.empty() ? "" : fmt::format(" on CPU {}", fmt::join(g.cpus, ",")), g.prefill_gbs, g.decode_gbs,
                         g.peak_gbs, ms_str(g.ttft_ms), ms_str(g.tpot_p50_ms), ms_str(g.tpot_p99_ms), g.decode_tokens_per_s);
      if (g.decode_verdict && g.decode_verdict->mbu_cores > 0)
        out += fmt::format(", decode at {} % of its cores' roof", floor_pct(g.decode_verdict->mbu_cores));
      if (g.pss_bytes) out += fmt::format(", PSS {:.2f} GiB", gib(g.pss_bytes));
      else if (g.peak_rss_bytes) out += fmt::format(", peak RSS {:.2f} GiB", gib(g.peak_rss_bytes));
      if (!g.completed) out += fmt::format("  FAILED: {}", g.error);
      out += "\n";
    }
    if (!s.split.empty()) out += "  " + split_line(s, baseline_digest(r)) + "\n";
    if (s.resident_bytes) out += fmt::format("  resident {:.2f} GiB ({}); planned {:.2f} GiB\n", gib(s.resident_bytes), s.resident_how, gib(s.memory_bytes));
    if (s.decode_verdict) out += fmt::format("  decode: {}\n", s.decode_verdict->reason);
    if (s.prefill_verdict) out += fmt::format("  prefill: {}\n", s.prefill_verdict->reason);
  }
  out += "\n";
  for (const Ratio& q : r.ratios)
    out += fmt::format("{} vs {}: decode bandwidth {}, avg {}, peak {}, prefill {}; TTFT {}, TPOT p50 {}, p99 {}; aggregate "
                       "throughput ×{:.2f}, per request ×{:.2f}\n",
                       q.scenario, q.baseline, signed_pct(q.decode_gbs_pct), signed_pct(q.avg_gbs_pct), signed_pct(q.peak_gbs_pct),
                       signed_pct(q.prefill_gbs_pct), signed_pct(q.ttft_pct), signed_pct(q.tpot_p50_pct), signed_pct(q.tpot_p99_pct),
                       q.throughput_x, q.per_request_throughput_x);
  out += (r.predicted ? "device: " : "probe: ") + probe_line(r) + "\n";
  if (!r.predicted) out += "weights: " + weights_line(r) + "\n";
  for (const std::string& n : r.notes) out += "note: " + n + "\n";
  out += "\n" + r.conclusion + "\n";
  if (r.incomplete) {
    out += "INCOMPLETE:\n";
    for (const std::string& f : r.failures) out += "  " + f + "\n";
  }
  return out;
}

std::string render_markdown(const CompareReport& r) {
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    out += "|";
    for (const std::string& c : cells) out += " " + c + " |";
    out += "\n";
  };
  const auto h = header(r);
  line(h);
  out += "|";
  for (size_t c = 0; c < h.size(); ++c) out += c == 0 || c + 1 == h.size() ? "---|" : "--:|";
  out += "\n";
  for (const ScenarioFigures& s : r.scenarios) line(row(s));
  out += "\n";
  for (const Ratio& q : r.ratios)
    out += fmt::format("- **{} vs {}**: decode bandwidth {}, peak {}; TPOT p50 {}; aggregate throughput ×{:.2f}\n", q.scenario,
                       q.baseline, signed_pct(q.decode_gbs_pct), signed_pct(q.peak_gbs_pct), signed_pct(q.tpot_p50_pct), q.throughput_x);
  for (const ScenarioFigures& s : r.scenarios)
    if (!s.split.empty()) out += fmt::format("- **{}**: {}\n", s.name, split_line(s, baseline_digest(r)));
  out += "\n" + r.conclusion + "\n";
  if (r.incomplete) {
    out += "\n**Incomplete:**\n";
    for (const std::string& f : r.failures) out += "- " + f + "\n";
  }
  return out;
}

std::string render_csv(const CompareReport& r) {
  // memory_bytes: planned (an instance's weights + KV + activations); resident_bytes: measured
  // (scenario: all instances' PSS; instance: its PSS).
  std::string out =
      "scenario,instance,completed,avg_gbs,peak_gbs,window_ms,prefill_gbs,decode_gbs,ttft_ms,tpot_p50_ms,tpot_p99_ms,tokens_per_s,"
      "memory_bytes,resident_bytes,decode_mbu_cores,decode_mbu_device,bound\n";
  const auto quote = csv_quote;
  auto verdict = [](const std::optional<meter::Verdict>& v) {
    return v ? fmt::format("{:.4f},{:.4f},{}", v->mbu_cores, v->mbu_device, meter::bound_name(v->bound)) : std::string(",,");
  };
  auto bytes = [](uint64_t b) { return b ? std::to_string(b) : std::string(); };
  for (const ScenarioFigures& s : r.scenarios) {
    out += fmt::format("{},{},{},{:.4f},{:.4f},{:g},{:.4f},{:.4f},{:.3f},{:.3f},{:.3f},{:.4f},{},{},{}\n", quote(s.name), "\"all\"",
                       s.completed ? 1 : 0, s.avg_gbs, s.device.peak_gbs, r.window_ms, s.prefill_gbs, s.decode_gbs, s.ttft_ms,
                       s.tpot_p50_ms, s.tpot_p99_ms, s.tokens_per_s, s.memory_bytes, bytes(s.resident_bytes), verdict(s.decode_verdict));
    for (const InstanceFigures& g : s.instances)
      out += fmt::format("{},{},{},{:.4f},{:.4f},{:g},{:.4f},{:.4f},{:.3f},{:.3f},{:.3f},{:.4f},{},{},{}\n", quote(s.name), quote(g.name),
                         g.completed ? 1 : 0, g.avg_gbs, g.peak_gbs, r.window_ms, g.prefill_gbs, g.decode_gbs, g.ttft_ms, g.tpot_p50_ms,
                         g.tpot_p99_ms, g.decode_tokens_per_s, g.weight_bytes + g.kv_bytes + g.scratch_bytes, bytes(g.pss_bytes),
                         verdict(g.decode_verdict));
  }
  return out;
}

}  // namespace bwscope::report
