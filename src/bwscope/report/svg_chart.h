// Small pieces of hand-written SVG charts shared by the HTML reports (compare, sweep): escaping,
// round axis ends and steps, a plot frame with value axes or category axes, reference lines,
// legends and labels kept apart.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace bwscope::report::svg {

// The chart colours (Tableau 10), repeating past the eighth series.
const char* color(size_t i);

// Colours for many series: color()'s eight and two more; past ten they repeat, and marker()
// draws another shape for them (circle, square, triangle, diamond).
const char* series_color(size_t k);
// Series k's marker at (x, y), about r in radius, filled or hollow; `tip` shows on hover.
std::string marker(size_t k, double x, double y, double r, bool hollow, const std::string& tip = "");

// Text and attribute values: < > & " escaped.
std::string esc(const std::string& s);

// The smallest m × 10^k at or above v for m in `steps`: a round number.
double round_up(double v, std::initializer_list<double> steps);
// An axis end close above v (so the data fills the plot) ...
double nice_ceil(double v);
// ... and a tick step from the 1-2-2.5-5 series, about `ticks` of them.
double nice_step(double range, int ticks);

// A plot in SVG units: the canvas (w × h), the margins around the plot (left, right, top,
// bottom) and the value ranges [0, x_max] × [0, y_max]; y past y_max is clipped to the top.
struct Frame {
  double w = 880, h = 262, l = 58, r = 150, t = 44, b = 38;
  double x_max = 1, y_max = 1;
  double x(double v) const { return l + (w - l - r) * v / x_max; }
  double y(double v) const { return h - b - (h - t - b) * std::min(v, y_max) / y_max; }
};

// Horizontal grid lines with y ticks, the two axis lines and the y label; with an x label also
// x ticks over [0, x_max] and the label under them.
std::string axes(const Frame& f, const std::string& x_label, const std::string& y_label);

// Categories evenly spaced across the plot, each at the middle of its slot (i of n).
double category_x(const Frame& f, size_t i, size_t n);
// Their names under the plot (shrunk or thinned out when they would touch) and the axis label.
std::string category_ticks(const Frame& f, const std::vector<std::string>& names, const std::string& label);

// A horizontal line across the plot at value v, and a reference label in the given colour.
std::string hline(const Frame& f, double v, const char* colour, const char* dash);
std::string ref_label(double x, double y, const char* colour, const std::string& label);

// A row of colour keys between the title and the plot.
std::string legend_row(const Frame& f, const std::vector<std::string>& names);

// Colour keys wrapped into rows `width` wide from (x, y) (the top of the first row): a swatch
// `swatch_w` wide (by default a 10 × 10 square in color(k); or whatever `swatch(k, x, y_mid)`
// draws) and the name in `font_px` type. `rows` is how many rows they took, `row_h` apart.
struct Legend {
  std::string svg;
  int rows = 0;
  double row_h = 14;
};
using Swatch = std::function<std::string(size_t k, double x, double y_mid)>;
Legend legend_wrapped(const std::vector<std::string>& names, double x, double y, double width, const Swatch& swatch = {},
                      double swatch_w = 10, double font_px = 11);

// Label positions (text baselines) at least `gap` apart, each as near its wish as that allows,
// kept within [lo, hi] where they fit; the order of `wish` is kept.
std::vector<double> spread_labels(const std::vector<double>& wish, double gap, double lo, double hi);

// Roughly how wide `text` is at `font_px` (system-ui averages about 0.56 em a character).
double text_width(const std::string& text, double font_px);

// An <svg> w × h on a white ground (for inline use: sized by CSS, no namespace); `title` names it
// for screen readers.
std::string canvas(double w, double h, const std::string& title);

// The charts' text styles, one <style> element.
extern const char* const kSvgStyle;

}  // namespace bwscope::report::svg
