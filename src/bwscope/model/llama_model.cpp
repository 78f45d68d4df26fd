#include "bwscope/model/llama_model.h"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/model/hf_checkpoint.h"

namespace bwscope {
namespace {

const gguf::Value& require(const gguf::File& f, const std::string& key) {
  const gguf::Value* v = f.find(key);
  if (!v) fail("{}: metadata '{}' is missing", f.path(), key);
  return *v;
}

int64_t read_count(const gguf::File& f, const std::string& key, int64_t max = int64_t(1) << 32) {
  auto v = require(f, key).as_uint();
  if (!v) fail("{}: metadata '{}' has type {}, expected an unsigned integer", f.path(), key, gguf::type_name(require(f, key).type));
  if (*v == 0 || *v > uint64_t(max)) fail("{}: metadata '{}' = {} is out of range (1..{})", f.path(), key, *v, max);
  return int64_t(*v);
}

float read_float(const gguf::File& f, const std::string& key, float fallback) {
  const gguf::Value* v = f.find(key);
  if (!v) return fallback;
  auto x = v->as_float();
  if (!x) fail("{}: metadata '{}' has type {}, expected a float", f.path(), key, gguf::type_name(v->type));
  return float(*x);
}

const gguf::Tensor& tensor(const gguf::File& f, const std::string& name) {
  const gguf::Tensor* t = f.find_tensor(name);
  if (!t) fail("{}: tensor '{}' is missing", f.path(), name);
  return *t;
}

std::string shape_text(const std::vector<uint64_t>& ne) { return fmt::format("[{}]", fmt::join(ne, ", ")); }

void check_shape(const gguf::File& f, const gguf::Tensor& t, std::vector<uint64_t> want) {
  if (t.ne != want)
    fail("{}: tensor '{}' has shape {}, expected {} for this config", f.path(), t.name, shape_text(t.ne), shape_text(want));
}

// A 2-D weight: GGUF [cols, rows] (ne[0] is the row length).
kernels::Matrix matrix(const gguf::File& f, const std::string& name, int64_t cols, int64_t rows) {
  const gguf::Tensor& t = tensor(f, name);
  check_shape(f, t, {uint64_t(cols), uint64_t(rows)});
  const DTypeInfo& info = dtype_info(t.type);
  if (!info.supported) fail("{}: tensor '{}' has type {}, which the engine does not support yet", f.path(), name, info.name);
  return {t.type, rows, cols, size_t(*row_bytes(t.type, uint64_t(cols))), t.bytes.data()};
}

// A 1-D tensor converted to f32 (norm weights, rope factors are tiny).
std::vector<float> vector_f32(const gguf::File& f, const gguf::Tensor& t, int64_t n) {
  check_shape(f, t, {uint64_t(n)});
  if (t.type != DType::F32 && t.type != DType::F16 && t.type != DType::BF16)
    fail("{}: tensor '{}' has type {}, expected f32, f16 or bf16", f.path(), t.name, dtype_name(t.type));
  std::vector<float> out(static_cast<size_t>(n));
  kernels::dequantize_row(t.type, t.bytes.data(), out.data(), n);
  return out;
}

}  // namespace

std::vector<const kernels::Matrix*> LlamaModel::matrices() const {
  std::vector<const kernels::Matrix*> out{&token_embd};
  if (output.data != token_embd.data) out.push_back(&output);
  for (const auto& l : layers)
    for (const auto* m : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) out.push_back(m);
  return out;
}

uint64_t LlamaModel::weight_bytes() const {
  uint64_t total = output_norm.size() * 4;
  for (const kernels::Matrix* m : matrices()) total += m->n_bytes();
  for (const auto& l : layers) total += (l.attn_norm.size() + l.ffn_norm.size()) * 4;
  return total;
}

uint64_t LlamaModel::n_params() const { return config.n_params(); }

LlamaConfig read_llama_config(const gguf::File& f) {
  const gguf::Value& arch = require(f, "general.architecture");
  if (!arch.as_string() || *arch.as_string() != "llama")
    fail("{}: general.architecture is '{}', expected 'llama'", f.path(), arch.as_string() ? *arch.as_string() : "(not a string)");
  LlamaConfig c;
  if (const gguf::Value* name = f.find("general.name"); name && name->as_string()) c.name = *name->as_string();
  c.n_layers = read_count(f, "llama.block_count", 4096);
  c.n_embd = read_count(f, "llama.embedding_length", 1 << 20);
  c.n_ff = read_count(f, "llama.feed_forward_length", 1 << 22);
  c.n_head = read_count(f, "llama.attention.head_count", 1 << 14);
  c.n_kv_head = f.find("llama.attention.head_count_kv") ? read_count(f, "llama.attention.head_count_kv", 1 << 14) : c.n_head;
  c.n_ctx_train = f.find("llama.context_length") ? read_count(f, "llama.context_length") : 4096;
  c.rope_theta = read_float(f, "llama.rope.freq_base", 10000.0f);
  c.rms_eps = read_float(f, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  if (c.n_embd % c.n_head != 0) fail("{}: embedding_length {} is not a multiple of head_count {}", f.path(), c.n_embd, c.n_head);
  if (c.n_head % c.n_kv_head != 0) fail("{}: head_count {} is not a multiple of head_count_kv {}", f.path(), c.n_head, c.n_kv_head);
  c.rope_dim = f.find("llama.rope.dimension_count") ? read_count(f, "llama.rope.dimension_count", 1 << 16) : c.head_dim();
  if (c.rope_dim != c.head_dim())
    fail("{}: rope.dimension_count {} differs from the head size {} (partial rotary is not supported)", f.path(), c.rope_dim, c.head_dim());
  if (f.find("llama.vocab_size")) {
    c.n_vocab = read_count(f, "llama.vocab_size", int64_t(1) << 24);
  } else {  // take it from the embedding's shape
    const gguf::Tensor& e = tensor(f, "token_embd.weight");
    if (e.ne.size() != 2) fail("{}: tensor 'token_embd.weight' has shape {}, expected 2 dims", f.path(), shape_text(e.ne));
    c.n_vocab = int64_t(e.ne[1]);
  }
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  return c;
}

LlamaModel load_llama(std::shared_ptr<const gguf::File> file) {
  const gguf::File& f = *file;
  LlamaModel m;
  m.config = read_llama_config(f);
  m.file = file;
  const LlamaConfig& c = m.config;
  const int64_t d = c.n_embd, q_dim = c.n_head * c.head_dim(), kv = c.kv_dim();
  m.token_embd = matrix(f, "token_embd.weight", d, c.n_vocab);
  m.output = c.tied_embeddings ? m.token_embd : matrix(f, "output.weight", d, c.n_vocab);
  m.output_norm = vector_f32(f, tensor(f, "output_norm.weight"), d);
  m.layers.resize(size_t(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto name = [i](const char* what) { return fmt::format("blk.{}.{}.weight", i, what); };
    LayerWeights& l = m.layers[size_t(i)];
    l.attn_norm = vector_f32(f, tensor(f, name("attn_norm")), d);
    l.attn_q = matrix(f, name("attn_q"), d, q_dim);
    l.attn_k = matrix(f, name("attn_k"), d, kv);
    l.attn_v = matrix(f, name("attn_v"), d, kv);
    l.attn_output = matrix(f, name("attn_output"), q_dim, d);
    l.ffn_norm = vector_f32(f, tensor(f, name("ffn_norm")), d);
    l.ffn_gate = matrix(f, name("ffn_gate"), d, c.n_ff);
    l.ffn_up = matrix(f, name("ffn_up"), d, c.n_ff);
    l.ffn_down = matrix(f, name("ffn_down"), c.n_ff, d);
  }
  if (const gguf::Tensor* rf = f.find_tensor("rope_freqs.weight")) {
    m.rope_factors = vector_f32(f, *rf, c.rope_dim / 2);
    m.has_rope_freqs_tensor = true;
    for (float x : m.rope_factors)
      if (!(x > 0.0f) || !std::isfinite(x)) fail("{}: tensor 'rope_freqs.weight' holds a non-positive or non-finite factor", f.path());
  } else {
    m.rope_factors.assign(size_t(c.rope_dim / 2), 1.0f);  // unscaled, as llama.cpp without the tensor
  }
  m.tokenizer = read_gguf_tokenizer(f, &m.tokenizer_problem);
  if (m.tokenizer && int64_t(m.tokenizer->tokens.size()) > c.n_vocab)
    fail("{}: tokenizer has {} tokens but the model's vocabulary is {}", f.path(), m.tokenizer->tokens.size(), c.n_vocab);
  return m;
}

LlamaModel load_llama(const std::string& path) {
  if (is_hf_checkpoint_path(path)) return load_hf_llama(path);
  return load_llama(std::make_shared<const gguf::File>(gguf::File::open(path)));
}

std::optional<TokenizerData> read_gguf_tokenizer(const gguf::File& f, std::string* unusable) {
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (!tokens) return std::nullopt;
  TokenizerData t;
  if (const gguf::Value* model = f.find("tokenizer.ggml.model"); model && model->as_string() && *model->as_string() != "gpt2") {
    const std::string why = fmt::format("{}: tokenizer.ggml.model '{}' is not supported (only gpt2-style byte-level BPE)", f.path(), *model->as_string());
    if (!unusable) fail("{}", why);
    *unusable = why;
    return std::nullopt;
  }
  if (!tokens->as_strings()) fail("{}: tokenizer.ggml.tokens is not an array of strings", f.path());
  t.tokens = *tokens->as_strings();
  if (const gguf::Value* merges = f.find("tokenizer.ggml.merges")) {
    if (!merges->as_strings()) fail("{}: tokenizer.ggml.merges is not an array of strings", f.path());
    t.merges = *merges->as_strings();
  }
  if (const gguf::Value* types = f.find("tokenizer.ggml.token_type")) {
    auto ints = types->as_ints();
    if (!ints || ints->size() != t.tokens.size())
      fail("{}: tokenizer.ggml.token_type must be an integer array as long as the token list", f.path());
    t.token_types.assign(ints->begin(), ints->end());
  }
  if (const gguf::Value* pre = f.find("tokenizer.ggml.pre"); pre && pre->as_string()) t.pre = *pre->as_string();
  auto id = [&](const char* key) -> int32_t {
    const gguf::Value* v = f.find(key);
    if (!v) return -1;
    auto x = v->as_uint();
    if (!x || *x >= t.tokens.size()) fail("{}: {} is not a token id below {}", f.path(), key, t.tokens.size());
    return int32_t(*x);
  };
  t.bos_id = id("tokenizer.ggml.bos_token_id");
  t.eos_id = id("tokenizer.ggml.eos_token_id");
  t.eot_id = id("tokenizer.ggml.eot_token_id");
  return t;
}

}  // namespace bwscope
