// bwscope plan: the roofline model's prediction for a device (this machine's probe, a
// datasheet preset, or a JSON file), a model and a workload — compare's table and JSON,
// marked predicted. --seed checks the original study's claims.
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/cli/commands.h"
#include "bwscope/plan/roofline.h"
#include "bwscope/plan/seed.h"

namespace bwscope::cli {
namespace {

struct Options {
  std::string device = "this", model, preset = "llama-3.2-1b", type, kv_type = "f16", weights = "shared", json_out;
  int instances = 2, threads = 0;
  int64_t batch = 1, n_prompt = 128, n_gen = 64;
  std::optional<double> efficiency;
  bool seed = false, json = false, csv = false, md = false;
};

void run_plan(const Options& o) {
  if (int(o.json) + int(o.csv) + int(o.md) > 1) fail("--json, --csv and --md choose the one format printed; give one");
  std::string source = "set with --efficiency";
  const double efficiency = o.efficiency ? *o.efficiency : plan::calibrated_efficiency(&source);
  if (o.seed) {
    const plan::SeedCheck c = plan::seed_check(efficiency, o.n_gen);
    if (!o.json_out.empty()) write_file_atomic(o.json_out, plan::seed_json(c).dump(2) + "\n");
    if (o.json) fmt::print("{}\n", plan::seed_json(c).dump(2));
    else fmt::print("{}", plan::render_seed(c));
    return;
  }
  const DType kv = parse_type_flag("--kv-type", o.kv_type);
  plan::Workload w;
  if (!o.model.empty()) w.model = plan::model_shape(o.model, o.type, kv);
  else w.model = plan::preset_shape(o.preset, o.type.empty() ? "q8_0" : o.type, kv);
  w.batch = o.batch;
  w.n_prompt = o.n_prompt;
  w.n_gen = o.n_gen;
  w.instances = o.instances;
  w.threads = o.threads;
  w.shared_weights = o.weights == "shared";
  if (o.device == "this" && !std::filesystem::exists(meter::probe_cache_path("")))
    fmt::print(stderr, "bwscope: probing this device's bandwidth and compute peak once (stored in {}) ...\n", meter::probe_cache_path(""));
  plan::Device device = plan::resolve_device(o.device);
  if (device.cpus > 0) plan::measure_decode_compute(device, w.model.weight_type, w.batch);
  if (device.cpus > 0 && o.threads > 0 && int64_t(o.threads) * o.instances > device.cpus)
    fail("-t {} with -N {}: {} threads on {} CPUs would not be partitioned cores", o.threads, o.instances, o.threads * o.instances, device.cpus);
  const report::CompareReport rep = plan::plan_report(device, w, efficiency, source);
  if (!o.json_out.empty()) write_file_atomic(o.json_out, report::render_json(rep).dump(2) + "\n");
  if (o.json) fmt::print("{}\n", report::render_json(rep).dump(2));
  else if (o.csv) fmt::print("{}", report::render_csv(rep));
  else if (o.md) fmt::print("{}", report::render_markdown(rep));
  else fmt::print("{}", report::render_table(rep));
}

}  // namespace

void add_plan(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("plan", "Predict bandwidth, latency and throughput with a roofline model, for this machine or a datasheet "
                                             "device, one model alone and N side by side");
  sub->add_option("--device", o->device, "this (the cached probe), ascend-910, ascend-910b, a100-80gb, h100-sxm, h200, mi300x, ddr5-server, or a JSON file")
      ->capture_default_str();
  sub->add_option("--model,-m", o->model, "GGUF file or Hugging Face directory (default: --preset)");
  sub->add_option("--preset", o->preset, "llama-3.2-1b or llama-3.2-3b")->capture_default_str();
  sub->add_option("--type", o->type, "weight type of the preset or Hugging Face directory (f32 f16 bf16 q8_0 q4_0 q4_k_m ...; default q8_0 / the checkpoint's)");
  sub->add_option("-N,--instances", o->instances, "instances side by side")->capture_default_str()->check(whole_range(1, 1024));
  sub->add_option("-b,--batch", o->batch, "requests each instance serves at once")->capture_default_str()->check(whole_range(1, 4096));
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens per request")->capture_default_str()->check(whole_range(1, 1000000));
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens per request")->capture_default_str()->check(whole_range(1, 1000000));
  sub->add_option("-t,--threads", o->threads, "threads per instance on this machine (default: CPUs / N)")->check(whole_range(1, 4096));
  sub->add_option("--weights", o->weights, "shared (resident once) or private (a copy per instance)")->capture_default_str()
      ->check(CLI::IsMember({"shared", "private"}));
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--efficiency", o->efficiency, "fraction of the roofs the engine reaches (default: calibrated by sweep --calibrate)")
      ->check(number_range(0.05, 1.5));
  sub->add_flag("--seed", o->seed, "the original study (3B FP16, batch 1, prompt 512, 1 vs 2 models) on the Ascend 910, beside its claims");
  sub->add_flag("--json", o->json, "print JSON (compare's shape, marked predicted; docs/plan.md)");
  sub->add_flag("--csv", o->csv, "print CSV");
  sub->add_flag("--md", o->md, "print Markdown");
  sub->add_option("--json-out", o->json_out, "also write the JSON to this file")->check(output_file());
  sub->callback([o] { run_plan(*o); });
}

}  // namespace bwscope::cli
