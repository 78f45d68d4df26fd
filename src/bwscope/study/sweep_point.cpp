// The sweep's real point runner: one compare scenario (alone, or N under a schedule) on the
// synthetic model of the point's type, judged against read probes taken right before it.
#include <algorithm>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/model/weight_plan.h"
#include "bwscope/study/sweep.h"

namespace bwscope::study {

PointRuns::PointRuns(CompareSettings base, int max_instances, ProgressLine& display, volatile std::sig_atomic_t* stop)
    : base_(std::move(base)), display_(display), stop_(stop), max_instances_(max_instances), n_cpus_(int(allowed_cpus().size())) {}

report::PointResult PointRuns::run(const report::SweepPoint& point, bool& interrupted) {
  CompareSettings s = base_;
  if (base_.models.empty()) s.type = point.type;  // a model file has its own type
  s.batch = point.batch;
  s.n_prompt = point.n_prompt;
  s.instances = point.instances;
  s.threads = point.threads;
  s.schedule = point.schedule;
  if (base_.models.empty()) s.models.clear();
  resolve_models(s, display_);

  ColocateOptions co = colocate_options(s);
  co.stop = stop_;
  const int threads = co.cores == CoreMode::Partition ? sweep_threads(point, max_instances_, n_cpus_) : point.threads > 0 ? point.threads : n_cpus_;
  Scenario scenario;
  scenario.specs = instance_specs(s, point.instances, threads);
  scenario.options = co;
  if (point.instances == 1) {
    scenario.name = "1 instance";
    scenario.kind = "single";
  } else {
    scenario.name = fmt::format("{} × {}", point.instances, point.schedule);
    scenario.kind = point.schedule;
    scenario.options.schedule = parse_schedule("--schedules", point.schedule);
  }
  check_memory({scenario});
  // One prepared copy per model: the points of a type run together (expand_grid's order).
  const std::string model = scenario.specs[0].model_path;
  if (prepared_type_ != model) {
    prepared_.reset();  // the old copy goes before the new one is written
    std::vector<InstanceSpec> one = {scenario.specs[0]};
    prepared_ = prepare_for(one, co, display_);
    prepared_type_ = model;
  }
  scenario.options.prepared = prepared_;

  report::CompareReport rep;
  rep.threshold = s.threshold;
  rep.window_ms = s.window_ms;
  const meter::DeviceInfo dev = meter::device_info();
  rep.cpus = dev.cpus;
  Roofs roofs(s, threads, display_);  // quick probes right before the point (and after it)
  // The decode kernel's own ceiling at this batch, weights in cache (plan's decode compute roof).
  double decode_compute = 0;
  // A mix (q4_k_m) computes mostly in its base type (q4_k).
  const std::optional<WeightPlan> plan = parse_weight_plan(point.type);
  if (plan && point.batch <= 64) {
    try {
      decode_compute = meter::decode_compute_gflops(plan->base, point.batch);
    } catch (const Error&) {
    }
  }
  const int64_t width_ns = std::max<int64_t>(1, int64_t(s.window_ms * 1e6));
  rep.scenarios.push_back(run_scenario(scenario, fmt::format("{} {}", point.key(), scenario.name), width_ns, display_, interrupted));
  const report::ScenarioFigures& f = rep.scenarios[0];
  if (!interrupted) roofs.bracket_after();
  rep.probe = roofs.summary(plan ? std::string(dtype_name(plan->base)) : point.type);
  report::finish_report(rep);

  report::PointResult r;
  r.point = point;
  r.scenario = scenario.name;
  r.model_path = model;
  r.threads = threads;
  r.n_gen = s.n_gen;
  r.ok = f.completed;
  if (!f.completed) {
    std::string why;
    for (const std::string& e : f.failures) why += (why.empty() ? "" : "; ") + e;
    r.error = why.empty() ? "incomplete" : why;
  }
  r.seconds = f.seconds;
  r.decode_gbs = f.decode_gbs;
  r.prefill_gbs = f.prefill_gbs;
  r.avg_gbs = f.avg_gbs;
  r.peak_gbs = f.device.peak_gbs;
  r.tokens_per_s = f.tokens_per_s;
  r.tpot_p50_ms = f.tpot_p50_ms;
  r.tpot_p99_ms = f.tpot_p99_ms;
  r.ttft_ms = f.ttft_ms;
  r.decode_gflops = f.decode_gflops;
  r.prefill_gflops = f.prefill_gflops;
  r.resident_bytes = f.resident_bytes;
  double gbs = 0, bpt = 0;
  int n = 0;
  for (const report::InstanceFigures& g : f.instances) {
    if (g.decode_tokens_per_s <= 0) continue;
    gbs += g.decode_gbs;
    bpt += g.decode_gbs * 1e9 / g.decode_tokens_per_s;
    r.weight_bytes = g.weight_bytes;
    ++n;
  }
  if (n > 0) r.instance_decode_gbs = gbs / n, r.decode_bytes_per_token = bpt / n;
  r.device_read_gbs = rep.probe.attainable_read_gbs;
  if (auto d = rep.probe.drift_pct()) r.device_drift_pct = *d;
  r.cores_read_gbs = rep.probe.read_for(threads);
  r.compute_gflops = rep.probe.compute_roof_gflops;
  r.decode_compute_gflops = decode_compute;
  if (f.decode_verdict) {
    r.verdict = report::verdict_short(f.decode_verdict);
    r.mbu_device = f.decode_verdict->mbu_device;
    r.mbu_cores = f.decode_verdict->mbu_cores;
  }
  return r;
}

}  // namespace bwscope::study
