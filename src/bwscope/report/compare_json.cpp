// The compare report as JSON: schema docs/compare.schema.json, described in docs/compare-json.md.
#include <fmt/format.h>

#include "bwscope/report/compare_report.h"

namespace bwscope::report {
namespace {

using ojson = nlohmann::ordered_json;

ojson opt(const std::optional<double>& v) { return v ? ojson(*v) : ojson(nullptr); }
ojson bytes_or_null(uint64_t b) { return b ? ojson(b) : ojson(nullptr); }
ojson positive_or_null(double v) { return v > 0 ? ojson(v) : ojson(nullptr); }

ojson verdict_json(const std::optional<meter::Verdict>& v) {
  if (!v) return nullptr;
  return {{"bound", meter::bound_name(v->bound)}, {"mbu_cores", v->mbu_cores}, {"mbu_device", v->mbu_device}, {"mfu", v->mfu},
          {"mbu_datasheet", opt(v->mbu_datasheet)}, {"reason", v->reason}};
}

ojson instance_json(const InstanceFigures& g) {
  ojson j;
  j["name"] = g.name;
  j["model"] = g.model_path;
  j["weight_type"] = g.weight_type;
  j["threads"] = g.threads;
  j["cpus"] = g.cpus;
  j["batch"] = g.batch;
  j["n_prompt"] = g.n_prompt;
  j["n_gen"] = g.n_gen;
  j["pid"] = g.pid;
  j["completed"] = g.completed;
  j["error"] = g.error.empty() ? ojson(nullptr) : ojson(g.error);
  j["steps_done"] = g.steps_done;
  j["seconds"] = g.seconds;
  j["ttft_ms"] = g.ttft_ms;
  j["tpot_p50_ms"] = g.tpot_p50_ms;
  j["tpot_p99_ms"] = g.tpot_p99_ms;
  j["tokens_per_s"] = g.decode_tokens_per_s;
  j["avg_gbs"] = g.avg_gbs;
  j["prefill_gbs"] = g.prefill_gbs;
  j["decode_gbs"] = g.decode_gbs;
  j["peak_gbs"] = g.peak_gbs;
  j["prefill_gflops"] = g.prefill_gflops;
  j["decode_gflops"] = g.decode_gflops;
  j["bytes"] = {{"model_traffic", g.bytes}, {"weights", g.weight_bytes_read}, {"kv_read", g.kv_read_bytes},
                {"kv_write", g.kv_write_bytes}, {"activations", g.act_bytes},
                {"decode_weights_per_step", g.decode_weight_bytes_per_step}};
  j["memory"] = {{"weights", g.weights}, {"weight_bytes", g.weight_bytes}, {"kv_bytes", g.kv_bytes},
                 {"scratch_bytes", g.scratch_bytes}, {"peak_rss_bytes", bytes_or_null(g.peak_rss_bytes)},
                 {"rss_bytes", bytes_or_null(g.rss_bytes)}, {"pss_bytes", bytes_or_null(g.pss_bytes)},
                 {"weights_mapping", g.weights_inode ? ojson{{"inode", g.weights_inode}, {"rss_bytes", g.weights_rss_bytes}} : ojson(nullptr)}};
  j["prefill_verdict"] = verdict_json(g.prefill_verdict);
  j["decode_verdict"] = verdict_json(g.decode_verdict);
  j["tokens_digest"] = g.tokens_digest ? ojson(fmt::format("{:016x}", g.tokens_digest)) : ojson(nullptr);
  return j;
}

// A split run's rank: its MPI share and clock (null for an instance of its own).
ojson rank_json(const InstanceFigures& g) {
  return {{"comm_share", g.comm_share}, {"compute_share", g.compute_share}, {"comm_bytes_per_step", g.comm_bytes_per_step},
          {"clock_offset_us", g.clock_offset_us}, {"clock_round_trip_us", g.clock_round_trip_us}};
}

ojson scenario_json(const ScenarioFigures& s, double window_ms) {
  ojson j;
  j["name"] = s.name;
  j["kind"] = s.kind;
  j["n_instances"] = s.n_instances;
  j["n_requests"] = s.n_requests;
  j["completed"] = s.completed;
  j["failures"] = s.failures;
  j["seconds"] = s.seconds;
  j["overlap"] = {{"seconds", opt(s.overlap_s)}, {"fraction", opt(s.overlap_fraction)}};
  ojson a;
  a["bytes"] = s.bytes;
  a["avg_gbs"] = s.avg_gbs;
  a["peak_gbs"] = s.device.peak_gbs;
  a["p50_gbs"] = s.device.p50_gbs;
  a["p95_gbs"] = s.device.p95_gbs;
  a["window_ms"] = window_ms;
  a["prefill_gbs"] = s.prefill_gbs;
  a["decode_gbs"] = s.decode_gbs;
  a["prefill_gflops"] = s.prefill_gflops;
  a["decode_gflops"] = s.decode_gflops;
  a["tokens_per_s"] = s.tokens_per_s;
  a["ttft_ms"] = s.ttft_ms;
  a["ttft_max_ms"] = s.ttft_max_ms;
  a["tpot_p50_ms"] = s.tpot_p50_ms;
  a["tpot_p99_ms"] = s.tpot_p99_ms;
  a["memory_bytes"] = s.memory_bytes;
  a["resident_bytes"] = bytes_or_null(s.resident_bytes);
  a["resident_how"] = s.resident_how.empty() ? ojson(nullptr) : ojson(s.resident_how);
  a["prefill_verdict"] = verdict_json(s.prefill_verdict);
  a["decode_verdict"] = verdict_json(s.decode_verdict);
  j["aggregate"] = a;
  j["instances"] = ojson::array();
  for (const InstanceFigures& g : s.instances) {
    j["instances"].push_back(instance_json(g));
    if (!s.split.empty()) j["instances"].back()["split"] = rank_json(g);
  }
  j["split"] = s.split.empty() ? ojson(nullptr)
                               : ojson{{"kind", s.split}, {"ranks", s.n_instances}, {"micro_batches", s.micro_batches},
                                       {"bubble", s.bubble}, {"comm_share", s.comm_share}};
  j["series"] = {{"t0_ns", s.t0_ns}, {"window_ms", window_ms}, {"instances_gbs", s.instance_gbs}, {"total_gbs", s.device_gbs}};
  return j;
}

}  // namespace

nlohmann::ordered_json render_json(const CompareReport& r) {
  ojson j;
  j["schema_version"] = kCompareSchemaVersion;
  j["tool"] = r.predicted ? "bwscope plan" : "bwscope compare";
  if (r.predicted) {
    j["predicted"] = true;
    j["plan"] = r.plan;
  }
  j["incomplete"] = r.incomplete;
  j["failures"] = r.failures;
  j["config"] = r.config;
  j["device"] = {{"kind", "cpu"}, {"cpu_model", r.cpu_model}, {"cpus", r.cpus}, {"memory_bytes", r.memory_bytes}};
  const ProbeSummary& p = r.probe;
  j["probe"] = {{"source", p.source},
                {"attainable_read_gbs", positive_or_null(p.attainable_read_gbs)},
                {"bracket_before_gbs", opt(p.before_gbs)},
                {"bracket_after_gbs", opt(p.after_gbs)},
                {"drift_pct", opt(p.drift_pct())},
                {"read_gbs_by_threads", p.read_by_threads},
                {"instance_threads", p.instance_threads},
                {"instance_read_gbs", positive_or_null(p.read_for(p.instance_threads))},
                {"instance_bracket_before_gbs", opt(p.instance_before_gbs)},
                {"instance_bracket_after_gbs", opt(p.instance_after_gbs)},
                {"compute_roof_gflops", positive_or_null(p.compute_roof_gflops)},
                {"instance_compute_gflops", positive_or_null(p.compute_for(p.instance_threads))},
                {"datasheet_gbs", opt(p.datasheet_gbs)},
                {"threshold", r.threshold}};
  ojson w = {{"mode", r.weights.mode}, {"isa", r.weights.isa}, {"files", ojson::array()}};
  for (const WeightsSummary::File& f : r.weights.files)
    w["files"].push_back({{"model", f.model_path}, {"bytes", f.bytes}, {"interleaved_bytes", f.interleaved_bytes}, {"seconds", f.seconds}});
  j["weights"] = w;
  j["scenarios"] = ojson::array();
  for (const ScenarioFigures& s : r.scenarios) j["scenarios"].push_back(scenario_json(s, r.window_ms));
  j["ratios"] = ojson::array();
  for (const Ratio& q : r.ratios)
    j["ratios"].push_back({{"scenario", q.scenario}, {"baseline", q.baseline}, {"avg_gbs_pct", q.avg_gbs_pct},
                           {"peak_gbs_pct", q.peak_gbs_pct}, {"prefill_gbs_pct", q.prefill_gbs_pct},
                           {"decode_gbs_pct", q.decode_gbs_pct}, {"ttft_pct", q.ttft_pct}, {"tpot_p50_pct", q.tpot_p50_pct},
                           {"tpot_p99_pct", q.tpot_p99_pct}, {"throughput_x", q.throughput_x},
                           {"per_request_throughput_x", q.per_request_throughput_x}});
  j["conclusion"] = r.conclusion;
  j["notes"] = r.notes;
  return j;
}

}  // namespace bwscope::report
