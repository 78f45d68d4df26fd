// The compare report as a self-contained HTML page (inline CSS and SVG, no scripts or fetches)
// and its charts as one SVG: bandwidth over time stacked by instance, one chart per scenario on
// shared axes, and bars of average, prefill, decode and peak bandwidth against the probe's
// attainable peak and the bandwidth-bound line.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bwscope/report/compare_report.h"
#include "bwscope/report/svg_chart.h"

namespace bwscope::report {
namespace {

using svg::axes;
using svg::color;
using svg::esc;
using svg::Frame;
using svg::kSvgStyle;
using svg::legend_row;
using svg::nice_ceil;

// Horizontal reference lines: the device's read bandwidth, the bandwidth-bound threshold on it,
// and what one instance's cores read (the roof an instance alone is judged against).
std::string reference_lines(const Frame& f, const CompareReport& r) {
  if (r.probe.attainable_read_gbs <= 0) return "";
  std::string s;
  auto line = [&](double v, const char* colour, const char* dash, const std::string& label) {
    s += svg::hline(f, v, colour, dash) + svg::ref_label(f.w - f.r + 6, f.y(v) + 4, colour, label);
  };
  const double peak = r.probe.attainable_read_gbs, bound = peak * r.threshold;
  line(peak, "#c0392b", "6 4", fmt::format("device {:.1f} GB/s", peak));
  line(bound, "#e67e22", "2 3", fmt::format("{:.0f} %: {:.1f} GB/s", 100 * r.threshold, bound));
  const int t = r.probe.instance_threads;
  const double cores = r.probe.read_for(t);
  // Labels 14 px apart at least, or the core's line goes unlabelled rather than overprinted.
  if (t > 0 && t < r.probe.cpus && cores > 0) {
    const bool room = std::abs(f.y(cores) - f.y(peak)) > 13 && std::abs(f.y(cores) - f.y(bound)) > 13;
    line(cores, "#7f8c8d", "8 3 2 3", room ? fmt::format("{} core{}: {:.1f} GB/s", t, t == 1 ? "" : "s", cores) : "");
  }
  return s;
}

// Shades the prefill (first prompt token in to last first token out) so the compute-bound
// start stands apart from the bandwidth-bound decode.
std::string phase_marks(const Frame& f, const ScenarioFigures& s, double x_max) {
  double p0 = 1e300, p1 = 0;
  for (const InstanceFigures& g : s.instances)
    if (g.prefill_end_s > 0) p0 = std::min(p0, g.prefill_start_s), p1 = std::max(p1, g.prefill_end_s);
  if (p1 <= 0 || p0 >= x_max) return "";
  const double x0 = f.x(p0), x1 = f.x(std::min(p1, x_max));
  std::string out = fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#000" fill-opacity="0.045"/>)", x0, f.t,
                                std::max(1.0, x1 - x0), f.h - f.b - f.t);
  if (x1 - x0 > 46) out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="tick">prefill</text>)", (x0 + x1) / 2, f.t + 12);
  if (x1 - x0 > 46 && f.w - f.r - x1 > 60) out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="tick">decode →</text>)", x1 + 6, f.t + 12);
  return out;
}

// Averages windows into at most `max_bins` bins (bytes are kept: a bin is the mean of its windows).
std::vector<double> rebin(const std::vector<double>& v, size_t factor) {
  if (factor <= 1) return v;
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); i += factor) {
    double sum = 0;
    size_t n = 0;
    for (size_t k = i; k < std::min(v.size(), i + factor); ++k) sum += v[k], ++n;
    out.push_back(sum / double(n));
  }
  return out;
}

std::string timeseries_chart(const ScenarioFigures& s, const CompareReport& r, double x_max, double y_max, double y_offset) {
  Frame f;
  f.x_max = x_max;
  f.y_max = y_max;
  const size_t factor = std::max<size_t>(1, (s.device_gbs.size() + 399) / 400);
  const double bin_s = double(s.width_ns) * 1e-9 * double(factor);
  std::string body;
  std::vector<double> below;
  for (size_t k = 0; k < s.instance_gbs.size(); ++k) {
    const std::vector<double> v = rebin(s.instance_gbs[k], factor);
    if (below.empty()) below.assign(v.size(), 0.0);
    std::string top, bottom;
    for (size_t i = 0; i < v.size(); ++i) {
      const double x0 = f.x(std::min(x_max, double(i) * bin_s)), x1 = f.x(std::min(x_max, double(i + 1) * bin_s));
      top += fmt::format("{}{:.1f},{:.1f} {:.1f},{:.1f} ", i == 0 ? "M" : "L", x0, f.y(below[i] + v[i]), x1, f.y(below[i] + v[i]));
    }
    for (size_t i = v.size(); i-- > 0;) {
      const double x0 = f.x(std::min(x_max, double(i) * bin_s)), x1 = f.x(std::min(x_max, double(i + 1) * bin_s));
      bottom += fmt::format("L{:.1f},{:.1f} {:.1f},{:.1f} ", x1, f.y(below[i]), x0, f.y(below[i]));
    }
    body += fmt::format(R"(<path d="{}{}Z" fill="{}" fill-opacity="0.85" stroke="{}" stroke-width="0.6"/>)", top, bottom, color(k), color(k));
    for (size_t i = 0; i < v.size(); ++i) below[i] += v[i];
  }
  std::vector<std::string> names;
  for (const InstanceFigures& g : s.instances) names.push_back(s.split.empty() ? "instance " + g.name : g.name);
  const std::string legend = legend_row(f, names);
  body = phase_marks(f, s, x_max) + body;  // under the areas
  // Over 400 windows are drawn as wider bins (means of adjacent windows); the peak in the title is still per window.
  const std::string title = fmt::format("{} — avg {:.1f}, decode {:.1f}, peak {:.1f} GB/s ({:g} ms windows{})", s.name, s.avg_gbs,
                                        s.decode_gbs, s.device.peak_gbs, r.window_ms,
                                        factor > 1 ? fmt::format(", drawn as {:g} ms", bin_s * 1e3) : "");
  return fmt::format(R"x(<g transform="translate(0,{:.1f})"><text x="{:.1f}" y="18" class="title">{}</text>{}{}{}{}</g>)x", y_offset, f.l,
                     esc(title), axes(f, "seconds since the start barrier", "GB/s"), body, reference_lines(f, r), legend);
}

std::string bar_chart(const CompareReport& r, double y_max, double y_offset) {
  Frame f;
  f.h = 310;
  f.b = 56;
  f.x_max = 1;
  f.y_max = y_max;
  const size_t n = r.scenarios.size();
  const double group = (f.w - f.l - f.r) / double(std::max<size_t>(n, 1)), bar = std::min(34.0, group / 5.5);
  std::string body;
  for (size_t i = 0; i < n; ++i) {
    const ScenarioFigures& s = r.scenarios[i];
    const double values[] = {s.prefill_gbs, s.decode_gbs, s.avg_gbs, s.device.peak_gbs};
    const double x0 = f.l + group * double(i) + (group - 4 * bar) / 2;
    for (int k = 0; k < 4; ++k) {
      const double x = x0 + bar * k, y = f.y(values[k]);
      body += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"/>)", x + 2, y, bar - 4, f.h - f.b - y, color(size_t(k)));
      body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="value">{:.1f}</text>)", x + bar / 2, y - 4, values[k]);
    }
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="label">{}</text>)", f.l + group * (double(i) + 0.5), f.h - f.b + 18, esc(s.name));
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="tick">{:.1f} tok/s</text>)", f.l + group * (double(i) + 0.5), f.h - f.b + 32, s.tokens_per_s);
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="tick">TPOT {} ms</text>)", f.l + group * (double(i) + 0.5), f.h - f.b + 45, format_ms(s.tpot_p50_ms));
  }
  const std::string legend = legend_row(f, {"prefill", "decode", "average (whole run)", fmt::format("peak ({:g} ms window)", r.window_ms)});
  const std::string title = fmt::format("Bandwidth by scenario (peak over {:g} ms windows)", r.window_ms);
  return fmt::format(R"x(<g transform="translate(0,{:.1f})"><text x="{:.1f}" y="18" class="title">{}</text>{}{}{}{}</g>)x", y_offset, f.l,
                     esc(title), axes(f, "", "GB/s"), body, reference_lines(f, r), legend);
}

// Split scenarios: where each rank's decode step goes — computing, inside MPI (waiting
// included), and the rest (host work between forward calls) — one bar per rank.
std::string step_chart(const CompareReport& r, double y_offset, double* height) {
  struct Bar {
    std::string label;
    double compute, comm;
  };
  std::vector<Bar> bars;
  for (const ScenarioFigures& s : r.scenarios)
    for (const InstanceFigures& g : s.instances)
      if (!s.split.empty()) bars.push_back({s.name + " · " + g.name, g.compute_share, g.comm_share});
  *height = 0;
  if (bars.empty()) return "";
  const double l = 150, w = 880 - l - 185, top = 44, row = 26;
  std::string body;
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = top + row * double(i), c = w * std::clamp(b.compute, 0.0, 1.0), m = w * std::clamp(b.comm, 0.0, 1.0 - b.compute);
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" class="label">{}</text>)", l - 8, y + 13, esc(b.label));
    body += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="18" fill="{}"/>)", l, y, c, color(0));
    body += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="18" fill="{}"/>)", l + c, y, m, color(3));
    body += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="18" fill="#ddd"/>)", l + c + m, y, std::max(0.0, w - c - m));
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="tick">{:.0f} % computing, {:.0f} % in MPI</text>)", l + w + 8, y + 13,
                        100 * b.compute, 100 * b.comm);
  }
  for (int p = 0; p <= 100; p += 25) {
    const double x = l + w * p / 100.0, y = top + row * double(bars.size()) + 2;
    body += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="tick">{} %</text>)", x, y + 12, p);
  }
  const std::vector<std::string> fills = {color(0), color(3), "#ddd"};
  const svg::Legend legend = svg::legend_wrapped(
      {"computing", "in MPI (waiting included)", "the rest (host work between calls)"}, l, 26, w + 150, [&](size_t k, double x, double y_mid) {
        return fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="10" height="10" fill="{}"/>)", x, y_mid - 5, fills[k]);
      });
  *height = top + row * double(bars.size()) + 30;
  return fmt::format(R"x(<g transform="translate(0,{:.1f})"><text x="{:.1f}" y="18" class="title">{}</text>{}{}</g>)x", y_offset, 58.0,
                     "Where a decode step goes, per rank (what is not computing is the bubble)", legend.svg, body);
}

// Both chart kinds stacked in one <svg>.
std::string charts_svg(const CompareReport& r) {
  double x_max = 0, y_top = r.probe.attainable_read_gbs * 1.05;
  for (const ScenarioFigures& s : r.scenarios) {
    x_max = std::max(x_max, s.seconds);
    y_top = std::max(y_top, s.device.peak_gbs);
  }
  x_max = nice_ceil(x_max * 1.02);
  const double y_max = nice_ceil(y_top * 1.08);
  std::string g;
  double y = 0;
  for (const ScenarioFigures& s : r.scenarios) {
    g += timeseries_chart(s, r, x_max, y_max, y);
    y += 272;
  }
  g += bar_chart(r, y_max, y + 10);
  y += 320;
  double step_h = 0;
  g += step_chart(r, y + 10, &step_h);
  if (step_h > 0) y += step_h + 20;
  return fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="880" height="{:.0f}" viewBox="0 0 880 {:.0f}">{}<rect width="880" height="{:.0f}" fill="white"/>{}</svg>)",
                     y, y, kSvgStyle, y, g);
}

}  // namespace

std::string render_svg(const CompareReport& r) { return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + charts_svg(r) + "\n"; }

std::string render_html(const CompareReport& r) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bwscope compare</title><style>\n"
       "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;max-width:960px;margin:24px auto;padding:0 16px;line-height:1.45}\n"
       "h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}\n"
       ".sub{color:#666;font-size:13px}table{border-collapse:collapse;font-size:12.5px;margin:10px 0}\n"
       "th,td{border:1px solid #ddd;padding:4px 7px;text-align:right}th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}\n"
       "td.v{text-align:left}.concl{background:#f4f8fb;border-left:4px solid #4e79a7;padding:10px 14px;margin:16px 0}\n"
       ".bad{background:#fdecea;border-left:4px solid #c0392b;padding:8px 14px}ul{padding-left:20px}li{margin:3px 0}\n"
       "code{overflow-wrap:anywhere;font-size:11.5px}\n"
       "</style></head><body>\n";
  h += "<h1>Memory bandwidth: one model alone vs several side by side</h1>\n";
  h += fmt::format("<div class=\"sub\">bwscope compare · {} · {} CPUs · {:.1f} GiB · measured with bwscope's ledger (every op's bytes, "
                   "{:g} ms windows)</div>\n",
                   esc(r.cpu_model), r.cpus, double(r.memory_bytes) / (1024.0 * 1024 * 1024), r.window_ms);
  if (r.incomplete) {
    h += "<div class=\"bad\"><b>Incomplete.</b><ul>";
    for (const std::string& f : r.failures) h += "<li>" + esc(f) + "</li>";
    h += "</ul></div>\n";
  }
  h += "<div class=\"concl\">" + esc(r.conclusion) + "</div>\n";
  h += "<h2>Summary</h2>\n<table><tr>";
  for (const char* c : {"scenario", "avg GB/s", "peak GB/s", "prefill GB/s", "decode GB/s", "TTFT ms", "TPOT p50 / p99 ms", "tok/s total",
                        "planned GiB", "resident GiB", "overlap", "decode verdict"})
    h += std::string("<th>") + c + "</th>";
  h += "</tr>\n";
  for (const ScenarioFigures& s : r.scenarios) {
    h += fmt::format("<tr><td>{}{}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{}</td><td>{} / {}</td>"
                     "<td>{:.1f}</td><td>{:.2f}</td><td>{}</td><td>{}</td><td class=\"v\">{}</td></tr>\n",
                     esc(s.name), s.completed ? "" : " (incomplete)", s.avg_gbs, s.device.peak_gbs, s.prefill_gbs, s.decode_gbs, format_ms(s.ttft_ms),
                     format_ms(s.tpot_p50_ms), format_ms(s.tpot_p99_ms), s.tokens_per_s, double(s.memory_bytes) / (1024.0 * 1024 * 1024),
                     s.resident_bytes ? fmt::format("{:.2f}", double(s.resident_bytes) / (1024.0 * 1024 * 1024)) : "–",
                     s.overlap_fraction ? fmt::format("{:.0f} %", 100 * *s.overlap_fraction) : "–",
                     esc(verdict_short(s.decode_verdict)));
  }
  h += "</table>\n";
  if (!r.ratios.empty()) {
    h += "<ul>";
    for (const Ratio& q : r.ratios)
      h += fmt::format("<li><b>{}</b> vs {}: decode bandwidth {:+.0f} %, peak {:+.0f} %, prefill {:+.0f} %; TTFT {:+.0f} %, TPOT p50 "
                       "{:+.0f} %, p99 {:+.0f} %; aggregate throughput ×{:.2f}, per request ×{:.2f}</li>",
                       esc(q.scenario), esc(q.baseline), q.decode_gbs_pct, q.peak_gbs_pct, q.prefill_gbs_pct, q.ttft_pct, q.tpot_p50_pct,
                       q.tpot_p99_pct, q.throughput_x, q.per_request_throughput_x);
    h += "</ul>\n";
  }
  h += "<h2>Bandwidth over time</h2>\n" + charts_svg(r) + "\n";
  h += "<h2>Instances</h2>\n<table><tr><th>scenario</th><th>instance</th><th>model</th><th>threads</th><th>prefill GB/s</th>"
       "<th>decode GB/s</th><th>of its cores</th><th>peak GB/s</th><th>TTFT ms</th><th>TPOT p50 / p99 ms</th><th>tok/s</th>"
       "<th>PSS GiB</th><th>status</th></tr>\n";
  for (const ScenarioFigures& s : r.scenarios)
    for (const InstanceFigures& g : s.instances)
      h += fmt::format("<tr><td>{}</td><td class=\"v\">{}</td><td class=\"v\">{} ({}, {} weights, batch {})</td><td class=\"v\">{}{}</td><td>{:.1f}</td><td>{:.1f}</td>"
                       "<td>{}</td><td>{:.1f}</td><td>{}</td><td>{} / {}</td><td>{:.1f}</td><td>{}</td><td class=\"v\">{}</td></tr>\n",
                       esc(s.name), esc(g.name), esc(g.model_path.substr(g.model_path.find_last_of('/') + 1)), esc(g.weight_type),
                       g.weights, g.batch, g.threads == 1 ? "1 thread" : fmt::format("{} threads", g.threads),
                       g.cpus.empty() ? ", all CPUs" : fmt::format(", CPU {}", fmt::join(g.cpus, ",")), g.prefill_gbs, g.decode_gbs,
                       g.decode_verdict && g.decode_verdict->mbu_cores > 0
                           ? fmt::format("{:.0f} %", std::floor(100 * g.decode_verdict->mbu_cores + 1e-9))
                           : "–",
                       g.peak_gbs, format_ms(g.ttft_ms), format_ms(g.tpot_p50_ms), format_ms(g.tpot_p99_ms), g.decode_tokens_per_s,
                       g.pss_bytes ? fmt::format("{:.2f}", double(g.pss_bytes) / (1024.0 * 1024 * 1024)) : "–",
                       g.completed ? "ok" : esc(g.error));
  h += "</table>\n";
  for (const ScenarioFigures& s : r.scenarios)
    if (s.decode_verdict) h += fmt::format("<p class=\"sub\"><b>{}</b>, decode: {}</p>\n", esc(s.name), esc(s.decode_verdict->reason));
  for (const ScenarioFigures& s : r.scenarios)
    if (!s.split.empty()) h += fmt::format("<p class=\"sub\"><b>{}</b>: {}</p>\n", esc(s.name), esc(split_line(s, baseline_digest(r))));
  h += "<h2>How it was measured</h2>\n<ul>";
  h += "<li>Roofs: " + esc(probe_line(r)) +
       fmt::format(". An instance is judged against what its own cores read, the instances together against the device; "
                   "bandwidth-bound at or above {:.0f} % of a roof.</li>",
                   100 * r.threshold);
  h += "<li>Weights: " + esc(weights_line(r)) + ".</li>";
  for (const std::string& n : r.notes) h += "<li>" + esc(n) + "</li>";
  for (const ScenarioFigures& s : r.scenarios)
    if (s.resident_bytes) h += fmt::format("<li>{}: resident {:.2f} GiB, {}.</li>", esc(s.name), double(s.resident_bytes) / (1024.0 * 1024 * 1024), esc(s.resident_how));
  h += "<li>Configuration: <code>" + esc(r.config.dump()) + "</code></li></ul>\n</body></html>\n";
  return h;
}

}  // namespace bwscope::report
