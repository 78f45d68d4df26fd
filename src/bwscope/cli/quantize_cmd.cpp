// bwscope quantize: convert a model's weights to another type (Q8_0, Q4_0, K-quants and the
// Q4_K_M / Q5_K_M mixes, F16, BF16, F32).
#include <memory>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/cli/commands.h"
#include "bwscope/engine/generate.h"
#include "bwscope/model/quantize.h"

namespace bwscope::cli {

void add_quantize(CLI::App& app) {
  struct Options {
    std::string in, out, type;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("quantize", "Convert a GGUF model's 2-D weights to another type");
  sub->add_option("in", o->in, "input GGUF model")->required();
  sub->add_option("out", o->out, "output GGUF model")->required();
  sub->add_option("--type", o->type, "target type: q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m (llama.cpp's mixes), f16, bf16, f32")->required();
  sub->add_option("--threads,-t", o->threads, "threads (0: all)");
  sub->callback([o] {
    const double t0 = monotonic_seconds();
    const auto plan = parse_weight_plan(o->type);
    if (!plan) fail("--type {}: unknown type (q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, f16, bf16, f32)", o->type);
    QuantizeStats s = quantize_model(o->in, o->out, *plan, o->threads);
    fmt::print("wrote {}: {} tensors converted to {}, {} copied; {:.3f} GB → {:.3f} GB in {:.1f} s\n", o->out,
               s.tensors_converted, o->type, s.tensors_copied, double(s.bytes_in) / 1e9, double(s.bytes_out) / 1e9,
               monotonic_seconds() - t0);
  });
}

}  // namespace bwscope::cli
