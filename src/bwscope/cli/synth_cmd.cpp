// bwscope synth: write a synthetic Llama model (a preset's exact shapes, random weights).
#include <filesystem>
#include <memory>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/cli/commands.h"
#include "bwscope/engine/generate.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/synth.h"
#include "bwscope/model/weight_plan.h"

namespace bwscope::cli {

void add_synth(CLI::App& app) {
  struct Options {
    std::string preset = "llama-3.2-1b", type = "bf16", out, tokenizer = "auto", format = "gguf";
    uint64_t seed = 1;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("synth", "Write a synthetic Llama model (exact preset shapes, seeded random weights) as GGUF");
  sub->add_option("--preset", o->preset, "llama-3.2-1b, llama-3.2-3b or tiny")->capture_default_str();
  sub->add_option("--type", o->type, "weight type of the 2-D tensors: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, or llama.cpp's "
                  "q4_k_m / q5_k_m mix")->capture_default_str();
  sub->add_option("--out,-o", o->out, "output .gguf file (a directory for --format safetensors)")->required();
  sub->add_option("--format", o->format, "gguf, or safetensors: a Hugging Face checkpoint directory (config.json, "
                  "model.safetensors, tokenizer.json) with the same weights")->capture_default_str()->check(CLI::IsMember({"gguf", "safetensors"}));
  sub->add_option("--seed", o->seed, "random seed")->capture_default_str();
  sub->add_option("--tokenizer", o->tokenizer,
                  "tokenizer.json to embed; 'auto' uses the Llama 3 tokenizer fetched by the setup script if present, "
                  "'none' a byte-level stand-in")->capture_default_str();
  sub->add_option("--threads,-t", o->threads, "threads used to draw weights (0: all)");
  sub->callback([o] {
    SynthOptions s;
    s.config = preset(o->preset);
    const auto plan = parse_weight_plan(o->type);
    if (!plan) fail("--type {}: unknown type (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m)", o->type);
    s.type = plan->base;
    s.k_mix = plan->k_mix;
    s.seed = o->seed;
    s.threads = o->threads;
    if (o->tokenizer == "auto") s.tokenizer_json = default_tokenizer_json();
    else if (o->tokenizer != "none") s.tokenizer_json = o->tokenizer;
    if (s.config.n_vocab < 128256 && o->tokenizer == "auto") s.tokenizer_json.clear();  // tiny: real vocab does not fit
    const double t0 = monotonic_seconds();
    if (o->format == "safetensors") write_synthetic_hf(s, o->out);
    else write_synthetic_gguf(s, o->out);
    const double seconds = monotonic_seconds() - t0;
    const std::string weights = o->format == "safetensors" ? o->out + "/model.safetensors" : o->out;
    fmt::print("wrote {} ({}, {}, {:.2f} GB, {} parameters, tokenizer: {}) in {:.1f} s\n", o->out, o->preset,
               plan->name, double(std::filesystem::file_size(weights)) / 1e9, s.config.n_params(),
               s.tokenizer_json.empty() ? "byte-level stand-in" : s.tokenizer_json, seconds);
  });
}

}  // namespace bwscope::cli
