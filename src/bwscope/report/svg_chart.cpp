// The SVG chart pieces the HTML reports share (svg_chart.h).
#include "bwscope/report/svg_chart.h"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace bwscope::report::svg {

namespace {
const char* const kColors[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};
}  // namespace

const char* color(size_t i) { return kColors[i % (sizeof kColors / sizeof kColors[0])]; }

const char* series_color(size_t k) {
  static const char* const kMore[] = {"#ff9da7", "#bab0ac"};
  return k % 10 < 8 ? color(k % 10) : kMore[k % 10 - 8];
}

std::string marker(size_t k, double x, double y, double r, bool hollow, const std::string& tip) {
  const char* c = series_color(k);
  const std::string paint = hollow ? fmt::format(R"(fill="white" stroke="{}" stroke-width="1.5")", c) : fmt::format(R"(fill="{}")", c);
  const std::string title = tip.empty() ? "" : "<title>" + esc(tip) + "</title>";
  switch ((k / 10) % 4) {
    case 0: return fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" {}>{}</circle>)", x, y, r, paint, title);
    case 1: return fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" {}>{}</rect>)", x - 0.9 * r, y - 0.9 * r, 1.8 * r, 1.8 * r, paint, title);
    case 2:
      return fmt::format(R"(<path d="M{:.1f},{:.1f}L{:.1f},{:.1f}L{:.1f},{:.1f}Z" {}>{}</path>)", x, y - 1.3 * r, x + 1.2 * r, y + 0.9 * r, x - 1.2 * r,
                         y + 0.9 * r, paint, title);
    default:
      return fmt::format(R"(<path d="M{:.1f},{:.1f}L{:.1f},{:.1f}L{:.1f},{:.1f}L{:.1f},{:.1f}Z" {}>{}</path>)", x, y - 1.3 * r, x + 1.3 * r, y, x,
                         y + 1.3 * r, x - 1.3 * r, y, paint, title);
  }
}

std::string canvas(double w, double h, const std::string& title) {
  return fmt::format(R"(<svg viewBox="0 0 {:.0f} {:.0f}" role="img" aria-label="{}"><rect width="{:.0f}" height="{:.0f}" fill="white"/>)", w, h,
                     esc(title), w, h);
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

double round_up(double v, std::initializer_list<double> steps) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : steps)
    if (m * p >= v * 0.999) return m * p;
  return 10 * p;
}
double nice_ceil(double v) { return round_up(v, {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}); }
double nice_step(double range, int ticks) { return round_up(range / ticks, {1.0, 2.0, 2.5, 5.0, 10.0}); }

std::string axes(const Frame& f, const std::string& x_label, const std::string& y_label) {
  std::string s;
  const double ys = nice_step(f.y_max, 5);
  for (double v = 0; v <= f.y_max * 1.0001; v += ys) {
    s += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e6e6e6"/>)", f.l, f.y(v), f.w - f.r, f.y(v));
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" class="tick">{:g}</text>)", f.l - 6, f.y(v) + 4, v);
  }
  if (!x_label.empty()) {
    const double xs = nice_step(f.x_max, 8);
    for (double v = 0; v <= f.x_max * 1.0001; v += xs)
      s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="tick">{:g}</text>)", f.x(v), f.h - f.b + 15, v);
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="label">{}</text>)", (f.l + f.w - f.r) / 2, f.h - 4, x_label);
  }
  s += fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#888"/>)", f.l, f.t, f.h - f.b);
  s += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#888"/>)", f.l, f.h - f.b, f.w - f.r, f.h - f.b);
  s += fmt::format(R"x(<text transform="translate(14,{:.1f}) rotate(-90)" text-anchor="middle" class="label">{}</text>)x", (f.t + f.h - f.b) / 2, y_label);
  return s;
}

double category_x(const Frame& f, size_t i, size_t n) { return f.l + (f.w - f.l - f.r) * (double(i) + 0.5) / double(std::max<size_t>(n, 1)); }

std::string category_ticks(const Frame& f, const std::vector<std::string>& names, const std::string& label) {
  const double slot = (f.w - f.l - f.r) / double(std::max<size_t>(names.size(), 1));
  double widest = 0;
  for (const std::string& n : names) widest = std::max(widest, text_width(n, 11));
  // Shrink to 9 px, then label every k-th category, rather than let names run into each other.
  const double font = widest + 4 <= slot ? 11 : std::max(9.0, 11 * (slot - 4) / widest);
  const size_t every = std::max<size_t>(1, size_t(std::ceil((widest * font / 11 + 4) / slot)));
  std::string s;
  for (size_t i = 0; i < names.size(); i += every)
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="tick"{}>{}</text>)", category_x(f, i, names.size()),
                     f.h - f.b + 15, font < 11 ? fmt::format(R"( style="font-size:{:.1f}px")", font) : "", esc(names[i]));
  s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" class="label">{}</text>)", (f.l + f.w - f.r) / 2, f.h - 4, esc(label));
  return s;
}

std::string hline(const Frame& f, double v, const char* colour, const char* dash) {
  return fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="1.5" stroke-dasharray="{}"/>)", f.l,
                     f.y(v), f.w - f.r, f.y(v), colour, dash);
}

std::string ref_label(double x, double y, const char* colour, const std::string& label) {
  return fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="ref" fill="{}">{}</text>)", x, y, colour, esc(label));
}

std::string legend_row(const Frame& f, const std::vector<std::string>& names) {
  std::string s;
  double x = f.l;
  for (size_t k = 0; k < names.size(); ++k) {
    s += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="10" height="10" fill="{}"/><text x="{:.1f}" y="{:.1f}" class="tick">{}</text>)", x,
                     f.t - 16, color(k), x + 14, f.t - 7, esc(names[k]));
    x += 24 + 6.2 * double(names[k].size());
  }
  return s;
}

Legend legend_wrapped(const std::vector<std::string>& names, double x0, double y0, double width, const Swatch& swatch, double swatch_w,
                      double font_px) {
  Legend out;
  out.row_h = std::ceil(font_px * 1.3);
  if (names.empty()) return out;
  out.rows = 1;
  const std::string font = font_px == 11 ? "" : fmt::format(R"( style="font-size:{:g}px")", font_px);
  double x = x0;
  for (size_t k = 0; k < names.size(); ++k) {
    const double item = swatch_w + 4 + text_width(names[k], font_px) + 12;
    if (x > x0 && x + item > x0 + width) {
      x = x0;
      ++out.rows;
    }
    const double y = y0 + out.row_h * (out.rows - 1);
    out.svg += swatch ? swatch(k, x, y + 5) : fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="10" height="10" fill="{}"/>)", x, y, color(k));
    out.svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="tick key"{}>{}</text>)", x + swatch_w + 4, y + 5 + font_px * 0.36, font,
                           esc(names[k]));
    x += item;
  }
  return out;
}

std::vector<double> spread_labels(const std::vector<double>& wish, double gap, double lo, double hi) {
  std::vector<size_t> order(wish.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return wish[a] < wish[b]; });
  std::vector<double> at(wish.size());
  for (size_t k = 0; k < order.size(); ++k)
    at[order[k]] = std::max(k ? at[order[k - 1]] + gap : lo, std::max(wish[order[k]], lo));
  // Pushed past the bottom: pull the tail back up, as far as the top allows.
  for (size_t k = order.size(); k-- > 0;) {
    const double cap = k + 1 < order.size() ? at[order[k + 1]] - gap : hi;
    at[order[k]] = std::max(lo, std::min(at[order[k]], cap));
  }
  return at;
}

double text_width(const std::string& text, double font_px) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;  // UTF-8: count lead bytes only
  return 0.56 * font_px * double(chars);
}

const char* const kSvgStyle =
    "<style>text{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;fill:#333}"
    ".title{font-size:14px;font-weight:600}.tick{font-size:11px;fill:#555}.label{font-size:12px}"
    ".value{font-size:10px;fill:#333}.ref{font-size:11px}</style>";

}  // namespace bwscope::report::svg
