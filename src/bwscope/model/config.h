// The Llama architecture's hyper-parameters, the presets bwscope knows (Llama 3.2 1B/3B and a
// tiny one for tests), and the Llama 3 RoPE frequency scaling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bwscope {

struct RopeScaling {  // Llama 3 "llama3" rope_scaling
  bool enabled = false;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_context = 8192;
};

struct LlamaConfig {
  std::string name;            // preset name or general.name
  int64_t n_layers = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_kv_head = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t rope_dim = 0;        // rotated dims per head (= head_dim for Llama)
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_embeddings = true;
  RopeScaling rope_scaling;
  // Dimensions per head when set: a tensor-parallel shard holds fewer heads than n_embd / head
  // dimension would give (parallel/split.h). 0: n_embd / n_head.
  int64_t key_length = 0;

  int64_t head_dim() const { return key_length > 0 ? key_length : n_embd / n_head; }
  int64_t kv_dim() const { return n_kv_head * head_dim(); }
  // Parameters of the weight tensors (tied output counted once), as llama.cpp counts them.
  uint64_t n_params() const;
};

std::vector<std::string> preset_names();
// Throws Error for an unknown name (the message lists the known ones).
LlamaConfig preset(std::string_view name);

// Llama 3 per-pair frequency divisors (rope_freqs.weight in GGUF): rope_dim / 2 values, as
// Meta's reference and llama.cpp's converter compute them. All ones when scaling is off.
std::vector<float> llama3_rope_factors(const LlamaConfig& config);

// θ_i = base^(−2i/d) / factor_i: the angle per position of each rotated pair.
std::vector<float> rope_inv_freq(int64_t rope_dim, float theta, const std::vector<float>& factors);

}  // namespace bwscope
