// A Hugging Face Llama config.json: read with every field checked, and written back. The names
// and defaults are those of transformers' LlamaConfig.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bwscope {

struct HfRopeScaling {
  std::string rope_type;            // "llama3" (the only kind bwscope computes); empty: none
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct HfConfig {
  std::string model_type = "llama";
  std::vector<std::string> architectures{"LlamaForCausalLM"};
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // 0: hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  HfRopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  std::string hidden_act = "silu";
  std::string torch_dtype;          // "bfloat16", "float16", "float32"; may be empty
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;  // eos_token_id: one id or a list
};

// Throws Error("<path>: <problem>") for unreadable or malformed JSON, a missing or mistyped
// field, or values out of range. Fields bwscope does not use are ignored.
HfConfig read_hf_config(const std::string& path);
// The config as JSON text (the fields above, in transformers' spelling).
std::string hf_config_json(const HfConfig& config);

}  // namespace bwscope
