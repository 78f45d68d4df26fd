// bwscope info: what a model file holds, and the memory N instances of it need.
#include <map>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bwscope/cli/commands.h"
#include "bwscope/engine/engine.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/tokenizer.h"

namespace bwscope::cli {
namespace {

std::string value_text(const gguf::Value& v) {
  if (v.type == gguf::Type::ARRAY) return fmt::format("[{} × {}]", v.array_size(), gguf::type_name(v.elem_type));
  if (const std::string* s = v.as_string()) return s->size() > 60 ? fmt::format("\"{}…\" ({} bytes)", s->substr(0, 60), s->size()) : "\"" + *s + "\"";
  if (v.type == gguf::Type::BOOL) return std::get<bool>(v.payload) ? "true" : "false";
  if (v.type == gguf::Type::F32 || v.type == gguf::Type::F64) return fmt::format("{:g}", *v.as_float());
  if (auto i = v.as_int()) return fmt::format("{}", *i);
  return fmt::format("{}", *v.as_uint());
}

std::string shape_text(const std::vector<uint64_t>& ne) {
  std::string s;
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? " × " : "") + std::to_string(ne[i]);
  return s;
}

}  // namespace

void add_info(CLI::App& app) {
  struct Options {
    std::string model;
    bool json = false, tensors = false;
    int64_t instances = 2, ctx = 0, batch = 512;
    std::string kv_type = "f16";
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("info", "Show a model's metadata, tensors, parameters, bytes by type and the memory N instances need");
  sub->add_option("model", o->model, "GGUF model file, or a Hugging Face checkpoint directory")->required();
  sub->add_flag("--json", o->json, "print one JSON object");
  sub->add_flag("--tensors", o->tensors, "list every tensor (text output)");
  sub->add_option("--instances,-N", o->instances, "instances to size the memory for")->capture_default_str()->check(whole_range(1, 1024));
  sub->add_option("--ctx,-c", o->ctx, "context (tokens) per instance; 0: the model's, at most 4096")->capture_default_str()->check(whole_range(0, 10000000));
  sub->add_option("--batch,-b", o->batch, "tokens per forward pass (activation buffers)")->capture_default_str()->check(whole_range(1, 65536));
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->callback([o] {
    // A GGUF file, or a Hugging Face checkpoint (no GGUF metadata or tensor table to show).
    const bool hf = is_hf_checkpoint_path(o->model);
    const auto file = hf ? nullptr : std::make_shared<const gguf::File>(gguf::File::open(o->model));
    LlamaModel m = hf ? load_llama(o->model) : load_llama(file);
    const LlamaConfig& c = m.config;
    uint64_t tensor_bytes = 0;
    std::map<std::string, uint64_t> by_type;
    if (file) {
      for (const auto& t : file->tensors()) {
        tensor_bytes += t.n_bytes;
        by_type[std::string(dtype_name(t.type))] += t.n_bytes;
      }
    } else {  // the weights as the engine holds them (norms in f32)
      uint64_t matrix_bytes = 0;
      for (const kernels::Matrix* w : m.matrices()) {
        by_type[std::string(dtype_name(w->type))] += w->n_bytes();
        matrix_bytes += w->n_bytes();
      }
      tensor_bytes = m.weight_bytes();
      by_type["f32"] += tensor_bytes - matrix_bytes;
    }
    EngineOptions eo;
    eo.n_ctx = o->ctx > 0 ? o->ctx : std::min<int64_t>(c.n_ctx_train, 4096);
    eo.max_batch = o->batch;
    eo.kv_type = parse_type_flag("--kv-type", o->kv_type);
    const EngineMemory mem = engine_memory(c, eo);
    const uint64_t n = uint64_t(o->instances);
    const uint64_t shared_total = tensor_bytes + n * mem.total(), private_total = n * (tensor_bytes + mem.total());

    // Which tokenizer the file carries and whether bwscope can turn text into its ids.
    std::string tokenizer_problem = m.tokenizer_problem;
    const bool tokenizer_usable = m.tokenizer && try_tokenizer(*m.tokenizer, &tokenizer_problem).has_value();
    const std::string tokenizer_kind = [&]() -> std::string {
      if (!file) return m.tokenizer || !m.tokenizer_problem.empty() ? "tokenizer.json" : "";
      const gguf::Value* kind = file->find("tokenizer.ggml.model");
      if (kind && kind->as_string()) return *kind->as_string();
      return file->find("tokenizer.ggml.tokens") ? "gpt2" : "";
    }();
    if (o->json) {
      nlohmann::ordered_json j;
      j["file"] = o->model;
      j["format"] = file ? "gguf" : "hf";
      j["gguf_version"] = file ? nlohmann::ordered_json(file->version()) : nlohmann::ordered_json(nullptr);
      j["alignment"] = file ? nlohmann::ordered_json(file->alignment()) : nlohmann::ordered_json(nullptr);
      j["architecture"] = "llama";
      j["name"] = c.name;
      j["n_params"] = m.n_params();
      j["n_layers"] = c.n_layers;
      j["n_embd"] = c.n_embd;
      j["n_ff"] = c.n_ff;
      j["n_head"] = c.n_head;
      j["n_kv_head"] = c.n_kv_head;
      j["head_dim"] = c.head_dim();
      j["n_vocab"] = c.n_vocab;
      j["n_ctx_train"] = c.n_ctx_train;
      j["rope_theta"] = c.rope_theta;
      j["rms_eps"] = c.rms_eps;
      j["tied_embeddings"] = c.tied_embeddings;
      j["rope_freqs_tensor"] = m.has_rope_freqs_tensor;
      j["tokenizer_tokens"] = m.tokenizer ? m.tokenizer->tokens.size() : 0;
      j["tokenizer"] = {{"kind", tokenizer_kind.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(tokenizer_kind)},
                        {"usable", tokenizer_usable},
                        {"problem", tokenizer_problem.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(tokenizer_problem)}};
      j["tensor_bytes"] = tensor_bytes;
      j["weight_bytes"] = m.weight_bytes();
      j["bytes_by_type"] = by_type;
      j["n_tensors"] = file ? file->tensors().size() : 0;
      auto& tensors = j["tensors"] = nlohmann::ordered_json::array();
      if (file)
        for (const auto& t : file->tensors())
        tensors.push_back({{"name", t.name}, {"type", dtype_name(t.type)}, {"shape", t.ne}, {"bytes", t.n_bytes}, {"offset", t.offset}});
      j["memory"] = {{"instances", n}, {"ctx", eo.n_ctx}, {"batch", o->batch}, {"kv_type", o->kv_type},
                     {"weights_bytes", tensor_bytes}, {"kv_bytes_per_instance", mem.kv_bytes},
                     {"activation_bytes_per_instance", mem.scratch_bytes},
                     {"total_bytes_shared_weights", shared_total}, {"total_bytes_private_weights", private_total}};
      fmt::print("{}\n", j.dump(2));
      return;
    }
    if (file) fmt::print("{}  (GGUF v{}, alignment {})\n", o->model, file->version(), file->alignment());
    else fmt::print("{}  (Hugging Face checkpoint: config.json and safetensors; Q and K rows permuted to GGUF's RoPE order on load)\n", o->model);
    fmt::print("  model      {}: {} layers, dim {}, ffn {}, {} heads / {} KV heads (head {}), vocab {}, context {}\n",
               c.name.empty() ? "llama" : c.name, c.n_layers, c.n_embd, c.n_ff, c.n_head, c.n_kv_head, c.head_dim(),
               c.n_vocab, c.n_ctx_train);
    fmt::print("  rope       theta {:g}, {}; rms eps {:g}; {} embeddings\n", c.rope_theta,
               m.has_rope_freqs_tensor ? "frequency factors from rope_freqs.weight" : "no frequency factors", c.rms_eps,
               c.tied_embeddings ? "tied" : "separate output");
    fmt::print("  parameters {} ({:.2f} billion)\n", m.n_params(), double(m.n_params()) / 1e9);
    if (file) fmt::print("  tensors    {} tensors, {} bytes ({:.3f} GB)\n", file->tensors().size(), tensor_bytes, double(tensor_bytes) / 1e9);
    else fmt::print("  weights    {} bytes ({:.3f} GB) as the engine holds them\n", tensor_bytes, double(tensor_bytes) / 1e9);
    for (const auto& [type, bytes] : by_type) fmt::print("    {:<6} {:>14} bytes\n", type, bytes);
    if (tokenizer_kind.empty()) fmt::print("  tokenizer  none (runs on token ids only)\n");
    else if (tokenizer_usable)
      fmt::print("  tokenizer  {}: {} tokens, {} merges; usable\n", tokenizer_kind, m.tokenizer->tokens.size(), m.tokenizer->merges.size());
    else
      fmt::print("  tokenizer  {}: not usable by bwscope ({}); the model runs on token ids (generate --tokens, bench, compare)\n",
                 tokenizer_kind, tokenizer_problem);
    if (file) {
      fmt::print("  metadata   {} keys\n", file->metadata().size());
      for (const auto& [key, value] : file->metadata()) fmt::print("    {:<42} {}\n", key, value_text(value));
    }
    if (o->tensors && !file) fmt::print("  tensor list: a GGUF file's only (bwscope convert makes one from this checkpoint)\n");
    if (o->tensors && file) {
      fmt::print("  tensor list\n");
      for (const auto& t : file->tensors())
        fmt::print("    {:<28} {:<6} {:>20} {:>12} bytes\n", t.name, dtype_name(t.type), shape_text(t.ne), t.n_bytes);
    }
    fmt::print("  memory for {} instance(s), context {}, batch {}, {} KV cache:\n", n, eo.n_ctx, o->batch, o->kv_type);
    fmt::print("    weights {:.3f} GB, KV cache {:.3f} GB and activations {:.3f} GB per instance\n",
               double(tensor_bytes) / 1e9, double(mem.kv_bytes) / 1e9, double(mem.scratch_bytes) / 1e9);
    fmt::print("    total {:.3f} GB with shared weights, {:.3f} GB with private copies\n", double(shared_total) / 1e9,
               double(private_total) / 1e9);
  });
}

}  // namespace bwscope::cli
