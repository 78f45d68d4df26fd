// A Llama model bound to a GGUF file: the config read from `llama.*` metadata, and every weight
// tensor (llama.cpp's names) checked against it and viewed in place in the mapping.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bwscope/format/gguf.h"
#include "bwscope/format/tokenizer_data.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/config.h"

namespace bwscope {

struct LayerWeights {
  kernels::Matrix attn_q, attn_k, attn_v, attn_output;
  kernels::Matrix ffn_gate, ffn_up, ffn_down;
  std::vector<float> attn_norm, ffn_norm;  // small; converted to f32 whatever the file holds
};

struct LlamaModel {
  LlamaConfig config;
  std::shared_ptr<const gguf::File> file;  // keeps the mapping alive while views exist
  std::shared_ptr<const void> storage;     // Hugging Face checkpoints (file is null): mappings, permuted Q/K
  kernels::Matrix token_embd;              // [n_vocab rows × n_embd]
  kernels::Matrix output;                  // == token_embd when tied
  std::vector<float> output_norm;
  std::vector<LayerWeights> layers;
  std::vector<float> rope_factors;         // from rope_freqs.weight, or all ones
  bool has_rope_freqs_tensor = false;
  std::optional<TokenizerData> tokenizer;  // when the file carries one bwscope can read
  // Why the file's tokenizer is not in `tokenizer` (e.g. a SentencePiece vocabulary): the model
  // still loads and runs on token ids; only turning text into ids or back needs one.
  std::string tokenizer_problem;

  // Every 2-D weight: the embedding, the output unless tied to it, each layer's seven.
  std::vector<const kernels::Matrix*> matrices() const;
  // Bytes of every weight tensor, as stored (scales included). A tied output counts once.
  uint64_t weight_bytes() const;
  // Parameters of the weight tensors (rope_freqs excluded; tied output counted once).
  uint64_t n_params() const;
};

// Reads the `llama.*` keys (vocabulary size from llama.vocab_size or, when absent, the
// embedding's shape). Throws Error("<path>: <problem>").
LlamaConfig read_llama_config(const gguf::File& file);

// Binds every tensor; throws Error("<path>: <problem>") for a missing tensor, a wrong shape,
// or a type the engine cannot compute with.
LlamaModel load_llama(std::shared_ptr<const gguf::File> file);
// A GGUF file, or a Hugging Face checkpoint (directory, .safetensors, index): see hf_checkpoint.h.
LlamaModel load_llama(const std::string& path);

// Reads a tokenizer from GGUF metadata (tokenizer.ggml.*); nullopt when the file has none. A
// vocabulary of a kind bwscope cannot use (tokenizer.ggml.model other than gpt2) is nullopt
// with the reason in *unusable when given, an Error otherwise; malformed metadata is an Error.
std::optional<TokenizerData> read_gguf_tokenizer(const gguf::File& file, std::string* unusable = nullptr);

}  // namespace bwscope
