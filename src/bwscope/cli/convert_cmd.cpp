// bwscope convert: a Hugging Face Llama checkpoint (safetensors + config.json) -> one GGUF file,
// laid out as llama.cpp's converter writes it (names, metadata, Q/K row permutation).
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/core.h>

#include "bwscope/cli/commands.h"
#include "bwscope/engine/generate.h"
#include "bwscope/model/hf_checkpoint.h"

namespace bwscope::cli {

void add_convert(CLI::App& app) {
  struct Options {
    std::string input, out, type;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("convert", "Convert a Hugging Face Llama checkpoint (directory, .safetensors or index) to GGUF");
  sub->add_option("input", o->input, "checkpoint directory (config.json, *.safetensors, tokenizer.json)")->required();
  sub->add_option("out", o->out, "output .gguf file")->required();
  sub->add_option("--type", o->type, "weight type to write: f32, f16, bf16, q8_0, q4_0 (default: as stored)");
  sub->callback([o] {
    std::optional<DType> type;
    if (!o->type.empty()) type = parse_type_flag("--type", o->type);
    const double t0 = monotonic_seconds();
    convert_hf_to_gguf(o->input, o->out, type);
    fmt::print("wrote {} ({:.2f} GB) in {:.1f} s\n", o->out, double(std::filesystem::file_size(o->out)) / 1e9, monotonic_seconds() - t0);
  });
}

}  // namespace bwscope::cli
