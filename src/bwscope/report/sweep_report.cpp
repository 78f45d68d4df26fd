// The sweep report: the results file's lines, the findings in sentences, the table, CSV and
// JSON (docs/sweep-json.md). The HTML page is sweep_html.cpp.
#include "bwscope/report/sweep_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/report/compare_report.h"
#include "bwscope/report/text_table.h"

namespace bwscope::report {
namespace {

using ojson = nlohmann::ordered_json;

std::string pct(double from, double to) {
  if (from <= 0) return "n/a";
  const double p = 100 * (to / from - 1);
  return fmt::format("{}{:.0f} %", p >= 0 ? "+" : "", p);
}

const PointResult* find(const SweepReport& r, const SweepPoint& p) {
  for (const PointResult& x : r.results)
    if (x.point == p && x.ok) return &x;
  return nullptr;
}

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string SweepPoint::key() const {
  return fmt::format("{} b{} N{} t{} {} p{}", type, batch, instances, threads, schedule, n_prompt);
}

bool operator==(const SweepPoint& a, const SweepPoint& b) {
  return a.type == b.type && a.batch == b.batch && a.instances == b.instances && a.threads == b.threads && a.schedule == b.schedule &&
         a.n_prompt == b.n_prompt;
}

ojson sweep_point_key_json(const SweepPoint& p) {
  return {{"type", p.type}, {"batch", p.batch}, {"instances", p.instances}, {"threads", p.threads},
          {"schedule", p.schedule}, {"n_prompt", p.n_prompt}};
}

SweepPoint sweep_point_from_json(const nlohmann::json& j) {
  SweepPoint p;
  p.type = j.at("type").get<std::string>();
  // Whole numbers only: nlohmann's get<int64_t>() casts a float such as 1e28, out of range.
  auto whole = [&](const char* k) {
    const auto& v = j.at(k);
    if (!v.is_number_integer() || v.get<int64_t>() > (int64_t(1) << 40)) fail("a point's '{}' is not a whole number in range", k);
    return v.get<int64_t>();
  };
  p.batch = whole("batch");
  p.instances = int(whole("instances"));
  p.threads = int(whole("threads"));
  p.schedule = j.at("schedule").get<std::string>();
  p.n_prompt = whole("n_prompt");
  if (p.batch < 1 || p.instances < 1 || p.threads < 0 || p.n_prompt < 1) fail("a point with a count out of range");
  return p;
}

ojson point_json(const PointResult& r) {
  ojson j;
  j["point"] = sweep_point_key_json(r.point);
  j["ok"] = r.ok;
  j["error"] = r.error.empty() ? ojson(nullptr) : ojson(r.error);
  j["scenario"] = r.scenario;
  j["model"] = r.model_path;
  j["threads_per_instance"] = r.threads;
  j["n_gen"] = r.n_gen;
  j["seconds"] = r.seconds;
  j["decode_gbs"] = r.decode_gbs;
  j["prefill_gbs"] = r.prefill_gbs;
  j["avg_gbs"] = r.avg_gbs;
  j["peak_gbs"] = r.peak_gbs;
  j["tokens_per_s"] = r.tokens_per_s;
  j["tpot_p50_ms"] = r.tpot_p50_ms;
  j["tpot_p99_ms"] = r.tpot_p99_ms;
  j["ttft_ms"] = r.ttft_ms;
  j["decode_gflops"] = r.decode_gflops;
  j["prefill_gflops"] = r.prefill_gflops;
  j["instance_decode_gbs"] = r.instance_decode_gbs;
  j["decode_bytes_per_token"] = r.decode_bytes_per_token;
  j["weight_bytes"] = r.weight_bytes;
  j["resident_bytes"] = r.resident_bytes;
  j["device_read_gbs"] = r.device_read_gbs;
  j["device_drift_pct"] = r.device_drift_pct;
  j["cores_read_gbs"] = r.cores_read_gbs;
  j["compute_gflops"] = r.compute_gflops;
  j["decode_compute_gflops"] = r.decode_compute_gflops;
  j["verdict"] = r.verdict;
  j["mbu_device"] = r.mbu_device;
  j["mbu_cores"] = r.mbu_cores;
  return j;
}

PointResult point_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("point")) fail("not a sweep point (no \"point\")");
  PointResult r;
  r.point = sweep_point_from_json(j.at("point"));
  r.ok = j.at("ok").get<bool>();
  r.error = j.at("error").is_null() ? "" : j.at("error").get<std::string>();
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0.0; };
  // Counts: a whole number in range, else 0 (a double past int64's range must not be cast).
  auto count = [&](const char* k, double hi) {
    const double v = num(k);
    return v >= 0 && v <= hi ? v : 0.0;
  };
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  r.scenario = str("scenario");
  r.model_path = str("model");
  r.threads = int(count("threads_per_instance", 1 << 20));
  r.n_gen = int64_t(count("n_gen", 1e15));
  r.seconds = num("seconds");
  r.decode_gbs = num("decode_gbs");
  r.prefill_gbs = num("prefill_gbs");
  r.avg_gbs = num("avg_gbs");
  r.peak_gbs = num("peak_gbs");
  r.tokens_per_s = num("tokens_per_s");
  r.tpot_p50_ms = num("tpot_p50_ms");
  r.tpot_p99_ms = num("tpot_p99_ms");
  r.ttft_ms = num("ttft_ms");
  r.decode_gflops = num("decode_gflops");
  r.prefill_gflops = num("prefill_gflops");
  r.instance_decode_gbs = num("instance_decode_gbs");
  r.decode_bytes_per_token = num("decode_bytes_per_token");
  r.weight_bytes = uint64_t(count("weight_bytes", 1e18));
  r.resident_bytes = uint64_t(count("resident_bytes", 1e18));
  r.device_read_gbs = num("device_read_gbs");
  r.device_drift_pct = num("device_drift_pct");
  r.cores_read_gbs = num("cores_read_gbs");
  r.compute_gflops = num("compute_gflops");
  r.decode_compute_gflops = num("decode_compute_gflops");
  r.verdict = str("verdict");
  r.mbu_device = num("mbu_device");
  r.mbu_cores = num("mbu_cores");
  return r;
}

void finish_sweep_report(SweepReport& r) {
  r.findings.clear();
  r.incomplete = r.results.size() < r.grid_points.size();
  // Bytes per token by type: the median over each type's points at batch 1.
  std::vector<std::pair<std::string, double>> bpt;
  for (const std::string& type : r.grid.value("types", std::vector<std::string>{})) {
    std::vector<double> v;
    for (const PointResult& x : r.results)
      if (x.ok && x.point.type == type && x.point.batch == 1 && x.decode_bytes_per_token > 0) v.push_back(x.decode_bytes_per_token);
    if (!v.empty()) bpt.emplace_back(type, median(v));
  }
  if (bpt.size() > 1) {
    std::vector<std::string> names, mb, ratio;
    for (const auto& [t, b] : bpt) {
      names.push_back(t);
      mb.push_back(fmt::format("{:.0f}", b / 1e6));
      ratio.push_back(fmt::format("{:.2f}", b / bpt.front().second));
    }
    r.findings.push_back(fmt::format("Precision: a decoded token moves {} MB ({}), {} relative to {}.", fmt::join(mb, " : "),
                                     fmt::join(names, " : "), fmt::join(ratio, " : "), names.front()));
  }
  // Batch: alone, the smallest and the largest batch of each type.
  const auto batches = r.grid.value("batch", std::vector<int64_t>{});
  if (batches.size() > 1) {
    std::vector<std::string> parts;
    for (const PointResult& a : r.results) {
      if (!a.ok || a.point.instances != 1 || a.point.batch != batches.front()) continue;
      SweepPoint hi = a.point;
      hi.batch = batches.back();
      if (const PointResult* b = find(r, hi))
        parts.push_back(fmt::format("{} {:.1f} → {:.1f} tok/s ({:.1f}×) at {:.1f} → {:.1f} GB/s, TPOT {} → {} ms", a.point.type, a.tokens_per_s,
                                    b->tokens_per_s, b->tokens_per_s / std::max(a.tokens_per_s, 1e-9), a.decode_gbs, b->decode_gbs,
                                    format_ms(a.tpot_p50_ms), format_ms(b->tpot_p50_ms)));
    }
    if (!parts.empty())
      r.findings.push_back(fmt::format("Batch {} → {} (one instance): {}. The weights are read once per step for the whole batch, so "
                                       "tokens/s grows with the batch while the bytes per step barely change.",
                                       batches.front(), batches.back(), fmt::join(parts, "; ")));
  }
  // Instances: 1 vs the largest count, and the knee.
  const auto counts = r.grid.value("instances", std::vector<int>{});
  if (counts.size() > 1) {
    std::vector<int> sorted = counts;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::string> parts, knees;
    for (const PointResult& a : r.results) {
      if (!a.ok || a.point.instances != sorted.front() || a.point.schedule != "parallel") continue;
      SweepPoint p = a.point;
      p.instances = sorted.back();
      p.schedule = r.grid.value("schedules", std::vector<std::string>{"parallel"}).front();
      if (const PointResult* b = find(r, p))
        parts.push_back(fmt::format("{} b{}: {:.1f} → {:.1f} tok/s, TPOT {} → {} ms, decode {:.1f} → {:.1f} GB/s", a.point.type, a.point.batch,
                                    a.tokens_per_s, b->tokens_per_s, format_ms(a.tpot_p50_ms), format_ms(b->tpot_p50_ms), a.decode_gbs,
                                    b->decode_gbs));
      // The knee: the first count whose next adds less than 10 % decode bandwidth.
      const PointResult* prev = &a;
      std::optional<int> knee;
      double last_gain = 0;
      for (size_t k = 1; k < sorted.size() && !knee; ++k) {
        p.instances = sorted[k];
        const PointResult* next = find(r, p);
        if (!next) break;
        last_gain = next->decode_gbs / std::max(prev->decode_gbs, 1e-9) - 1;
        if (last_gain < 0.10) knee = prev->point.instances;
        prev = next;
      }
      if (knee)
        knees.push_back(fmt::format("{} b{} at {} instance{} (the next adds {})", a.point.type, a.point.batch, *knee, *knee == 1 ? "" : "s",
                                    pct(1, 1 + last_gain)));
      else if (prev != &a)
        knees.push_back(fmt::format("{} b{}: none up to {} (the last step added {})", a.point.type, a.point.batch, prev->point.instances,
                                    pct(1, 1 + last_gain)));
    }
    if (!parts.empty())
      r.findings.push_back(fmt::format("Instances {} → {}: {}.", sorted.front(), sorted.back(), fmt::join(parts, "; ")));
    if (!knees.empty())
      r.findings.push_back(fmt::format("Knee (where adding an instance adds less than 10 % decode bandwidth): {}.", fmt::join(knees, "; ")));
  }
  // The prediction's errors.
  std::vector<double> errs;
  for (size_t i = 0; i < r.predictions.size() && i < r.results.size(); ++i)
    if (r.predictions[i] && r.results[i].ok) errs.push_back(std::abs(r.predictions[i]->error_pct));
  if (errs.empty() && !r.predictions.empty())
    r.findings.push_back("Prediction: no point has roofs to predict from (the probe was off: --probe none).");
  if (!errs.empty()) {
    const double worst = *std::max_element(errs.begin(), errs.end());
    size_t over10 = 0;
    for (double e : errs) over10 += e > 10;
    r.findings.push_back(fmt::format("Prediction (efficiency {:.2f}{}): decode tokens/s off by a median {:.1f} % and at most {:.1f} % "
                                     "over {} points; {} beyond 10 %.",
                                     r.efficiency, r.efficiency_source.empty() ? "" : ", " + r.efficiency_source, median(errs), worst,
                                     errs.size(), over10));
  }
  size_t failed = 0;
  for (const PointResult& x : r.results) failed += !x.ok;
  if (failed) r.findings.push_back(fmt::format("{} point{} failed; the error is in the table.", failed, failed == 1 ? "" : "s"));
  if (r.incomplete)
    r.findings.push_back(fmt::format("Incomplete: {} of {} points ran; --resume the results file to run the rest.", r.results.size(),
                                     r.grid_points.size()));
}

std::string render_sweep_table(const SweepReport& r) {
  const bool pred = !r.predictions.empty();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"point", "scenario", "decode GB/s", "tok/s", "TPOT p50", "TTFT", "MB/token", "roof dev/cores"};
  if (pred) head.insert(head.end(), {"predicted tok/s", "error"});
  head.push_back("verdict");
  rows.push_back(head);
  for (size_t i = 0; i < r.results.size(); ++i) {
    const PointResult& x = r.results[i];
    if (!x.ok) {
      std::vector<std::string> row = {x.point.key(), x.scenario, "", "", "", "", "", ""};
      if (pred) row.insert(row.end(), {"", ""});
      row.push_back("FAILED: " + x.error);
      rows.push_back(row);
      continue;
    }
    std::vector<std::string> row = {x.point.key(), x.scenario, fmt::format("{:.1f}", x.decode_gbs), fmt::format("{:.1f}", x.tokens_per_s),
                                    format_ms(x.tpot_p50_ms) + " ms", format_ms(x.ttft_ms) + " ms",
                                    fmt::format("{:.0f}", x.decode_bytes_per_token / 1e6),
                                    fmt::format("{:.1f}/{:.1f}", x.device_read_gbs, x.cores_read_gbs)};
    if (pred) {
      const auto& p = i < r.predictions.size() ? r.predictions[i] : std::nullopt;
      row.push_back(p ? fmt::format("{:.1f}", p->tokens_per_s) : "");
      row.push_back(p ? fmt::format("{:+.1f} %", p->error_pct) : "");
    }
    row.push_back(x.verdict);
    rows.push_back(row);
  }
  std::string out = text_table(rows) + "\n";
  for (const std::string& f : r.findings) out += f + "\n";
  if (pred)
    for (size_t i = 0; i < r.predictions.size() && i < r.results.size(); ++i)
      if (r.predictions[i] && !r.predictions[i]->why.empty())
        out += fmt::format("  {} ({:+.1f} %): {}\n", r.results[i].point.key(), r.predictions[i]->error_pct, r.predictions[i]->why);
  return out;
}

std::string render_sweep_csv(const SweepReport& r) {
  std::string out =
      "type,batch,instances,threads,schedule,n_prompt,ok,error,scenario,threads_per_instance,decode_gbs,prefill_gbs,avg_gbs,peak_gbs,"
      "tokens_per_s,tpot_p50_ms,tpot_p99_ms,ttft_ms,decode_bytes_per_token,device_read_gbs,cores_read_gbs,mbu_device,mbu_cores,verdict,"
      "predicted_tokens_per_s,predicted_error_pct\n";
  for (size_t i = 0; i < r.results.size(); ++i) {
    const PointResult& x = r.results[i];
    const auto& p = i < r.predictions.size() ? r.predictions[i] : std::nullopt;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.0f},{:.4f},{:.4f},{:.4f},{:.4f},{},{},{}\n",
                       csv_quote(x.point.type), x.point.batch, x.point.instances, x.point.threads, csv_quote(x.point.schedule),
                       x.point.n_prompt, x.ok ? "true" : "false", csv_quote(x.error), csv_quote(x.scenario), x.threads, x.decode_gbs,
                       x.prefill_gbs, x.avg_gbs, x.peak_gbs, x.tokens_per_s, x.tpot_p50_ms, x.tpot_p99_ms, x.ttft_ms,
                       x.decode_bytes_per_token, x.device_read_gbs, x.cores_read_gbs, x.mbu_device, x.mbu_cores, csv_quote(x.verdict),
                       p ? fmt::format("{:.4f}", p->tokens_per_s) : "", p ? fmt::format("{:.2f}", p->error_pct) : "");
  }
  return out;
}

ojson render_sweep_json(const SweepReport& r) {
  ojson j;
  j["schema_version"] = kSweepSchemaVersion;
  j["tool"] = "bwscope sweep";
  j["incomplete"] = r.incomplete;
  j["settings"] = r.settings;
  j["grid"] = r.grid;
  j["device"] = {{"kind", "cpu"}, {"cpu_model", r.cpu_model}, {"cpus", r.cpus}, {"memory_bytes", r.memory_bytes}};
  j["threshold"] = r.threshold;
  j["efficiency"] = r.predictions.empty() ? ojson(nullptr) : ojson(r.efficiency);
  j["efficiency_source"] = r.predictions.empty() ? ojson(nullptr) : ojson(r.efficiency_source);
  j["points"] = ojson::array();
  for (size_t i = 0; i < r.results.size(); ++i) {
    ojson p = point_json(r.results[i]);
    const auto& pr = i < r.predictions.size() ? r.predictions[i] : std::nullopt;
    if (pr)
      p["predicted"] = {{"tokens_per_s", pr->tokens_per_s}, {"decode_gbs", pr->decode_gbs}, {"tpot_ms", pr->tpot_ms},
                        {"ttft_ms", pr->ttft_ms}, {"bound", pr->bound}, {"error_pct", pr->error_pct},
                        {"why", pr->why.empty() ? ojson(nullptr) : ojson(pr->why)}};
    else
      p["predicted"] = nullptr;
    j["points"].push_back(p);
  }
  j["not_run"] = ojson::array();
  for (const SweepPoint& g : r.grid_points) {
    bool ran = false;
    for (const PointResult& x : r.results) ran = ran || x.point == g;
    if (!ran) j["not_run"].push_back(sweep_point_key_json(g));
  }
  j["findings"] = r.findings;
  return j;
}

}  // namespace bwscope::report
