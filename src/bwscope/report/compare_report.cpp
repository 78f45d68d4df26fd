// Ratios, conclusion and the text forms of the compare report (terminal, Markdown, CSV).
#include "bwscope/report/compare_report.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bwscope::report {
namespace {

double pct(double now, double base) { return base > 0 ? 100 * (now / base - 1) : 0; }
std::string ms_str(double v) { return format_ms(v); }
double gib(uint64_t bytes) { return double(bytes) / (1024.0 * 1024.0 * 1024.0); }
std::string signed_pct(double p) { return fmt::format("{:+.0f} %", p); }

std::string verdict_short(const std::optional<meter::Verdict>& v) {
  if (!v) return "no probe";
  if (v->bound == meter::Bound::Compute) return fmt::format("compute (MFU {:.0f} %)", 100 * v->mfu);
  return fmt::format("{} (MBU {:.0f} %)", meter::bound_name(v->bound), 100 * v->mbu);
}

std::string per_instance_tps(const ScenarioFigures& s) {
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
          s.overlap_fraction ? fmt::format("{:.0f} %", 100 * *s.overlap_fraction) : "-",
          verdict_short(s.decode_verdict)};
}

std::vector<std::string> header(const CompareReport& r) {
  return {"scenario", "avg GB/s", fmt::format("peak GB/s ({:g} ms)", r.window_ms), "prefill GB/s", "decode GB/s", "TTFT ms",
          "TPOT p50 / p99 ms", "tok/s each", "tok/s total", "memory GiB", "overlap", "decode verdict"};
}

std::string conclusion_for(const CompareReport& r) {
  const ScenarioFigures& one = r.scenarios[0];
  // The first co-located scenario is the one the question is about (N models at once).
  const ScenarioFigures& many = r.scenarios[1];
  const Ratio& q = r.ratios[0];
  std::string bound;
  if (many.decode_verdict && many.decode_verdict->bound == meter::Bound::Bandwidth)
    bound = fmt::format("decode reaches {:.0f} % of the attainable {:.1f} GB/s, so memory bandwidth is the bottleneck and more "
                        "models mainly trade latency for throughput",
                        100 * many.decode_verdict->mbu, r.probe.attainable_read_gbs);
  else if (many.decode_verdict)
    bound = fmt::format("decode uses {:.0f} % of the attainable {:.1f} GB/s (below the {:.0f} % line), so bandwidth is not "
                        "yet the bottleneck",
                        100 * many.decode_verdict->mbu, r.probe.attainable_read_gbs, 100 * r.threshold);
  else
    bound = "without a probe bwscope cannot say whether bandwidth is the bottleneck";
  const std::string latency = q.tpot_p50_pct >= 0 ? fmt::format("each token takes {:.0f} % longer", q.tpot_p50_pct)
                                                  : fmt::format("each token takes {:.0f} % less time", -q.tpot_p50_pct);
  return fmt::format("{} moves {:.1f} GB/s in decode against {:.1f} GB/s for one instance ({}), {} (TPOT p50 {} → {} ms) and "
                     "aggregate throughput is ×{:.2f}: {}.",
                     many.name, many.decode_gbs, one.decode_gbs, signed_pct(q.decode_gbs_pct), latency, ms_str(one.tpot_p50_ms),
                     ms_str(many.tpot_p50_ms), q.throughput_x, bound);
}

std::string pad(const std::string& s, size_t width, bool right) {
  // Count code points, not bytes ("×", "→" are multi-byte in UTF-8).
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  const std::string fill(width > n ? width - n : 0, ' ');
  return right ? fill + s : s + fill;
}

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string format_ms(double v) {
  return v < 1 ? fmt::format("{:.3f}", v) : v < 10 ? fmt::format("{:.2f}", v) : fmt::format("{:.1f}", v);
}

void finish_report(CompareReport& r) {
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
  r.conclusion = conclusion_for(r);
  if (r.scenarios.size() > 2) {
    // Several co-located scenarios (--schedule all, --fused): which serves the N requests best.
    size_t best_tps = 1, best_lat = 1;
    for (size_t i = 2; i < r.scenarios.size(); ++i) {
      if (r.scenarios[i].tokens_per_s > r.scenarios[best_tps].tokens_per_s) best_tps = i;
      if (r.scenarios[i].tpot_p50_ms < r.scenarios[best_lat].tpot_p50_ms) best_lat = i;
    }
    r.conclusion += fmt::format(" Of the co-located scenarios, {} gives the best aggregate throughput ({:.1f} tok/s) and {} the best "
                                "latency (TPOT p50 {} ms).",
                                r.scenarios[best_tps].name, r.scenarios[best_tps].tokens_per_s, r.scenarios[best_lat].name,
                                ms_str(r.scenarios[best_lat].tpot_p50_ms));
  }
}

std::string render_table(const CompareReport& r) {
  std::vector<std::vector<std::string>> rows{header(r)};
  for (const ScenarioFigures& s : r.scenarios) rows.push_back(row(s));
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t c = 0; c < rows[i].size(); ++c) out += (c ? "  " : "") + pad(rows[i][c], width[c], c > 0 && c + 1 < rows[i].size());
    out += "\n";
    if (i == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out += std::string(total - 2, '-') + "\n";
    }
  }
  out += "\n";
  for (const ScenarioFigures& s : r.scenarios) {
    out += fmt::format("{} ({:.2f} s", s.name, s.seconds);
    if (s.overlap_s) out += fmt::format(", all instances busy at once for {:.2f} s", *s.overlap_s);
    out += "):\n";
    for (const InstanceFigures& g : s.instances) {
      out += fmt::format("  {:<6} {} {}, batch {}, {} thread(s){}: prefill {:.1f} GB/s, decode {:.1f} GB/s, peak {:.1f} GB/s; "
                         "TTFT {} ms, TPOT {} / {} ms, {:.1f} tok/s",
                         g.name, g.weight_type, g.private_weights ? "private weights" : "shared weights", g.batch, g.threads,
                         g.cpus.empty() ? "" : fmt::format(" on CPU {}", fmt::join(g.cpus, ",")), g.prefill_gbs, g.decode_gbs,
                         g.peak_gbs, ms_str(g.ttft_ms), ms_str(g.tpot_p50_ms), ms_str(g.tpot_p99_ms), g.decode_tokens_per_s);
      if (g.peak_rss_bytes) out += fmt::format(", peak RSS {:.2f} GiB", gib(g.peak_rss_bytes));
      if (!g.completed) out += fmt::format("  FAILED: {}", g.error);
      out += "\n";
    }
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
  if (r.probe.attainable_read_gbs > 0) {
    out += fmt::format("probe ({}): attainable read {:.1f} GB/s", r.probe.source, r.probe.attainable_read_gbs);
    if (auto d = r.probe.drift_pct()) out += fmt::format("; bracket before {:.1f}, after {:.1f} GB/s (drift {:+.1f} %)", *r.probe.before_gbs, *r.probe.after_gbs, *d);
    out += "\n";
  } else {
    out += "probe: none — no MBU and no verdict\n";
  }
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
  out += "\n" + r.conclusion + "\n";
  if (r.incomplete) {
    out += "\n**Incomplete:**\n";
    for (const std::string& f : r.failures) out += "- " + f + "\n";
  }
  return out;
}

std::string render_csv(const CompareReport& r) {
  std::string out =
      "scenario,instance,completed,avg_gbs,peak_gbs,window_ms,prefill_gbs,decode_gbs,ttft_ms,tpot_p50_ms,tpot_p99_ms,tokens_per_s,"
      "memory_bytes,decode_mbu,bound\n";  // an instance's memory_bytes: its weights + KV + activations
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (const ScenarioFigures& s : r.scenarios) {
    out += fmt::format("{},{},{},{:.4f},{:.4f},{:g},{:.4f},{:.4f},{:.3f},{:.3f},{:.3f},{:.4f},{},{},{}\n", quote(s.name), "\"all\"",
                       s.completed ? 1 : 0, s.avg_gbs, s.device.peak_gbs, r.window_ms, s.prefill_gbs, s.decode_gbs, s.ttft_ms,
                       s.tpot_p50_ms, s.tpot_p99_ms, s.tokens_per_s, s.memory_bytes,
                       s.decode_verdict ? fmt::format("{:.4f}", s.decode_verdict->mbu) : "",
                       s.decode_verdict ? meter::bound_name(s.decode_verdict->bound) : "");
    for (const InstanceFigures& g : s.instances)
      out += fmt::format("{},{},{},{:.4f},{:.4f},{:g},{:.4f},{:.4f},{:.3f},{:.3f},{:.3f},{:.4f},{},,\n", quote(s.name), quote(g.name),
                         g.completed ? 1 : 0, g.avg_gbs, g.peak_gbs, r.window_ms, g.prefill_gbs, g.decode_gbs, g.ttft_ms, g.tpot_p50_ms,
                         g.tpot_p99_ms, g.decode_tokens_per_s, g.weight_bytes + g.kv_bytes + g.scratch_bytes);
  }
  return out;
}

}  // namespace bwscope::report
