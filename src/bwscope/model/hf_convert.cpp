// Hugging Face checkpoint <-> GGUF: `bwscope convert` (HF -> GGUF, as llama.cpp's converter
// writes it) and synthetic HF checkpoints (GGUF-layout model -> HF files) for tests.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/format/gguf.h"
#include "bwscope/format/safetensors.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/tokenizer.h"

namespace bwscope {
namespace {

namespace fs = std::filesystem;

// Copies a matrix's rows into dst as `type`: the bytes as they are when the type is the same,
// else through f32 (dequantize, then quantize) one row at a time.
void convert_rows(const kernels::Matrix& m, DType type, std::span<uint8_t> dst) {
  if (m.type == type) {
    std::memcpy(dst.data(), m.data, m.n_bytes());
    return;
  }
  const size_t out_row = size_t(*row_bytes(type, uint64_t(m.cols)));
  std::vector<float> row(static_cast<size_t>(m.cols));
  for (int64_t r = 0; r < m.rows; ++r) {
    kernels::dequantize_row(m.type, m.data + size_t(r) * m.row_bytes, row.data(), m.cols);
    kernels::quantize_row(type, row.data(), dst.data() + size_t(r) * out_row, m.cols);
  }
}

uint32_t file_type_of(DType type) {
  switch (type) {  // llama.cpp's general.file_type (LLAMA_FTYPE_*)
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::BF16: return 32;
    default: fail("convert: weight type {} is not supported (f32, f16, bf16, q8_0, q4_0)", dtype_name(type));
  }
}

// The tokenizer metadata llama.cpp needs: the token list covers the whole vocabulary.
void set_tokenizer(gguf::Writer& w, const TokenizerData& tok, int64_t n_vocab) {
  w.set("tokenizer.ggml.model", gguf::Value::str("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::Value::str(tok.pre));
  std::vector<std::string> tokens = tok.tokens;
  std::vector<int32_t> types = tok.token_types;
  types.resize(tokens.size(), 1);
  for (int64_t i = int64_t(tokens.size()); i < n_vocab; ++i) {
    tokens.push_back(fmt::format("<|bwscope_unused_{}|>", i));
    types.push_back(3);
  }
  w.set("tokenizer.ggml.tokens", gguf::Value::strings(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32s(types));
  w.set("tokenizer.ggml.merges", gguf::Value::strings(tok.merges));
  if (tok.bos_id >= 0) w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(uint32_t(tok.bos_id)));
  if (tok.eos_id >= 0) w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(uint32_t(tok.eos_id)));
  if (tok.eot_id >= 0) w.set("tokenizer.ggml.eot_token_id", gguf::Value::u32(uint32_t(tok.eot_id)));
}

// Writes a loaded model (already in GGUF's row order) as a GGUF file with llama.cpp's names.
void write_gguf_model(const LlamaModel& m, const std::string& path, std::optional<DType> type) {
  const LlamaConfig& c = m.config;
  const DType wtype = type.value_or(m.token_embd.type);
  const uint32_t file_type = file_type_of(wtype);
  const DTypeInfo& info = dtype_info(wtype);
  if (c.n_embd % info.block_elems || c.n_ff % info.block_elems)
    fail("convert: {} needs n_embd ({}) and n_ff ({}) to be multiples of {}", info.name, c.n_embd, c.n_ff, info.block_elems);
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str("llama"));
  w.set("general.name", gguf::Value::str(c.name));
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
  set_tokenizer(w, m.tokenizer ? *m.tokenizer : byte_level_tokenizer(int32_t(c.n_vocab)), c.n_vocab);

  auto matrix = [&](const std::string& name, const kernels::Matrix& mat) {
    w.add_tensor(name, wtype, {uint64_t(mat.cols), uint64_t(mat.rows)}, [&mat, wtype](std::span<uint8_t> dst) { convert_rows(mat, wtype, dst); });
  };
  auto vector = [&](const std::string& name, const std::vector<float>& v) {
    w.add_tensor(name, DType::F32, {uint64_t(v.size())}, std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4));
  };
  matrix("token_embd.weight", m.token_embd);
  // llama.cpp's converter stores llama3 rope scaling as per-pair frequency divisors.
  if (c.rope_scaling.enabled) vector("rope_freqs.weight", m.rope_factors);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& l = m.layers[size_t(i)];
    auto name = [i](const char* what) { return fmt::format("blk.{}.{}.weight", i, what); };
    vector(name("attn_norm"), l.attn_norm);
    matrix(name("attn_q"), l.attn_q);
    matrix(name("attn_k"), l.attn_k);
    matrix(name("attn_v"), l.attn_v);
    matrix(name("attn_output"), l.attn_output);
    vector(name("ffn_norm"), l.ffn_norm);
    matrix(name("ffn_gate"), l.ffn_gate);
    matrix(name("ffn_up"), l.ffn_up);
    matrix(name("ffn_down"), l.ffn_down);
  }
  vector("output_norm.weight", m.output_norm);
  if (!c.tied_embeddings) matrix("output.weight", m.output);
  w.write(path);
}

void write_safetensors(const LlamaModel& m, const std::string& path) {
  const LlamaConfig& c = m.config;
  safetensors::Writer w;
  w.set_metadata("format", "pt");  // what transformers expects of a PyTorch checkpoint
  auto matrix = [&](const std::string& name, const kernels::Matrix& mat) {
    safetensors::dtype_name_of(mat.type);  // F32, F16, BF16 only
    w.add_tensor(name, mat.type, {uint64_t(mat.rows), uint64_t(mat.cols)},
                 [&mat](std::span<uint8_t> dst) { std::memcpy(dst.data(), mat.data, mat.n_bytes()); });
  };
  auto rope_matrix = [&](const std::string& name, const kernels::Matrix& mat, int64_t n_heads) {
    safetensors::dtype_name_of(mat.type);
    w.add_tensor(name, mat.type, {uint64_t(mat.rows), uint64_t(mat.cols)}, [&mat, n_heads, hd = c.head_dim()](std::span<uint8_t> dst) {
      permute_rope_rows(std::span(mat.data, mat.n_bytes()), dst, n_heads, hd, mat.row_bytes, false);
    });
  };
  // Norms stay F32, so a checkpoint written from a model loads back to the very same values.
  auto vector = [&](const std::string& name, const std::vector<float>& v) {
    w.add_tensor(name, DType::F32, {uint64_t(v.size())},
                 [&v](std::span<uint8_t> dst) { std::memcpy(dst.data(), v.data(), v.size() * 4); });
  };
  matrix("model.embed_tokens.weight", m.token_embd);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& l = m.layers[size_t(i)];
    auto name = [i](const char* what) { return fmt::format("model.layers.{}.{}.weight", i, what); };
    vector(name("input_layernorm"), l.attn_norm);
    rope_matrix(name("self_attn.q_proj"), l.attn_q, c.n_head);
    rope_matrix(name("self_attn.k_proj"), l.attn_k, c.n_kv_head);
    matrix(name("self_attn.v_proj"), l.attn_v);
    matrix(name("self_attn.o_proj"), l.attn_output);
    vector(name("post_attention_layernorm"), l.ffn_norm);
    matrix(name("mlp.gate_proj"), l.ffn_gate);
    matrix(name("mlp.up_proj"), l.ffn_up);
    matrix(name("mlp.down_proj"), l.ffn_down);
  }
  vector("model.norm.weight", m.output_norm);
  if (!c.tied_embeddings) matrix("lm_head.weight", m.output);
  w.write(path);
}

// Removes a path on scope exit unless released (temporary files and directories).
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

void convert_hf_to_gguf(const std::string& hf_path, const std::string& out_path, std::optional<DType> type) {
  const LlamaModel m = load_hf_llama(hf_path);  // Q/K rows already in GGUF's order
  write_gguf_model(m, out_path, type);
}

void write_hf_checkpoint(const LlamaModel& m, const std::string& dir, const std::string& tokenizer_json) {
  if (fs::exists(dir) && !(fs::is_directory(dir) && fs::is_empty(dir)))
    fail("{}: already exists and is not an empty directory", dir);
  // config.json can only carry rope frequencies as llama3 rope_scaling parameters (a GGUF file
  // may hold just the rope_freqs tensor): they must give back exactly the model's factors.
  if (llama3_rope_factors(m.config) != m.rope_factors)
    fail("{}: the model's rope frequency factors do not follow from its rope scaling parameters; config.json cannot express them", dir);
  HfConfig hf = hf_config_from_llama(m.config, m.token_embd.type);
  if (m.tokenizer && m.tokenizer->bos_id >= 0) hf.bos_token_id = m.tokenizer->bos_id;
  if (m.tokenizer && m.tokenizer->eos_id >= 0) hf.eos_token_ids = {m.tokenizer->eos_id};
  // Everything goes into a sibling temporary directory that is renamed when complete.
  const std::string tmp = fs::path(dir).lexically_normal().string() + ".tmp." + std::to_string(getpid());
  RemoveOnExit cleanup{tmp};
  fs::remove_all(tmp);
  if (std::error_code ec; !fs::create_directories(tmp, ec)) fail("{}: cannot create {}: {}", dir, tmp, ec.message());
  write_file_atomic(tmp + "/config.json", hf_config_json(hf));
  write_safetensors(m, tmp + "/model.safetensors");
  std::error_code ec;
  if (!tokenizer_json.empty()) {
    if (!fs::copy_file(tokenizer_json, tmp + "/tokenizer.json", ec)) fail("{}: cannot copy: {}", tokenizer_json, ec.message());
    const fs::path config = fs::path(tokenizer_json).parent_path() / "tokenizer_config.json";
    if (fs::exists(config) && !fs::copy_file(config, tmp + "/tokenizer_config.json", ec))
      fail("{}: cannot copy: {}", config.string(), ec.message());
  }
  if (fs::exists(dir)) fs::remove(dir, ec);  // the empty directory the caller made
  fs::rename(tmp, dir, ec);
  if (ec) fail("{}: cannot rename {} to it: {}", dir, tmp, ec.message());
  cleanup.path.clear();
}

void write_synthetic_hf(const SynthOptions& options, const std::string& dir) {
  if (options.type != DType::F32 && options.type != DType::F16 && options.type != DType::BF16)
    fail("synth: a Hugging Face checkpoint holds f32, f16 or bf16 weights, not {}", dtype_name(options.type));
  // The weights are drawn by write_synthetic_gguf, so both formats hold the very same values.
  const std::string gguf_path = fs::path(dir).lexically_normal().string() + ".synth." + std::to_string(getpid()) + ".gguf";
  RemoveOnExit cleanup{gguf_path};
  write_synthetic_gguf(options, gguf_path);
  LlamaModel m = load_llama(std::make_shared<const gguf::File>(gguf::File::open(gguf_path)));
  m.config.rope_scaling = options.config.rope_scaling;  // GGUF keeps only the factors they give
  m.config.name = options.config.name;
  write_hf_checkpoint(m, dir, options.tokenizer_json);
}

}  // namespace bwscope
