#include "bwscope/model/synth.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/tokenizer.h"
#include "bwscope/model/weight_plan.h"

namespace bwscope {
namespace {

uint64_t name_key(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ seed;  // FNV-1a over the tensor name
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Fills `dst` with rows of uniform(center - scale, center + scale) values converted to `type`.
// Rows are spread over threads; each row is quantized from its own freshly drawn floats.
void fill_random(std::span<uint8_t> dst, DType type, int64_t cols, int64_t rows, uint64_t key, float center,
                 float scale, int threads) {
  const size_t row_size = size_t(*row_bytes(type, uint64_t(cols)));
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t c = 0; c < cols; ++c) row[size_t(c)] = center + scale * synth_uniform(key, uint64_t(r * cols + c));
      kernels::quantize_row(type, row.data(), dst.data() + size_t(r) * row_size, cols);
    }
  };
  if (threads <= 1 || rows < 64) return work(0, rows);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, rows * t / threads, rows * (t + 1) / threads);
  for (auto& th : pool) th.join();
}

}  // namespace

uint32_t gguf_file_type(DType type) {
  switch (type) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::Q4_K: return 14;  // llama.cpp has no pure-K file types: the nearest ones (Q4_K_S,
    case DType::Q5_K: return 16;  // Q5_K_S, Q6_K)
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    default: fail("synth: weight type {} is not supported yet", dtype_name(type));
  }
}

std::string default_tokenizer_json() {
  std::filesystem::path dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) dir = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home) dir = std::filesystem::path(home) / ".cache";
  else return {};
  // Llama 3.2's own (its special tokens' names), else Llama 3.0's (the same ids for text).
  for (const char* name : {"llama3_2-tokenizer", "llama3-tokenizer"})
    if (auto path = dir / "bwscope" / name / "tokenizer.json"; std::filesystem::exists(path)) return path.string();
  return {};
}

void write_synthetic_gguf(const SynthOptions& o, const std::string& path) {
  const LlamaConfig& c = o.config;
  WeightPlan plan = single_type_plan(o.type);
  if (o.k_mix) {
    auto mix = parse_weight_plan(std::string(dtype_name(o.type)) + "_m");
    if (!mix) fail("synth: there is no _M mix over {}", dtype_name(o.type));
    plan = *mix;
  }
  const uint32_t file_type = plan.file_type;
  const DTypeInfo& info = dtype_info(o.type);
  if (!o.k_mix && (c.n_embd % info.block_elems || c.n_ff % info.block_elems))
    fail("synth: {} needs n_embd ({}) and n_ff ({}) to be multiples of {}", info.name, c.n_embd, c.n_ff, info.block_elems);
  const int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));

  TokenizerData tok = o.tokenizer_json.empty() ? byte_level_tokenizer(int32_t(c.n_vocab)) : read_tokenizer_json(o.tokenizer_json);
  if (int64_t(tok.tokens.size()) > c.n_vocab)
    fail("{}: tokenizer has {} tokens, more than the model's vocabulary of {}", o.tokenizer_json, tok.tokens.size(), c.n_vocab);

  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str("llama"));
  w.set("general.name", gguf::Value::str(c.name + " (bwscope synthetic, seed " + std::to_string(o.seed) + ")"));
  w.set("general.file_type", gguf::Value::u32(file_type));
  if (info.block_elems > 1) w.set("general.quantization_version", gguf::Value::u32(2));
  w.set("llama.block_count", gguf::Value::u32(uint32_t(c.n_layers)));
  w.set("llama.context_length", gguf::Value::u32(uint32_t(c.n_ctx_train)));
  w.set("llama.embedding_length", gguf::Value::u32(uint32_t(c.n_embd)));
  w.set("llama.feed_forward_length", gguf::Value::u32(uint32_t(c.n_ff)));
  w.set("llama.attention.head_count", gguf::Value::u32(uint32_t(c.n_head)));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(uint32_t(c.n_kv_head)));
  w.set("llama.rope.freq_base", gguf::Value::f32(c.rope_theta));
  w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(c.rms_eps));
  w.set("llama.attention.key_length", gguf::Value::u32(uint32_t(c.head_dim())));
  w.set("llama.attention.value_length", gguf::Value::u32(uint32_t(c.head_dim())));
  w.set("llama.vocab_size", gguf::Value::u32(uint32_t(c.n_vocab)));
  w.set("llama.rope.dimension_count", gguf::Value::u32(uint32_t(c.rope_dim)));
  w.set("tokenizer.ggml.model", gguf::Value::str("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::Value::str(tok.pre));
  // The token list must cover the whole vocabulary for llama.cpp; pad with unused control tokens.
  std::vector<std::string> tokens = tok.tokens;
  std::vector<int32_t> types = tok.token_types;
  types.resize(tokens.size(), 1);
  for (int64_t i = int64_t(tokens.size()); i < c.n_vocab; ++i) {
    tokens.push_back("<|bwscope_unused_" + std::to_string(i) + "|>");
    types.push_back(3);
  }
  w.set("tokenizer.ggml.tokens", gguf::Value::strings(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32s(types));
  w.set("tokenizer.ggml.merges", gguf::Value::strings(tok.merges));
  if (tok.bos_id >= 0) w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(uint32_t(tok.bos_id)));
  if (tok.eos_id >= 0) w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(uint32_t(tok.eos_id)));
  if (tok.eot_id >= 0) w.set("tokenizer.ggml.eot_token_id", gguf::Value::u32(uint32_t(tok.eot_id)));

  // Uniform(-a, a) with a = sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs,
  // so activations stay finite through every layer (RMSNorm rescales before each block).
  auto weight = [&](const std::string& name, int64_t cols, int64_t rows) {
    const uint64_t key = name_key(o.seed, name);
    const float a = std::sqrt(3.0f / float(cols));
    const DType type = plan_tensor_type(plan, name, c.n_layers, !c.tied_embeddings, cols);
    w.add_tensor(name, type, {uint64_t(cols), uint64_t(rows)}, [=](std::span<uint8_t> dst) {
      fill_random(dst, type, cols, rows, key, 0.0f, a, threads);
    });
  };
  auto norm = [&](const std::string& name) {
    const uint64_t key = name_key(o.seed, name);
    w.add_tensor(name, DType::F32, {uint64_t(c.n_embd)}, [=](std::span<uint8_t> dst) {
      fill_random(dst, DType::F32, c.n_embd, 1, key, 1.0f, 0.1f, 1);
    });
  };
  const int64_t d = c.n_embd, q_dim = c.n_head * c.head_dim(), kv = c.kv_dim();
  weight("token_embd.weight", d, c.n_vocab);
  if (c.rope_scaling.enabled) {
    auto factors = llama3_rope_factors(c);
    w.add_tensor("rope_freqs.weight", DType::F32, {uint64_t(factors.size())}, [factors](std::span<uint8_t> dst) {
      std::memcpy(dst.data(), factors.data(), factors.size() * sizeof(float));
    });
  }
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto name = [i](const char* what) { return "blk." + std::to_string(i) + "." + what + ".weight"; };
    norm(name("attn_norm"));
    weight(name("attn_q"), d, q_dim);
    weight(name("attn_k"), d, kv);
    weight(name("attn_v"), d, kv);
    weight(name("attn_output"), q_dim, d);
    norm(name("ffn_norm"));
    weight(name("ffn_gate"), d, c.n_ff);
    weight(name("ffn_up"), d, c.n_ff);
    weight(name("ffn_down"), c.n_ff, d);
  }
  norm("output_norm.weight");
  if (!c.tied_embeddings) weight("output.weight", d, c.n_vocab);
  w.write(path);
}

}  // namespace bwscope
