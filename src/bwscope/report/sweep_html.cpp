// The sweep report as a self-contained HTML page (inline CSS and SVG, no scripts or fetches):
// the findings, then for each lever with 2+ values three charts against it (decode bandwidth
// with the roofs and, for instances, the knee; TPOT p50; aggregate tokens/s with the
// prediction), the prediction's error per point, and a table of every point.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "bwscope/report/compare_report.h"
#include "bwscope/report/svg_chart.h"
#include "bwscope/report/sweep_report.h"

namespace bwscope::report {
namespace {

using svg::category_ticks;
using svg::category_x;
using svg::esc;
using svg::Frame;

// One axis of the grid, in SweepPoint::key()'s order; a point's value on it as text.
struct Axis {
  const char* name;       // as the page names the lever
  const char* grid_key;   // its values in report.grid
  const char* x_label;
  const char* tag;        // legend prefix: "b" + 4 → "b4", as in the point key
  std::string (*of)(const SweepPoint&);
};
enum AxisId : size_t { kType, kBatch, kInstances, kThreads, kSchedule, kPrompt, kAxisCount };
const Axis kAxes[kAxisCount] = {
    {"type", "types", "weight type", "", [](const SweepPoint& p) { return p.type; }},
    {"batch", "batch", "batch (sequences per instance)", "b", [](const SweepPoint& p) { return std::to_string(p.batch); }},
    {"instances", "instances", "co-located instances", "N", [](const SweepPoint& p) { return std::to_string(p.instances); }},
    {"threads", "threads", "threads per instance (auto: CPUs / instances)", "t", [](const SweepPoint& p) { return std::to_string(p.threads); }},
    {"schedule", "schedules", "schedule of 2+ instances", "", [](const SweepPoint& p) { return p.schedule; }},
    {"n_prompt", "n_prompt", "prompt tokens", "p", [](const SweepPoint& p) { return std::to_string(p.n_prompt); }},
};
// The order the levers' charts come in.
const AxisId kLeverOrder[] = {kType, kBatch, kInstances, kPrompt, kThreads, kSchedule};

using Cell = std::array<std::string, kAxisCount>;
Cell cell_of(const SweepPoint& p) {
  Cell c;
  for (size_t a = 0; a < kAxisCount; ++a) c[a] = kAxes[a].of(p);
  return c;
}

// The axis' values in grid order (the instance counts ascending); from the points when the
// grid does not name them.
std::vector<std::string> axis_values(const SweepReport& r, AxisId a) {
  std::vector<std::string> v;
  auto add = [&](const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  const auto it = r.grid.find(kAxes[a].grid_key);
  if (it != r.grid.end() && it->is_array()) {
    for (const auto& x : *it) add(x.is_string() ? x.get<std::string>() : x.dump());
  } else {
    for (const SweepPoint& p : r.grid_points) add(kAxes[a].of(p));
    for (const PointResult& x : r.results) add(kAxes[a].of(x.point));
  }
  if (a == kInstances)
    std::stable_sort(v.begin(), v.end(), [](const std::string& x, const std::string& y) { return std::atof(x.c_str()) < std::atof(y.c_str()); });
  return v;
}

std::string tick_name(AxisId a, const std::string& v) { return a == kThreads && v == "0" ? "auto" : v; }

// One line on a lever's charts: the other axes held at one combination of values.
struct Series {
  std::string label;                       // the other axes with 2+ values: "f16 b1"
  std::vector<std::optional<size_t>> at;   // [x]: the ok result there
};

struct Lever {
  AxisId axis;
  std::vector<std::string> values;         // the x categories
  std::vector<Series> series;
};

Lever lever_for(const SweepReport& r, AxisId lever, const std::vector<std::vector<std::string>>& values) {
  Lever lv{lever, values[lever], {}};
  std::map<Cell, size_t> ok;
  for (size_t i = 0; i < r.results.size(); ++i)
    if (r.results[i].ok) ok.emplace(cell_of(r.results[i].point), i);
  bool any_co_located = false;
  for (const std::string& n : values[kInstances]) any_co_located = any_co_located || n != "1";
  // Every combination of the other axes' values, the first axis turning slowest.
  std::vector<size_t> idx(kAxisCount, 0);
  for (bool more = true; more;) {
    Cell c;
    for (size_t a = 0; a < kAxisCount; ++a)
      if (a != lever) c[a] = values[a].empty() ? "" : values[a][idx[a]];
    // Alone, every schedule is the same run (recorded as parallel): one line for it, named
    // without a schedule; the schedule lever leaves it out, the instances lever puts it at the
    // start of each schedule's line.
    const bool alone = lever != kInstances && c[kInstances] == "1";
    const bool skip = alone && (lever == kSchedule ? any_co_located : idx[kSchedule] != 0);
    std::string label;
    for (size_t a = 0; a < kAxisCount; ++a)
      if (a != lever && values[a].size() > 1 && !(alone && a == kSchedule))
        label += (label.empty() ? "" : " ") + std::string(kAxes[a].tag) + c[a];
    Series s{label, std::vector<std::optional<size_t>>(lv.values.size())};
    bool any = false;
    for (size_t x = 0; x < lv.values.size() && !skip; ++x) {
      Cell at = c;
      at[lever] = lv.values[x];
      if (at[kInstances] == "1") at[kSchedule] = "parallel";
      if (const auto f = ok.find(at); f != ok.end()) s.at[x] = f->second, any = true;
    }
    if (any) lv.series.push_back(s);
    more = false;
    for (size_t a = kAxisCount; a-- > 0;) {
      if (a == lever || values[a].empty()) continue;
      if (++idx[a] < values[a].size()) {
        more = true;
        break;
      }
      idx[a] = 0;
    }
  }
  return lv;
}

// The roofs every decode-bandwidth chart shows: medians over the points' quick probes.
struct Roofs {
  double device_gbs = 0, bound_gbs = 0;
  double cores_gbs = 0;                    // one instance's cores at the largest instance count
  int cores = 0;
};

Roofs roofs_of(const SweepReport& r) {
  Roofs f;
  std::vector<double> dev, cores, threads;
  int most = 0;
  for (const PointResult& x : r.results)
    if (x.ok) most = std::max(most, x.point.instances);
  for (const PointResult& x : r.results) {
    if (!x.ok) continue;
    if (x.device_read_gbs > 0) dev.push_back(x.device_read_gbs);
    if (x.point.instances == most && x.cores_read_gbs > 0) cores.push_back(x.cores_read_gbs), threads.push_back(x.threads);
  }
  f.device_gbs = median(dev);
  f.bound_gbs = f.device_gbs * r.threshold;
  f.cores_gbs = median(cores);
  f.cores = int(std::lround(median(threads)));
  return f;
}

enum class Metric { DecodeGbs, TpotMs, TokensPerS };

double metric_of(const PointResult& x, Metric m) {
  return m == Metric::DecodeGbs ? x.decode_gbs : m == Metric::TpotMs ? x.tpot_p50_ms : x.tokens_per_s;
}

const char* const kHalo = R"( style="paint-order:stroke;stroke:#fff;stroke-width:3px")";

// The reference lines and their labels in the right margin, kept 12 units apart.
std::string roof_lines(const Frame& f, const Roofs& roofs, double threshold) {
  if (roofs.device_gbs <= 0) return "";
  struct Ref {
    double v;
    const char* colour;
    const char* dash;
    std::string label;
  };
  std::vector<Ref> refs = {{roofs.device_gbs, "#c0392b", "6 4", fmt::format("device {:.1f} GB/s", roofs.device_gbs)},
                           {roofs.bound_gbs, "#e67e22", "2 3", fmt::format("{:.0f} %: {:.1f} GB/s", 100 * threshold, roofs.bound_gbs)}};
  // Only where it stands apart from both other lines: at one instance its cores are the device.
  if (roofs.cores_gbs > 0 && std::abs(f.y(roofs.cores_gbs) - f.y(roofs.device_gbs)) >= 5 &&
      std::abs(f.y(roofs.cores_gbs) - f.y(roofs.bound_gbs)) >= 5)
    refs.push_back({roofs.cores_gbs, "#7f8c8d", "8 3 2 3",
                    fmt::format("{} core{}: {:.1f} GB/s", roofs.cores, roofs.cores == 1 ? "" : "s", roofs.cores_gbs)});
  std::vector<double> wish;
  for (const Ref& x : refs) wish.push_back(f.y(x.v) + 4);
  const std::vector<double> at = svg::spread_labels(wish, 12, f.t + 4, f.h - f.b);
  std::string s;
  for (size_t i = 0; i < refs.size(); ++i)
    s += svg::hline(f, refs[i].v, refs[i].colour, refs[i].dash) + svg::ref_label(f.w - f.r + 5, at[i], refs[i].colour, refs[i].label);
  return s;
}

// Rings the knee of each series on the instances chart: the first count whose next adds less
// than 10 % decode bandwidth (as the findings say), labelled once per count above its highest
// ring; a note when no series has one.
std::string knee_marks(const Frame& f, const SweepReport& r, const Lever& lv) {
  std::string s;
  std::map<size_t, double> top;  // count → the highest ring's centre there
  for (size_t k = 0; k < lv.series.size(); ++k) {
    const Series& se = lv.series[k];
    size_t x = 0;
    while (x < se.at.size() && !se.at[x]) ++x;
    for (; x + 1 < se.at.size() && se.at[x] && se.at[x + 1]; ++x) {
      const PointResult &a = r.results[*se.at[x]], &b = r.results[*se.at[x + 1]];
      if (b.decode_gbs / std::max(a.decode_gbs, 1e-9) - 1 >= 0.10) continue;
      const double cy = f.y(a.decode_gbs);
      s += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="7.5" fill="none" stroke="{}" stroke-width="1.8"/>)", category_x(f, x, se.at.size()),
                       cy, svg::series_color(k));
      top[x] = top.count(x) ? std::min(top[x], cy) : cy;
      break;
    }
  }
  for (const auto& [x, cy] : top)
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="value"{}>knee</text>)", category_x(f, x, lv.values.size()),
                     cy - 11, kHalo);
  if (top.empty())
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" class="tick"{}>no knee within the grid</text>)", f.w - f.r - 6,
                     f.h - f.b - 8, kHalo);
  return s;
}

constexpr size_t kKeysInChart = 12;

// The lever's key as HTML, once above its charts, when it has too many series for each chart's.
std::string lever_keys(const Lever& lv) {
  if (lv.series.size() <= kKeysInChart) return "";
  std::string h = "<div class=\"keys\">";
  for (size_t k = 0; k < lv.series.size(); ++k)
    h += fmt::format("<span><span class=\"sw m{}\" style=\"background:{}\"><span style=\"background:{}\"></span></span>{}</span>", (k / 10) % 4,
                     svg::series_color(k), svg::series_color(k), esc(lv.series[k].label));
  return h + "</div>\n";
}

std::string lever_chart(const SweepReport& r, const Lever& lv, Metric m, const Roofs& roofs) {
  const bool gbs = m == Metric::DecodeGbs;
  const bool predicted = m == Metric::TokensPerS && !r.predictions.empty();
  const Axis& axis = kAxes[lv.axis];
  const std::string title = fmt::format("{} by {}", gbs ? "Decode bandwidth" : m == Metric::TpotMs ? "TPOT p50" : "Aggregate tokens/s", axis.name);
  Frame f;
  f.w = 460;
  f.l = 50;
  f.r = 16;
  f.b = 40;
  if (gbs && roofs.device_gbs > 0) {
    // Room for the widest roof label.
    const double widest = svg::text_width(fmt::format("{} cores: {:.1f} GB/s", roofs.cores, std::max(roofs.device_gbs, roofs.cores_gbs)), 11);
    f.r = std::clamp(widest + 10, 80.0, 150.0);
  }
  std::vector<std::string> names;
  for (const Series& s : lv.series) names.push_back(s.label);
  // A key per series: its line and marker, in the chart up to kKeysInChart series (smaller
  // type past 8); past that one key above the lever's three charts (lever_keys).
  if ((names.size() == 1 && names[0].empty()) || names.size() > kKeysInChart) names.clear();
  const svg::Legend legend = svg::legend_wrapped(
      names, 10, 28, f.w - 20,
      [](size_t k, double x, double y) {
        return fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"/>)", x, y, x + 16, y,
                           svg::series_color(k)) +
               svg::marker(k, x + 8, y, 3.2, false);
      },
      16, names.size() > 8 ? 10 : 11);
  f.t = 28 + legend.row_h * legend.rows + 12;
  f.h = f.t + 190 + f.b;
  double top = 0;
  for (size_t i = 0; i < r.results.size(); ++i) {
    if (r.results[i].ok) top = std::max(top, metric_of(r.results[i], m));
    if (predicted && i < r.predictions.size() && r.predictions[i]) top = std::max(top, r.predictions[i]->tokens_per_s);
  }
  if (gbs) top = std::max({top, roofs.device_gbs, roofs.cores_gbs});
  f.y_max = svg::nice_ceil(top > 0 ? top * 1.08 : 1);
  f.l = std::max(50.0, 27 + svg::text_width(fmt::format("{:g}", f.y_max), 11));  // the y label clear of the widest tick
  std::string body;
  const size_t n = lv.values.size();
  for (size_t k = 0; k < lv.series.size(); ++k) {
    const Series& se = lv.series[k];
    std::string line, dashed, dots;
    bool pen = false, pen_p = false;
    for (size_t x = 0; x < n; ++x) {
      const auto& i = se.at[x];
      const auto* p = i && *i < r.predictions.size() && r.predictions[*i] ? &*r.predictions[*i] : nullptr;
      if (!i) {
        pen = pen_p = false;
        continue;
      }
      const PointResult& pt = r.results[*i];
      const double cx = category_x(f, x, n), cy = f.y(metric_of(pt, m));
      line += fmt::format("{}{:.1f},{:.1f} ", pen ? "L" : "M", cx, cy);
      pen = true;
      dots += svg::marker(k, cx, cy, 3.5, false, fmt::format("{}: {:.4g}", pt.point.key(), metric_of(pt, m)));
      if (predicted && p) {
        const double py = f.y(p->tokens_per_s);
        dashed += fmt::format("{}{:.1f},{:.1f} ", pen_p ? "L" : "M", cx, py);
        dots += svg::marker(k, cx, py, 3, true, fmt::format("{}: predicted {:.4g}", pt.point.key(), p->tokens_per_s));
      }
      pen_p = predicted && p;
    }
    if (!dashed.empty())
      body += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="5 4"/>)", dashed, svg::series_color(k));
    body += fmt::format(R"(<path d="{}" fill="none" stroke="{}" stroke-width="2"/>)", line, svg::series_color(k)) + dots;
  }
  std::vector<std::string> ticks;
  for (const std::string& v : lv.values) ticks.push_back(tick_name(lv.axis, v));
  std::string s = svg::canvas(f.w, f.h, title);
  s += fmt::format(R"(<text x="10" y="18" class="title">{}</text>)", esc(title));
  if (predicted)
    s += fmt::format(R"(<text x="{:.1f}" y="18" text-anchor="end" class="tick">dashed, hollow: predicted</text>)", f.w - 8);
  s += svg::axes(f, "", gbs ? "decode GB/s" : m == Metric::TpotMs ? "TPOT p50 (ms)" : "tokens/s") + category_ticks(f, ticks, axis.x_label);
  if (gbs) s += roof_lines(f, roofs, r.threshold);
  s += body;
  if (gbs && lv.axis == kInstances) s += knee_marks(f, r, lv);
  return s + legend.svg + "</svg>";
}

// The short name of a point: its values on the axes with 2+ values ("f16 b4 N2").
std::string short_key(const SweepPoint& p, const std::vector<std::vector<std::string>>& values) {
  std::string k;
  for (size_t a = 0; a < kAxisCount; ++a)
    if (values[a].size() > 1) k += (k.empty() ? "" : " ") + std::string(kAxes[a].tag) + kAxes[a].of(p);
  return k.empty() ? p.key() : k;
}

// Measured vs predicted tokens/s per point, as bars around zero with ±10 % and ±25 % guides.
std::string error_chart(const SweepReport& r, const std::vector<std::vector<std::string>>& values) {
  std::vector<size_t> pts;
  double worst = 0;
  for (size_t i = 0; i < r.results.size() && i < r.predictions.size(); ++i)
    if (r.results[i].ok && r.predictions[i]) pts.push_back(i), worst = std::max(worst, std::abs(r.predictions[i]->error_pct));
  if (pts.empty()) return "";
  const std::string title = fmt::format("Prediction error per point: measured vs predicted tokens/s (+: measured above; efficiency {:.2f})", r.efficiency);
  double widest = 0;
  for (size_t i : pts) widest = std::max(widest, svg::text_width(short_key(r.results[i].point, values), 11));
  Frame f;
  f.w = 1360;
  // The first label, turned 35°, reaches left 0.82 of its width from under its bar.
  f.l = std::max(50.0, 0.82 * widest + 8 - (1360 - 110) / double(pts.size()) / 2);
  f.r = 60;
  f.t = 34;
  const double plot_h = 220;
  f.b = 16 + widest * 0.574 + 8;  // labels turned 35°
  f.h = f.t + plot_h + f.b;
  const double m = svg::nice_ceil(std::max(30.0, worst * 1.1));
  const double mid = f.t + plot_h / 2;
  auto y = [&](double v) { return mid - std::clamp(v, -m, m) / m * plot_h / 2; };
  std::string s = svg::canvas(f.w, f.h, title);
  s += fmt::format(R"(<text x="10" y="18" class="title">{}</text>)", esc(title));
  const double step = svg::nice_step(m, 3);
  for (double v = -std::floor(m / step) * step; v <= m * 1.0001; v += step) {
    s += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#eee"/>)", f.l, y(v), f.w - f.r, y(v));
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" class="tick">{}</text>)", f.l - 6, y(v) + 4,
                     std::abs(v) < 1e-9 ? std::string("0") : fmt::format("{:+g}", v));
  }
  for (double g : {10.0, 25.0})
    for (double sign : {1.0, -1.0}) {
      const char* colour = g < 20 ? "#e67e22" : "#c0392b";
      s += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="1.2" stroke-dasharray="{}"/>)", f.l,
                       y(sign * g), f.w - f.r, y(sign * g), colour, g < 20 ? "2 3" : "6 4");
      s += svg::ref_label(f.w - f.r + 5, y(sign * g) + 4, colour, fmt::format("{:+.0f} %", sign * g));
    }
  s += fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#888"/>)", f.l, f.t, f.t + plot_h);
  s += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#888"/>)", f.l, mid, f.w - f.r, mid);
  s += fmt::format(R"x(<text transform="translate({:.1f},{:.1f}) rotate(-90)" text-anchor="middle" class="label">error %</text>)x", f.l - 38, mid);
  const double slot = (f.w - f.l - f.r) / double(pts.size()), bar = std::min(28.0, slot * 0.7);
  // Labels turned 35° clear each other 21 units apart (11 px type / sin 35°).
  const size_t every = std::max<size_t>(1, size_t(std::ceil(21 / slot)));
  for (size_t k = 0; k < pts.size(); ++k) {
    const PointResult& x = r.results[pts[k]];
    const double e = r.predictions[pts[k]]->error_pct, cx = f.l + slot * (double(k) + 0.5);
    const char* colour = std::abs(e) <= 10 ? "#4e79a7" : std::abs(e) <= 25 ? "#e67e22" : "#c0392b";
    s += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}: {:+.1f} %</title></rect>)", cx - bar / 2,
                     std::min(y(e), mid), bar, std::max(0.5, std::abs(y(e) - mid)), colour, esc(x.point.key()), e);
    if (slot >= 30)
      s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="value">{}</text>)", cx, e >= 0 ? y(e) - 4 : y(e) + 12,
                       std::abs(e) < 9.95 ? fmt::format("{:+.1f}", e) : fmt::format("{:+.0f}", e));
    if (k % every == 0)
      s += fmt::format(R"x(<text transform="translate({:.1f},{:.1f}) rotate(-35)" text-anchor="end" class="tick">{}</text>)x", cx + 3,
                       f.t + plot_h + 14, esc(short_key(x.point, values)));
  }
  return s + "</svg>";
}

std::string json_text(const nlohmann::ordered_json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// "key value · key value" from a JSON object; arrays as comma lists.
std::string inline_json(const nlohmann::ordered_json& j) {
  std::string s;
  if (!j.is_object()) return s;
  for (const auto& [k, v] : j.items()) {
    if (v.is_array() && v.empty()) continue;  // e.g. no model file: the preset is named
    std::string text;
    if (v.is_array())
      for (const auto& x : v) text += (text.empty() ? "" : ", ") + json_text(x);
    else
      text = json_text(v);
    s += (s.empty() ? "" : " · ") + fmt::format("{} <b>{}</b>", esc(k), esc(text));
  }
  return s;
}

std::string number(double v) { return v >= 100 ? fmt::format("{:.0f}", v) : v >= 10 ? fmt::format("{:.1f}", v) : fmt::format("{:.2f}", v); }

std::string points_table(const SweepReport& r) {
  const bool pred = !r.predictions.empty();
  std::string h = "<div class=\"scroll\"><table><tr><th>point</th><th class=\"v\">scenario</th><th>decode GB/s</th><th>tok/s</th><th>TPOT p50 ms</th>"
                  "<th>TTFT ms</th><th>MB/token</th><th>roof device / cores GB/s</th><th class=\"v\">verdict</th>";
  if (pred) h += "<th>predicted tok/s</th><th>error</th>";
  h += "</tr>\n";
  for (size_t i = 0; i < r.results.size(); ++i) {
    const PointResult& x = r.results[i];
    h += fmt::format("<tr><td class=\"k\">{}</td><td class=\"v\">{}</td>", esc(x.point.key()), esc(x.scenario));
    if (!x.ok) {
      h += fmt::format("<td colspan=\"{}\" class=\"err\">failed: {}</td></tr>\n", pred ? 9 : 7, esc(x.error));
      continue;
    }
    h += fmt::format("<td>{:.1f}</td><td>{:.1f}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f} / {:.1f}</td><td class=\"v\">{}</td>", x.decode_gbs,
                     x.tokens_per_s, format_ms(x.tpot_p50_ms), format_ms(x.ttft_ms), number(x.decode_bytes_per_token / 1e6),
                     x.device_read_gbs, x.cores_read_gbs, esc(x.verdict));
    if (pred) {
      const auto& p = i < r.predictions.size() ? r.predictions[i] : std::nullopt;
      if (p)
        h += fmt::format("<td>{:.1f}</td><td class=\"{}\"{}>{:+.1f} %</td>", p->tokens_per_s,
                         std::abs(p->error_pct) > 25 ? "e25" : std::abs(p->error_pct) > 10 ? "e10" : "", p->why.empty() ? "" : " title=\"" + esc(p->why) + "\"",
                         p->error_pct);
      else
        h += "<td>–</td><td>–</td>";
    }
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

const char* const kPageStyle =
    "<style>\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;max-width:1360px;margin:24px auto;padding:0 16px;line-height:1.45}\n"
    "h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}\n"
    ".sub{color:#666;font-size:13px}.sub b{color:#333;font-weight:600}\n"
    ".concl{background:#f4f8fb;border-left:4px solid #4e79a7;padding:8px 14px;margin:16px 0}.concl ul{margin:4px 0}\n"
    ".bad{background:#fdecea;border-left:4px solid #c0392b;padding:8px 14px;margin:12px 0}ul{padding-left:20px}li{margin:3px 0}\n"
    ".charts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:14px 18px}\n"
    ".charts svg{width:100%;height:auto;display:block;border:1px solid #eee}.charts .wide{grid-column:1/-1}\n"
    ".keys{display:flex;flex-wrap:wrap;gap:2px 14px;font-size:12px;color:#555;margin:8px 0}.keys>span{white-space:nowrap}\n"
    ".sw{display:inline-block;position:relative;width:18px;height:2px;margin-right:5px;vertical-align:middle}\n"
    ".sw span{position:absolute;left:5px;top:-3px;width:8px;height:8px}.m0 span{border-radius:50%}\n"
    ".m2 span{clip-path:polygon(50% 0,100% 100%,0 100%)}.m3 span{clip-path:polygon(50% 0,100% 50%,50% 100%,0 50%)}\n"
    "@media (max-width:1100px){.charts{grid-template-columns:repeat(2,minmax(0,1fr))}}\n"
    "@media (max-width:720px){.charts{grid-template-columns:minmax(0,1fr)}}\n"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12.5px;margin:10px 0}\n"
    "th,td{border:1px solid #ddd;padding:4px 7px;text-align:right}th{background:#f4f6f8}th:first-child,th.v,td.k,td.v,td.err{text-align:left}\n"
    "td.k{white-space:nowrap}td.err{color:#c0392b}td.e10{color:#d35400}td.e25{color:#c0392b;font-weight:600}\n"
    "</style>\n";

}  // namespace

std::string render_sweep_html(const SweepReport& r) {
  size_t ok = 0;
  for (const PointResult& x : r.results) ok += x.ok;
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bwscope sweep</title>\n";
  h += kPageStyle + std::string(svg::kSvgStyle) + "\n</head><body>\n<h1>bwscope sweep</h1>\n";
  h += fmt::format("<div class=\"sub\">{} · {} CPUs · {:.1f} GiB memory · {} of {} points ran, {} ok{}</div>\n", esc(r.cpu_model), r.cpus,
                   double(r.memory_bytes) / (1024.0 * 1024 * 1024), r.results.size(), r.grid_points.size(), ok,
                   ok < r.results.size() ? fmt::format(", {} failed", r.results.size() - ok) : "");
  h += "<div class=\"sub\">settings: " + inline_json(r.settings) + "</div>\n";
  h += "<div class=\"sub\">grid: " + inline_json(r.grid) + "</div>\n";
  if (r.incomplete)
    h += fmt::format("<div class=\"bad\"><b>Incomplete:</b> {} of {} points ran; the charts and the findings cover those only.</div>\n",
                     r.results.size(), r.grid_points.size());
  if (!r.findings.empty()) {
    h += "<div class=\"concl\"><b>Findings</b><ul>";
    for (const std::string& s : r.findings) h += "<li>" + esc(s) + "</li>";
    h += "</ul></div>\n";
  }
  std::vector<std::vector<std::string>> values(kAxisCount);
  for (size_t a = 0; a < kAxisCount; ++a) values[a] = axis_values(r, AxisId(a));
  const Roofs roofs = roofs_of(r);
  bool any_lever = false;
  for (AxisId a : kLeverOrder) {
    if (values[a].size() < 2) continue;
    any_lever = true;
    const Lever lv = lever_for(r, a, values);
    h += fmt::format("<h2>Against {}</h2>\n{}<div class=\"charts\">\n", kAxes[a].name, lever_keys(lv));
    for (Metric m : {Metric::DecodeGbs, Metric::TpotMs, Metric::TokensPerS}) h += lever_chart(r, lv, m, roofs) + "\n";
    h += "</div>\n";
  }
  if (!any_lever) h += "<p class=\"sub\">Every axis of the grid has one value: no lever to chart.</p>\n";
  if (roofs.device_gbs > 0)
    h += fmt::format("<p class=\"sub\">Roofs on the bandwidth charts are medians over the points' quick read probes: the device (every CPU), "
                     "{:.0f} % of it (bandwidth-bound at or above), and one instance's cores at the largest instance count. Knee: the first "
                     "instance count whose next adds less than 10 % decode bandwidth.</p>\n",
                     100 * r.threshold);
  if (const std::string err = error_chart(r, values); !err.empty()) {
    h += "<h2>Prediction</h2>\n<div class=\"charts\"><div class=\"wide\">" + err + "</div></div>\n";
    std::string why;
    size_t n_why = 0;
    for (size_t i = 0; i < r.results.size() && i < r.predictions.size(); ++i)
      if (r.predictions[i] && !r.predictions[i]->why.empty())
        ++n_why, why += fmt::format("<li><b>{}</b> ({:+.1f} %): {}</li>", esc(r.results[i].point.key()), r.predictions[i]->error_pct, esc(r.predictions[i]->why));
    // A long list of outliers folds away (no script: <details>).
    if (n_why)
      h += fmt::format("<details{}><summary class=\"sub\">What the model leaves out at the outliers ({})</summary><ul class=\"sub\">{}</ul></details>\n",
                       n_why <= 8 ? " open" : "", n_why, why);
  }
  h += "<h2>Points</h2>\n" + points_table(r);
  return h + "</body></html>\n";
}

}  // namespace bwscope::report
