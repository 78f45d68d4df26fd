// bwscope bench: llama-bench-like prefill and decode tokens/s of one instance, and the decode's
// effective memory bandwidth (bytes a step must move × steps per second).
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/cli/commands.h"
#include "bwscope/engine/bench.h"
#include "bwscope/model/llama_model.h"

namespace bwscope::cli {
namespace {

nlohmann::ordered_json samples_json(const Samples& s) {
  return {{"tokens_per_s", s.median()}, {"mean", s.mean()}, {"stddev", s.stddev()},
          {"min", s.min()}, {"max", s.max()}, {"samples", s.values}};
}

}  // namespace

void add_bench(CLI::App& app) {
  struct Options {
    std::string model, kv_type = "f16", isa;
    int64_t n_prompt = 512, n_gen = 128, batch = 1, reps = 3;
    int threads = default_threads();
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("bench", "Measure prefill and decode tokens/s of one instance, and the decode's bandwidth");
  sub->add_option("model", o->model, "GGUF model (default: the synthetic Llama 3.2 1B Q8_0)");
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (prefill)")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens (decode)")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("-b,--batch", o->batch, "sequences decoded together (each step one token per sequence)")->capture_default_str()->check(CLI::Range(1, 256));
  sub->add_option("-t,--threads", o->threads, "threads")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("-r,--reps", o->reps, "repetitions (after one warm-up)")->capture_default_str()->check(CLI::Range(1, 100));
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--isa", o->isa, "kernel table: scalar, avx2 or avx512 (default: best for this CPU)");
  sub->add_flag("--json", o->json, "print one JSON object");
  sub->callback([o] {
    if (o->n_prompt == 0 && o->n_gen == 0) fail("nothing to measure: -p and -n are both 0");
    const std::string path = o->model.empty() ? default_model_path() : o->model;
    LlamaModel model = load_llama(path);
    EngineOptions eo;
    eo.threads = o->threads;
    eo.n_seq = o->batch;
    eo.n_ctx = std::max<int64_t>({o->n_prompt, o->n_gen, 1});
    eo.max_batch = std::clamp<int64_t>(std::max(o->n_prompt, o->batch), 1, 512);
    eo.kv_type = parse_type_flag("--kv-type", o->kv_type);
    if (!o->isa.empty()) {
      eo.ops = kernels::ops_by_name(o->isa);
      if (!eo.ops) fail("--isa {}: not available on this CPU (scalar, avx2, avx512)", o->isa);
    }
    Engine engine(model, eo);
    BenchOptions bo;
    bo.n_prompt = o->n_prompt;
    bo.n_gen = o->n_gen;
    bo.reps = o->reps;
    BenchResult r = run_bench(engine, bo);

    if (o->json) {
      nlohmann::ordered_json j;
      j["schema_version"] = 1;
      j["model"] = path;
      j["config"] = {{"threads", o->threads}, {"n_prompt", o->n_prompt}, {"n_gen", o->n_gen}, {"batch", o->batch},
                     {"reps", o->reps}, {"kv_type", o->kv_type}, {"isa", engine.ops().isa}};
      if (o->n_prompt > 0) j["prefill"] = samples_json(r.prefill_tokens_per_s);
      if (o->n_gen > 0) {
        auto d = samples_json(r.decode_tokens_per_s);
        d["bytes_per_token"] = r.decode_bytes_per_token();
        d["weight_bytes_per_step"] = r.traffic.weight_bytes_per_step;
        d["kv_read_bytes_per_step"] = r.traffic.kv_read_bytes_per_step;
        d["kv_write_bytes_per_step"] = r.traffic.kv_write_bytes_per_step;
        d["avg_bandwidth_gbs"] = r.decode_bandwidth_gbs();
        j["decode"] = d;
      }
      fmt::print("{}\n", j.dump(2));
      return;
    }
    fmt::print("{}: {} threads, {} kernels, batch {}, {} reps\n", path, o->threads, engine.ops().isa, o->batch, o->reps);
    if (o->n_prompt > 0)
      fmt::print("  pp{:<5} {:9.2f} ± {:6.2f} tokens/s  (median {:.2f})\n", o->n_prompt, r.prefill_tokens_per_s.mean(),
                 r.prefill_tokens_per_s.stddev(), r.prefill_tokens_per_s.median());
    if (o->n_gen > 0)
      fmt::print("  tg{:<5} {:9.2f} ± {:6.2f} tokens/s  (median {:.2f}); {:.1f} MB per token → {:.2f} GB/s\n", o->n_gen,
                 r.decode_tokens_per_s.mean(), r.decode_tokens_per_s.stddev(), r.decode_tokens_per_s.median(),
                 r.decode_bytes_per_token() / 1e6, r.decode_bandwidth_gbs());
  });
}

}  // namespace bwscope::cli
