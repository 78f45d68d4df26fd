// The sweep report's HTML page from made-up but plausible points (3 types × batch {1, 4} ×
// instances {1, 2} on a 16-CPU box, one point failed, with predictions): self-contained, three
// charts per lever plus the prediction's error, the knee ringed where the data has one, and
// the failed point's error escaped. BWSCOPE_SWEEP_HTML_OUT=<path> also writes the page there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "bwscope/report/sweep_report.h"

namespace bwscope {
namespace {

using report::PointPrediction;
using report::PointResult;
using report::SweepPoint;
using report::SweepReport;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The names on the charts' keys.
std::vector<std::string> legend_names(const std::string& html) {
  std::vector<std::string> names;
  const std::string swatch = "class=\"tick key\"";
  for (size_t at = html.find(swatch); at != std::string::npos; at = html.find(swatch, at + 1)) {
    const size_t open = html.find(">", at) + 1;
    names.push_back(html.substr(open, html.find("</text>", open) - open));
  }
  return names;
}

struct Options {
  std::vector<int64_t> batches = {1, 4};
  bool knee = true;          // the second instance adds 4 % decode bandwidth (else 28 %)
  bool predict = true;
  bool incomplete = false;   // the last grid point did not run
};

// Decode reads the weights once per step: tokens/s = GB/s / (MB per token) × batch.
SweepReport make_report(const Options& o) {
  SweepReport r;
  r.settings = {{"preset", "tiny"}, {"n_gen", 64}, {"weights", "shared"}, {"cores", "partition"}, {"threshold", 0.8}};
  r.grid = {{"types", {"f16", "q8_0", "q4_0"}}, {"batch", o.batches}, {"instances", {2, 1}}, {"threads", {0}},
            {"schedules", {"parallel"}}, {"n_prompt", {64}}};
  r.cpu_model = "Test CPU @ 3.0GHz";
  r.cpus = 16;
  r.memory_bytes = 64ull << 30;
  r.threshold = 0.8;
  const std::pair<const char*, double> types[] = {{"f16", 262e6}, {"q8_0", 140e6}, {"q4_0", 76e6}};
  double err = -14;
  for (const auto& [type, bytes] : types)
    for (int64_t b : o.batches)
      for (int n : {1, 2}) {
        SweepPoint p{type, b, n, 0, "parallel", 64};
        r.grid_points.push_back(p);
        if (o.incomplete && r.grid_points.size() == 3u * o.batches.size() * 2) continue;
        PointResult x;
        x.point = p;
        x.scenario = n == 1 ? "1 instance" : "2 × parallel";
        x.threads = 16 / n;
        x.n_gen = 64;
        x.ok = !(std::string(type) == "q4_0" && b == 4 && n == 2);
        if (!x.ok) x.error = "out of memory: <mmap> failed & gave up";
        x.device_read_gbs = 80 + (r.results.size() % 3 == 0 ? 1.0 : 0.0);
        x.cores_read_gbs = n == 1 ? 80 : 55;
        if (x.ok) {
          const double alone = std::string(type) == "q4_0" ? 38 : 50;
          x.decode_gbs = (n == 1 ? alone : alone * (o.knee ? 1.04 : 1.28)) * (b == 1 ? 1.0 : 1.05);
          x.decode_bytes_per_token = bytes;
          x.tokens_per_s = x.decode_gbs * 1e9 / bytes * double(b);
          x.tpot_p50_ms = 1000.0 * double(b * n) / x.tokens_per_s;
          x.ttft_ms = 40.0 * double(b);
          x.verdict = "device-bound (device 70 %)";
        }
        r.results.push_back(x);
        if (o.predict) {
          PointPrediction pr;
          pr.error_pct = err;
          err += 4.5;
          pr.tokens_per_s = x.tokens_per_s / (1 + pr.error_pct / 100);
          pr.bound = "bandwidth (device)";
          if (std::abs(pr.error_pct) > 10) pr.why = "the model leaves out the KV cache's <growth>";
          r.predictions.push_back(pr);
        }
      }
  r.efficiency = 0.85;
  report::finish_sweep_report(r);
  return r;
}

TEST(SweepHtml, IsSelfContained) {
  const std::string html = report::render_sweep_html(make_report({}));
  if (const char* out = std::getenv("BWSCOPE_SWEEP_HTML_OUT")) std::ofstream(out) << html;
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  for (const char* fetch : {"<script", "http", "<link", "<img", "url(", "@import"}) EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  EXPECT_NE(html.find("<h1>bwscope sweep</h1>"), std::string::npos);
  EXPECT_NE(html.find("Test CPU @ 3.0GHz · 16 CPUs · 64.0 GiB"), std::string::npos);
  EXPECT_NE(html.find("preset <b>tiny</b>"), std::string::npos);
  EXPECT_NE(html.find("types <b>f16, q8_0, q4_0</b>"), std::string::npos);
}

TEST(SweepHtml, DrawsThreeChartsPerLeverWithTwoOrMoreValuesAndThePredictionError) {
  // Levers type, batch and instances: 3 × 3, and the prediction's error.
  EXPECT_EQ(count(report::render_sweep_html(make_report({})), "<svg"), 10u);
  Options one_batch;
  one_batch.batches = {1};
  EXPECT_EQ(count(report::render_sweep_html(make_report(one_batch)), "<svg"), 7u);
  Options no_predict;
  no_predict.predict = false;
  const std::string html = report::render_sweep_html(make_report(no_predict));
  EXPECT_EQ(count(html, "<svg"), 9u);
  EXPECT_EQ(html.find("Prediction error"), std::string::npos);
  EXPECT_EQ(html.find("predicted tok/s"), std::string::npos);
}

TEST(SweepHtml, ChartsNameTheCategoriesSeriesAndRoofs) {
  const std::string html = report::render_sweep_html(make_report({}));
  for (const char* type : {">f16</text>", ">q8_0</text>", ">q4_0</text>"}) EXPECT_NE(html.find(type), std::string::npos) << type;
  // The instance counts in numeric order though the grid lists them as 2, 1.
  const std::string instances = html.substr(html.find("<h2>Against instances"));
  EXPECT_LT(instances.find("class=\"tick\">1</text>"), instances.find("class=\"tick\">2</text>"));
  // One legend entry per series on each of a lever's 3 charts, naming only the other axes
  // with 2+ values: batch × instances on the type charts, type × instances on the batch
  // charts, type × batch on the instances charts.
  const std::vector<std::string> names = legend_names(html);
  EXPECT_EQ(names.size(), 3u * (4 + 6 + 6));
  for (const char* name : {"b1 N2", "f16 N1", "q4_0 N2", "f16 b4", "q4_0 b1"})
    EXPECT_EQ(std::count(names.begin(), names.end(), name), 3) << name;
  // Device roof: the median of 80, 80, 81, ...; the threshold on it; the cores of one of 2 instances.
  EXPECT_EQ(count(html, "device 80.0 GB/s"), 3u);
  EXPECT_EQ(count(html, "80 %: 64.0 GB/s"), 3u);
  EXPECT_EQ(count(html, "8 cores: 55.0 GB/s"), 3u);
  // Predicted tokens/s: a dashed line per series on each tokens/s chart (batch × instances,
  // type × instances, type × batch: 4 + 6 + 6 series).
  EXPECT_EQ(count(html, "stroke-dasharray=\"5 4\""), 16u);
}

TEST(SweepHtml, ManySeriesShareOneKeyAboveTheLeversCharts) {
  Options o;
  o.batches = {1, 2, 4, 8, 16};
  const std::string html = report::render_sweep_html(make_report(o));
  // Instances: 3 types × 5 batches = 15 series, one key in HTML; type (5 × 2) and batch
  // (3 × 2) keep a key in each chart.
  EXPECT_EQ(count(html, "<div class=\"keys\">"), 1u);
  EXPECT_EQ(count(html, "<span class=\"sw m"), 15u);
  EXPECT_EQ(legend_names(html).size(), 3u * (10 + 6));
  EXPECT_EQ(count(html, "<svg"), 10u);
}

TEST(SweepHtml, RingsTheKneeOfEachSeriesWhereTheNextInstanceAddsLittle) {
  const SweepReport r = make_report({});
  ASSERT_NE(r.findings.size(), 0u);
  const std::string html = report::render_sweep_html(r);
  // 6 type × batch series; q4_0 b4 failed at 2 instances, so it has no second point.
  EXPECT_EQ(count(html, "r=\"7.5\" fill=\"none\""), 5u);
  EXPECT_NE(html.find(">knee</text>"), std::string::npos);
  EXPECT_EQ(html.find("no knee within the grid"), std::string::npos);
  EXPECT_NE(html.find("Knee (where adding an instance adds less than 10 % decode bandwidth)"), std::string::npos);
}

TEST(SweepHtml, SaysSoWhenNoSeriesHasAKnee) {
  Options o;
  o.knee = false;
  const std::string html = report::render_sweep_html(make_report(o));
  EXPECT_EQ(count(html, "r=\"7.5\" fill=\"none\""), 0u);
  EXPECT_EQ(html.find(">knee</text>"), std::string::npos);
  EXPECT_EQ(count(html, "no knee within the grid"), 1u);
}

TEST(SweepHtml, ShowsTheFailedPointsErrorEscaped) {
  const std::string html = report::render_sweep_html(make_report({}));
  EXPECT_NE(html.find("<td class=\"k\">q4_0 b4 N2 t0 parallel p64</td>"), std::string::npos);
  EXPECT_NE(html.find("class=\"err\">failed: out of memory: &lt;mmap&gt; failed &amp; gave up</td>"), std::string::npos);
  EXPECT_EQ(html.find("<mmap>"), std::string::npos);
  EXPECT_EQ(html.find("<growth>"), std::string::npos);
  EXPECT_NE(html.find("KV cache's &lt;growth&gt;"), std::string::npos);
  // Every point has a row: the header and 12 points.
  EXPECT_EQ(count(html, "<tr>"), 13u);
}

TEST(SweepHtml, BannersAnIncompleteSweep) {
  Options o;
  o.incomplete = true;
  const SweepReport r = make_report(o);
  ASSERT_TRUE(r.incomplete);
  EXPECT_NE(report::render_sweep_html(r).find("<b>Incomplete:</b> 11 of 12 points ran"), std::string::npos);
  EXPECT_EQ(report::render_sweep_html(make_report({})).find("Incomplete:</b>"), std::string::npos);
}

}  // namespace
}  // namespace bwscope
