// Loading Hugging Face Llama checkpoints: config.json -> LlamaConfig, HF tensor names -> the
// engine's weights, Q/K rows permuted from rotate-half to adjacent-pair RoPE order.
#include "bwscope/model/hf_checkpoint.h"

#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/format/safetensors.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/kernels/ops.h"

namespace bwscope {
namespace {

namespace fs = std::filesystem;

// What a model loaded from safetensors keeps alive: the mappings and the permuted Q/K copies.
struct HfStorage {
  std::shared_ptr<const safetensors::Checkpoint> checkpoint;
  std::vector<std::vector<uint8_t>> copies;  // moving the outer vector keeps each copy's data in place
};

class Binder {
 public:
  Binder(const safetensors::Checkpoint& ckpt, HfStorage& storage) : ckpt_(ckpt), storage_(storage) {}

  const safetensors::Tensor& tensor(const std::string& name) const {
    const safetensors::Tensor* t = ckpt_.find(name);
    if (!t) fail("{}: tensor '{}' is missing", ckpt_.path(), name);
    return *t;
  }

  // A weight matrix as HF stores it: shape [rows (out), cols (in)], row-major, which is GGUF's
  // [cols, rows] with ne[0] = cols: the same bytes.
  kernels::Matrix matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const safetensors::Tensor& t = checked(name, {uint64_t(rows), uint64_t(cols)});
    return {*t.type, rows, cols, size_t(*row_bytes(*t.type, uint64_t(cols))), t.bytes.data()};
  }

  // A Q or K projection, rows permuted into adjacent-pair RoPE order (a private copy).
  kernels::Matrix rope_matrix(const std::string& name, int64_t n_heads, int64_t head_dim, int64_t cols) {
    kernels::Matrix m = matrix(name, n_heads * head_dim, cols);
    std::vector<uint8_t>& copy = storage_.copies.emplace_back(m.n_bytes());
    permute_rope_rows(std::span(m.data, m.n_bytes()), copy, n_heads, head_dim, m.row_bytes, true);
    m.data = copy.data();
    return m;
  }

  std::vector<float> vector_f32(const std::string& name, int64_t n) const {
    const safetensors::Tensor& t = checked(name, {uint64_t(n)});
    std::vector<float> out(static_cast<size_t>(n));
    kernels::dequantize_row(*t.type, t.bytes.data(), out.data(), n);
    return out;
  }

 private:
  const safetensors::Tensor& checked(const std::string& name, const std::vector<uint64_t>& shape) const {
    const safetensors::Tensor& t = tensor(name);
    if (!t.type) fail("{}: tensor '{}' has dtype {}; the engine computes with F32, F16 and BF16", t.file, name, t.dtype);
    if (t.shape != shape)
      fail("{}: tensor '{}' has shape [{}], expected [{}] for this config.json", t.file, name, fmt::join(t.shape, ", "),
           fmt::join(shape, ", "));
    return t;
  }

  const safetensors::Checkpoint& ckpt_;
  HfStorage& storage_;
};

}  // namespace

bool is_hf_checkpoint_path(const std::string& path) {
  return fs::is_directory(path) || path.ends_with(".safetensors") || path.ends_with(".safetensors.index.json");
}

LlamaConfig llama_config_from_hf(const HfConfig& hf, const std::string& path) {
  if (hf.hidden_act != "silu") fail("{}: hidden_act '{}' is not supported (Llama uses silu)", path, hf.hidden_act);
  if (hf.attention_bias || hf.mlp_bias) fail("{}: attention_bias / mlp_bias are not supported (Llama has no biases)", path);
  if (hf.hidden_size % hf.num_attention_heads != 0)
    fail("{}: hidden_size {} is not a multiple of num_attention_heads {}", path, hf.hidden_size, hf.num_attention_heads);
  if (hf.num_attention_heads % hf.num_key_value_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", path, hf.num_attention_heads, hf.num_key_value_heads);
  const int64_t head_dim = hf.hidden_size / hf.num_attention_heads;
  if (hf.head_dim != 0 && hf.head_dim != head_dim)
    fail("{}: head_dim {} differs from hidden_size / num_attention_heads = {} (not supported)", path, hf.head_dim, head_dim);
  if (head_dim % 2 != 0) fail("{}: head size {} is odd; RoPE needs pairs", path, head_dim);
  LlamaConfig c;
  c.name = fs::path(path).parent_path().filename().string();
  c.n_layers = hf.num_hidden_layers;
  c.n_embd = hf.hidden_size;
  c.n_ff = hf.intermediate_size;
  c.n_head = hf.num_attention_heads;
  c.n_kv_head = hf.num_key_value_heads;
  c.n_vocab = hf.vocab_size;
  c.n_ctx_train = hf.max_position_embeddings;
  c.rope_dim = head_dim;
  c.rope_theta = float(hf.rope_theta);
  c.rms_eps = float(hf.rms_norm_eps);
  c.tied_embeddings = hf.tie_word_embeddings;
  const HfRopeScaling& s = hf.rope_scaling;
  if (s.rope_type == "llama3") {
    c.rope_scaling = {true, float(s.factor), float(s.low_freq_factor), float(s.high_freq_factor), s.original_max_position_embeddings};
  } else if (!s.rope_type.empty() && s.rope_type != "default") {
    fail("{}: rope_scaling type '{}' is not supported (only 'llama3')", path, s.rope_type);
  }
  return c;
}

HfConfig hf_config_from_llama(const LlamaConfig& c, DType type) {
  HfConfig hf;
  hf.hidden_size = c.n_embd;
  hf.intermediate_size = c.n_ff;
  hf.num_hidden_layers = c.n_layers;
  hf.num_attention_heads = c.n_head;
  hf.num_key_value_heads = c.n_kv_head;
  hf.head_dim = c.head_dim();
  hf.vocab_size = c.n_vocab;
  hf.max_position_embeddings = c.n_ctx_train;
  hf.rms_norm_eps = c.rms_eps;
  hf.rope_theta = c.rope_theta;
  hf.tie_word_embeddings = c.tied_embeddings;
  if (c.rope_scaling.enabled)
    hf.rope_scaling = {"llama3", c.rope_scaling.factor, c.rope_scaling.low_freq_factor, c.rope_scaling.high_freq_factor,
                       c.rope_scaling.original_context};
  hf.torch_dtype = type == DType::F32 ? "float32" : type == DType::F16 ? "float16" : "bfloat16";
  return hf;
}

void permute_rope_rows(std::span<const uint8_t> src, std::span<uint8_t> dst, int64_t n_heads, int64_t head_dim,
                       size_t row_bytes, bool to_gguf) {
  if (src.size() != dst.size() || src.size() != size_t(n_heads * head_dim) * row_bytes || head_dim % 2 != 0)
    fail("permute_rope_rows: {} bytes for {} heads × {} rows × {} bytes", src.size(), n_heads, head_dim, row_bytes);
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t gguf_row = h * head_dim + 2 * i + j, hf_row = h * head_dim + j * half + i;
        const int64_t to = to_gguf ? gguf_row : hf_row, from = to_gguf ? hf_row : gguf_row;
        std::memcpy(dst.data() + size_t(to) * row_bytes, src.data() + size_t(from) * row_bytes, row_bytes);
      }
}

LlamaModel load_hf_llama(const std::string& path) {
  auto storage = std::make_shared<HfStorage>();
  storage->checkpoint = std::make_shared<const safetensors::Checkpoint>(safetensors::Checkpoint::open(path));
  const safetensors::Checkpoint& ckpt = *storage->checkpoint;
  const fs::path dir = ckpt.directory();
  const fs::path config_path = dir / "config.json";
  if (!fs::exists(config_path)) fail("{}: no config.json in {}", path, dir.string());
  LlamaModel m;
  m.config = llama_config_from_hf(read_hf_config(config_path.string()), config_path.string());
  const LlamaConfig& c = m.config;
  const int64_t d = c.n_embd, hd = c.head_dim();
  Binder b(ckpt, *storage);
  m.token_embd = b.matrix("model.embed_tokens.weight", c.n_vocab, d);
  // Tied checkpoints may still carry lm_head.weight (a copy); the config decides, as in transformers.
  m.output = c.tied_embeddings ? m.token_embd : b.matrix("lm_head.weight", c.n_vocab, d);
  m.output_norm = b.vector_f32("model.norm.weight", d);
  m.layers.resize(size_t(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    auto name = [i](const char* what) { return fmt::format("model.layers.{}.{}.weight", i, what); };
    LayerWeights& l = m.layers[size_t(i)];
    l.attn_norm = b.vector_f32(name("input_layernorm"), d);
    l.attn_q = b.rope_matrix(name("self_attn.q_proj"), c.n_head, hd, d);
    l.attn_k = b.rope_matrix(name("self_attn.k_proj"), c.n_kv_head, hd, d);
    l.attn_v = b.matrix(name("self_attn.v_proj"), c.kv_dim(), d);
    l.attn_output = b.matrix(name("self_attn.o_proj"), d, c.n_head * hd);
    l.ffn_norm = b.vector_f32(name("post_attention_layernorm"), d);
    l.ffn_gate = b.matrix(name("mlp.gate_proj"), c.n_ff, d);
    l.ffn_up = b.matrix(name("mlp.up_proj"), c.n_ff, d);
    l.ffn_down = b.matrix(name("mlp.down_proj"), d, c.n_ff);
  }
  m.rope_factors = llama3_rope_factors(c);  // all ones without llama3 scaling
  m.has_rope_freqs_tensor = false;
  if (const fs::path tok = dir / "tokenizer.json"; fs::exists(tok)) {
    m.tokenizer = read_tokenizer_json(tok.string());
    if (int64_t(m.tokenizer->tokens.size()) > c.n_vocab)
      fail("{}: tokenizer has {} tokens but the model's vocabulary is {}", tok.string(), m.tokenizer->tokens.size(), c.n_vocab);
  }
  m.storage = std::move(storage);
  return m;
}

}  // namespace bwscope
