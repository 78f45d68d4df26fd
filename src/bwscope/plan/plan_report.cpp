// plan's prediction in compare's report shape (report::CompareReport, marked predicted).
#include <algorithm>

#include <fmt/format.h>

#include "bwscope/plan/roofline.h"

namespace bwscope::plan {
namespace {

report::InstanceFigures instance_figures(const std::string& name, const Workload& w, const InstancePrediction& e, int threads) {
  report::InstanceFigures g;
  g.name = name;
  g.model_path = w.model.name;
  g.weight_type = w.model.weight_type;
  g.threads = threads;
  g.batch = w.batch;
  g.n_prompt = w.n_prompt;
  g.n_gen = w.n_gen;
  g.steps_done = 1 + w.n_gen;
  g.completed = true;
  g.ttft_ms = e.ttft_ms;
  g.tpot_p50_ms = g.tpot_p99_ms = e.tpot_ms;
  g.decode_tokens_per_s = e.tokens_per_s;
  g.seconds = e.seconds;
  g.prefill_end_s = e.prefill_s;
  g.weight_bytes_read = e.prefill.weight_bytes + double(w.n_gen) * e.decode.weight_bytes;
  g.kv_read_bytes = e.prefill.kv_read_bytes + double(w.n_gen) * e.decode.kv_read_bytes;
  g.kv_write_bytes = e.prefill.kv_write_bytes + double(w.n_gen) * e.decode.kv_write_bytes;
  g.act_bytes = e.prefill.act_bytes + double(w.n_gen) * e.decode.act_bytes;
  g.bytes = g.weight_bytes_read + g.kv_read_bytes + g.kv_write_bytes;
  g.avg_gbs = e.avg_gbs;
  g.prefill_gbs = e.prefill_gbs;
  g.decode_gbs = e.decode_gbs;
  g.peak_gbs = std::max(e.prefill_gbs, e.decode_gbs);
  g.decode_weight_bytes_per_step = e.decode.weight_bytes;
  g.prefill_gflops = e.prefill_gflops;
  g.decode_gflops = e.decode_gflops;
  g.weight_bytes = w.model.resident_bytes();
  g.kv_bytes = w.model.kv_bytes_per_position() * uint64_t(w.batch) * uint64_t(w.n_prompt + w.n_gen);
  g.weights = w.shared_weights ? "shared" : "private";
  return g;
}

report::ScenarioFigures scenario_figures(const std::string& name, const std::string& kind, const Workload& w, const ScenarioPrediction& p,
                                         int threads) {
  report::ScenarioFigures s;
  s.name = name;
  s.kind = kind;
  s.n_instances = p.instances;
  s.n_requests = p.instances * int(w.batch);
  s.completed = true;
  s.seconds = p.each.seconds;
  s.device.peak_gbs = p.peak_gbs;
  s.device.avg_gbs = p.avg_gbs;
  s.device.seconds = p.each.seconds;
  s.avg_gbs = p.avg_gbs;
  s.prefill_gbs = p.prefill_gbs;
  s.decode_gbs = p.decode_gbs;
  s.prefill_gflops = p.each.prefill_gflops * p.instances;
  s.decode_gflops = p.each.decode_gflops * p.instances;
  s.tokens_per_s = p.tokens_per_s;
  s.ttft_ms = s.ttft_max_ms = p.each.ttft_ms;
  s.tpot_p50_ms = s.tpot_p99_ms = p.each.tpot_ms;
  s.memory_bytes = p.memory_bytes;
  for (int i = 0; i < p.instances; ++i) {
    s.instances.push_back(instance_figures(i < 26 ? std::string(1, char('A' + i)) : fmt::format("I{}", i), w, p.each, threads));
    s.bytes += s.instances.back().bytes;
  }
  if (!p.fits) s.failures.push_back(fmt::format("does not fit: {:.1f} GB needed", double(p.memory_bytes) / 1e9));
  return s;
}

}  // namespace

report::CompareReport plan_report(const Device& d, const Workload& w, double efficiency, const std::string& efficiency_source) {
  report::CompareReport r;
  r.predicted = true;
  const int n = std::max(1, w.instances);
  // As compare: every instance has the same threads in every scenario (CPUs / N by default), so
  // the single instance is what each of the N does alone on its share of the machine.
  const int threads = d.cpus > 0 ? (w.threads > 0 ? w.threads : std::max(1, d.cpus / n)) : 0;
  Workload all = w;
  all.threads = threads;
  Workload one = all;
  one.instances = 1;
  const ScenarioPrediction alone = predict(d, one, efficiency);
  r.scenarios.push_back(scenario_figures("1 instance", "single", one, alone, threads));
  const ScenarioPrediction many = predict(d, all, efficiency);
  if (n > 1) r.scenarios.push_back(scenario_figures(fmt::format("{} × parallel", n), "parallel", all, many, threads));

  r.cpu_model = d.name;
  r.cpus = d.cpus;
  r.memory_bytes = uint64_t(d.memory_gb * 1e9);
  r.threshold = 0.8;
  report::ProbeSummary& p = r.probe;
  p.source = d.name;
  p.attainable_read_gbs = d.bandwidth_gbs;
  if (d.cpus > 0) {
    p.cpus = d.cpus;
    p.read_by_threads = d.read_by_threads;
    p.instance_threads = threads;
  } else {
    p.cpus = p.instance_threads = 1;  // one instance may use the whole device
  }
  p.compute_roof_gflops = d.compute_gflops(w.model.weight_type);
  if (d.datasheet_gbs > 0) p.datasheet_gbs = d.datasheet_gbs;
  report::finish_report(r);

  const StepCost& dec = alone.each.decode;
  const double ctx = double(w.n_prompt) + double(w.n_gen + 1) / 2.0;
  r.notes.push_back(fmt::format("model: {} — {:.3f} GB of weights read per decode step (plus {} embedding row(s)), KV {:.1f} KB per "
                                "position; a decode step at the mean context of {:.0f} moves {:.3f} GB (weights {:.3f}, KV read {:.4f}, KV "
                                "write {:.5f}; activations {:.4f} GB apart) and computes {:.2f} GFLOP",
                                w.model.name, double(w.model.matrix_bytes() + w.model.norm_bytes) / 1e9, w.batch,
                                double(w.model.kv_bytes_per_position()) / 1e3, ctx, dec.bytes() / 1e9, dec.weight_bytes / 1e9,
                                dec.kv_read_bytes / 1e9, dec.kv_write_bytes / 1e9, dec.act_bytes / 1e9, dec.flops() / 1e9));
  // What a token moves as the context grows: the KV cache's share takes over at long contexts.
  std::vector<int64_t> contexts = {1, w.n_prompt, w.n_prompt + w.n_gen};
  for (int64_t c = 4096; c < w.model.config.n_ctx_train; c *= 4) contexts.push_back(c);
  if (w.model.config.n_ctx_train > 0) contexts.push_back(w.model.config.n_ctx_train);
  std::sort(contexts.begin(), contexts.end());
  contexts.erase(std::unique(contexts.begin(), contexts.end()), contexts.end());
  nlohmann::ordered_json by_context = nlohmann::ordered_json::array();
  std::string by_context_text;
  for (int64_t c : contexts) {
    const StepCost t = decode_step(w.model, 1, double(c));
    by_context.push_back({{"context", c}, {"bytes", t.bytes()}, {"kv_bytes", t.kv_read_bytes + t.kv_write_bytes}, {"flops", t.flops()}});
    by_context_text += fmt::format("{}{}: {:.3f} GB ({:.0f} % KV)", by_context_text.empty() ? "" : ", ", c, t.bytes() / 1e9,
                                   100 * (t.kv_read_bytes + t.kv_write_bytes) / t.bytes());
  }
  r.notes.push_back("bytes per token by context length: " + by_context_text);
  r.notes.push_back(fmt::format("device: {}; {:.1f} GB/s{}, {:.0f} GFLOP/s for {} weights, {:.0f} GB; figures from {}{}", d.name,
                                d.bandwidth_gbs, d.cpus > 0 ? " (measured read, every CPU)" : " (datasheet)",
                                d.compute_gflops(w.model.weight_type), w.model.weight_type, d.memory_gb, d.source,
                                d.note.empty() ? "" : " (" + d.note + ")"));
  if (const double g = d.decode_gflops(w.model.weight_type, w.batch); g > 0)
    r.notes.push_back(fmt::format("decode compute: the {} decode kernel runs {:.0f} GFLOP/s per thread at batch {} with the weights in cache "
                                  "(measured now), the decode step's compute roof",
                                  w.model.weight_type, g, w.batch));
  r.notes.push_back(fmt::format("model: one instance's step takes max(T_mem, T_compute) + {:.2f} × the shorter (T_mem = bytes / (its "
                                "cores' bandwidth × efficiency), T_compute = FLOPs / (compute × efficiency)), and N steps together at least "
                                "N × bytes / (device bandwidth × efficiency); efficiency {:.2f}, {}",
                                kSerialFraction, efficiency, efficiency_source));
  if (n > 1)
    r.notes.push_back(fmt::format("{} instances: each reads up to {:.1f} GB/s alone and computes {:.0f} GFLOP/s, and together they move at "
                                  "most the device's {:.1f} GB/s; weights {} ({:.2f} GB resident in all, KV and activations included)",
                                  n, many.each.roofs.cores_gbs, many.each.roofs.compute_gflops, many.each.roofs.device_gbs,
                                  w.shared_weights ? "shared (resident once)" : "private (one copy each)", double(many.memory_bytes) / 1e9));
  r.plan = {{"device", {{"id", d.id}, {"name", d.name}, {"kind", d.kind}, {"bandwidth_gbs", d.bandwidth_gbs},
                        {"datasheet_gbs", d.datasheet_gbs > 0 ? nlohmann::ordered_json(d.datasheet_gbs) : nlohmann::ordered_json(nullptr)},
                        {"memory_gb", d.memory_gb}, {"compute_gflops", d.compute_gflops(w.model.weight_type)}, {"source", d.source}}},
            {"model", {{"name", w.model.name}, {"weight_type", w.model.weight_type}, {"weight_bytes", w.model.resident_bytes()},
                       {"kv_bytes_per_position", w.model.kv_bytes_per_position()}, {"matmul_params", w.model.matmul_params()}}},
            {"decode_step", {{"context", ctx}, {"weight_bytes", dec.weight_bytes}, {"kv_read_bytes", dec.kv_read_bytes},
                             {"kv_write_bytes", dec.kv_write_bytes}, {"act_bytes", dec.act_bytes}, {"flops", dec.flops()},
                             {"bytes_per_token", dec.bytes() / double(w.batch)}, {"bound", alone.each.decode_bound}}},
            {"per_token_by_context", by_context},
            {"prefill", {{"bytes", alone.each.prefill.bytes()}, {"flops", alone.each.prefill.flops()}, {"bound", alone.each.prefill_bound}}},
            {"efficiency", efficiency},
            {"efficiency_source", efficiency_source},
            {"serial_fraction", kSerialFraction},
            {"fits", many.fits}};
  r.config = {{"device", d.id}, {"model", w.model.name}, {"type", w.model.weight_type}, {"instances", n}, {"batch", w.batch},
              {"n_prompt", w.n_prompt}, {"n_gen", w.n_gen}, {"threads_per_instance", threads}, {"weights", w.shared_weights ? "shared" : "private"},
              {"efficiency", efficiency}};
  return r;
}

}  // namespace bwscope::plan
