// Hugging Face Llama checkpoints (config.json + safetensors + tokenizer.json): loading them into
// the engine, converting them to GGUF as llama.cpp's converter does, and writing synthetic ones.
//
// Hugging Face applies RoPE to the rotate-half pairs (x[i], x[i + d/2]) of each head; GGUF files,
// llama.cpp and this engine to adjacent pairs (x[2i], x[2i+1]). The Q and K projections are
// therefore loaded with their rows permuted within each head, exactly as llama.cpp's converter
// permutes them: GGUF row 2i + j of a head = HF row j·d/2 + i (j = 0, 1). Attention scores are
// unchanged, since q and k are permuted alike. The permuted copies are private memory; every
// other weight is viewed in place in the mapping.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "bwscope/base/dtype.h"
#include "bwscope/format/hf_config.h"
#include "bwscope/model/config.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/synth.h"

namespace bwscope {

// True for a directory, a .safetensors file or a model.safetensors.index.json.
bool is_hf_checkpoint_path(const std::string& path);

// config.json -> the engine's config; Error("<path>: <problem>") for what the engine cannot run
// (biases, another activation, rope scaling other than "llama3", a head_dim that is not
// hidden_size / num_attention_heads).
LlamaConfig llama_config_from_hf(const HfConfig& hf, const std::string& path);
HfConfig hf_config_from_llama(const LlamaConfig& config, DType type);

// Loads a checkpoint directory, .safetensors file or index (config.json beside it; tokenizer.json
// when present). Throws Error("<path>: <problem>") for missing tensors, wrong shapes, types the
// engine cannot use, and anything Checkpoint::open refuses.
LlamaModel load_hf_llama(const std::string& path);

// Copies the rows of one Q or K projection ([n_heads · head_dim rows] of row_bytes each) from
// HF's rotate-half order to GGUF's adjacent-pair order (to_gguf) or back.
void permute_rope_rows(std::span<const uint8_t> src, std::span<uint8_t> dst, int64_t n_heads, int64_t head_dim,
                       size_t row_bytes, bool to_gguf);

// Writes the checkpoint at `hf_path` as GGUF with llama.cpp's names, metadata and Q/K
// permutation, plus rope_freqs.weight for llama3 rope scaling. Weights keep their type unless
// `type` is given (f32, f16, bf16, q8_0, q4_0); norms are written as F32. The tokenizer comes
// from tokenizer.json when the checkpoint has one, else a byte-level stand-in.
void convert_hf_to_gguf(const std::string& hf_path, const std::string& out_path, std::optional<DType> type = std::nullopt);

// Writes a model (F32, F16 or BF16 weights) as a Hugging Face checkpoint directory: config.json,
// model.safetensors (Q/K rows back in rotate-half order), and tokenizer_json's tokenizer.json
// and tokenizer_config.json when given. The directory must not exist or be empty; it appears
// complete or not at all.
void write_hf_checkpoint(const LlamaModel& model, const std::string& dir, const std::string& tokenizer_json = {});

// The synthetic model write_synthetic_gguf makes for these options (the same weights, drawn the
// same way), as a Hugging Face checkpoint directory. options.type must be f32, f16 or bf16.
void write_synthetic_hf(const SynthOptions& options, const std::string& dir);

}  // namespace bwscope
