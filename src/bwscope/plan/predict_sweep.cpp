#include "bwscope/plan/predict_sweep.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "bwscope/base/dtype.h"

namespace bwscope::plan {
namespace {

// The device a point ran on, as its own quick probes saw it.
Device point_device(const report::SweepReport& r, const report::PointResult& x) {
  Device d;
  d.id = "this";
  d.kind = "cpu";
  d.cpus = std::max(1, r.cpus);
  d.bandwidth_gbs = x.device_read_gbs;
  d.read_by_threads.assign(size_t(std::max(1, x.threads)), x.cores_read_gbs);
  d.compute_gflops_by_type[x.point.type] = x.compute_gflops;
  if (x.decode_compute_gflops > 0) d.decode_gflops_per_thread[fmt::format("{} b{}", x.point.type, x.point.batch)] = x.decode_compute_gflops;
  return d;
}

Workload point_workload(const report::SweepReport& r, const report::PointResult& x) {
  Workload w;
  const std::string kv = r.settings.value("kv_type", std::string("f16"));
  const DType kv_type = parse_dtype(kv).value_or(DType::F16);
  const auto models = r.settings.value("models", std::vector<std::string>{});
  w.model = models.empty() ? preset_shape(r.settings.value("preset", std::string("llama-3.2-1b")), x.point.type, kv_type)
                           : gguf_shape(models.front(), kv_type);
  w.batch = x.point.batch;
  w.n_prompt = x.point.n_prompt;
  w.n_gen = x.n_gen;
  w.instances = x.point.instances;
  w.threads = x.threads;
  w.shared_weights = r.settings.value("weights", std::string("shared")) != "private";
  return w;
}

// What the model leaves out that best explains a point off by more than 10 %.
std::string why(const report::PointResult& x, const ScenarioPrediction& p, double error_pct) {
  const InstancePrediction& e = p.each;
  const double kv_share = (e.decode.kv_read_bytes + e.decode.kv_write_bytes) / std::max(1.0, e.decode.bytes());
  const double decode_compute = e.roofs.decode_compute_gflops > 0 ? e.roofs.decode_compute_gflops : e.roofs.compute_gflops;
  const double t_mem = e.decode.bytes() / (e.roofs.cores_gbs * 1e9), t_cmp = e.decode.flops() / (decode_compute * 1e9);
  if (kv_share > 0.15)
    return fmt::format("KV traffic is {:.0f} % of a step's bytes at this prompt length; attention reads it in small strided rows that "
                       "stream below the read probe's rate",
                       100 * kv_share);
  if (x.point.instances > 1 && x.device_read_gbs > 0 && x.cores_read_gbs * x.point.instances > 1.1 * x.device_read_gbs && error_pct < 0)
    return fmt::format("the instances contend: together they read {:.0f} % of the device's {:.1f} GB/s where the model lets them reach "
                       "{:.0f} % (one instance's arithmetic overlapping the other's loads); their loads collide more than that",
                       100 * x.decode_gbs / x.device_read_gbs, x.device_read_gbs, 100 * p.decode_gbs / x.device_read_gbs);
  if (t_cmp > 0.3 * t_mem)
    return fmt::format("decode at batch {} is {:.0f} % arithmetic by the model's reckoning, and how far the kernel's arithmetic overlaps "
                       "its loads (the model's one serial fraction) varies by type and batch",
                       x.point.batch, 100 * t_cmp / (t_mem + t_cmp));
  if (x.weight_bytes > 0 && x.weight_bytes < 64ull << 20)
    return "the weights are small enough for the caches to serve part of each step, which the read probe (a buffer far past the caches) "
           "does not see";
  if (std::abs(x.device_drift_pct) > 10)
    return fmt::format("the host's bandwidth moved {:+.0f} % between the quick probes before and after the point, and the model is "
                       "judged against the better of the two",
                       x.device_drift_pct);
  return fmt::format("nothing the sweep recorded explains it: the roofs held within {:.0f} % across the point; the {} decode kernel reads "
                     "{} the fraction of the roof the model's one efficiency assumes",
                     std::abs(x.device_drift_pct), x.point.type, error_pct > 0 ? "above" : "below");
}

}  // namespace

report::PointPrediction predict_point(const report::SweepReport& r, const report::PointResult& x, double efficiency) {
  const ScenarioPrediction p = predict(point_device(r, x), point_workload(r, x), efficiency);
  report::PointPrediction out;
  out.tokens_per_s = p.tokens_per_s;
  out.decode_gbs = p.decode_gbs;
  out.tpot_ms = p.each.tpot_ms;
  out.ttft_ms = p.each.ttft_ms;
  out.bound = p.each.decode_bound;
  out.error_pct = p.tokens_per_s > 0 ? 100 * (x.tokens_per_s / p.tokens_per_s - 1) : 0;
  if (std::abs(out.error_pct) > 10) out.why = why(x, p, out.error_pct);
  return out;
}

double fit_efficiency(const report::SweepReport& r) {
  std::vector<double> ratios;
  for (const report::PointResult& x : r.results) {
    if (!x.ok || x.tokens_per_s <= 0 || x.device_read_gbs <= 0) continue;
    const report::PointPrediction p = predict_point(r, x, 1.0);
    if (p.tokens_per_s > 0) ratios.push_back(x.tokens_per_s / p.tokens_per_s);
  }
  return report::median(std::move(ratios));
}

void predict_sweep(report::SweepReport& r, std::optional<double> efficiency) {
  std::string source = "set with --efficiency";
  r.efficiency = efficiency ? *efficiency : calibrated_efficiency(&source);
  r.efficiency_source = source;
  r.predictions.clear();
  for (const report::PointResult& x : r.results) {
    if (!x.ok || x.device_read_gbs <= 0) {
      r.predictions.push_back(std::nullopt);
      continue;
    }
    r.predictions.push_back(predict_point(r, x, r.efficiency));
  }
}

}  // namespace bwscope::plan
