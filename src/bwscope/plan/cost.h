// What a Llama model must move and compute per token, from its shapes and weight types alone
// (no engine, no file mapping): the same accounting as the engine's ledger (weights as stored,
// KV cache read and written; activations apart), so a prediction and a measurement count the
// same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/model/config.h"

namespace bwscope::plan {

struct ModelShape {
  std::string name;                  // "llama-3.2-1b q8_0", a file's name, ...
  LlamaConfig config;
  std::string weight_type;           // the type of most matrices ("q8_0", "q4_k_m", ...)
  struct Matrix {
    std::string name;                // GGUF name: "blk.0.attn_q.weight", "output.weight" (tied: "token_embd.weight")
    int64_t rows = 0, cols = 0;      // rows = outputs, cols = inputs
    DType type = DType::F32;
    uint64_t bytes = 0;
  };
  std::vector<Matrix> matrices;      // every matmul weight; the tied output is token_embd
  uint64_t norm_bytes = 0;           // every RMSNorm weight (F32)
  uint64_t embd_row_bytes = 0;       // one row of token_embd as stored (a lookup)
  uint64_t embd_bytes = 0;           // token_embd as stored (resident; read whole only when tied)
  DType kv_type = DType::F16;

  uint64_t matrix_bytes() const;     // every matrix once (the tied output counted once)
  uint64_t resident_bytes() const;   // what a copy of the weights occupies (+ untied embedding, norms)
  uint64_t matmul_params() const;    // multiply-adds per token in the matrices
  // K and V of one position in every layer.
  uint64_t kv_bytes_per_position() const;
};

// A preset's shapes (model/config.h) with its matrices in `weight_plan` ("f16", "q8_0",
// "q4_k_m", ...) as synth and quantize lay them out. Throws Error for an unknown preset or plan.
ModelShape preset_shape(const std::string& preset, const std::string& weight_plan, DType kv_type = DType::F16);
// A GGUF file's shapes and the types its tensors really have. Throws Error naming the file.
ModelShape gguf_shape(const std::string& path, DType kv_type = DType::F16);
// A Hugging Face directory (config.json) with its matrices in `weight_plan`.
ModelShape hf_shape(const std::string& dir, const std::string& weight_plan, DType kv_type = DType::F16);
// Any of the three: a directory is a Hugging Face checkpoint, a file a GGUF.
ModelShape model_shape(const std::string& path, const std::string& weight_plan, DType kv_type = DType::F16);

// Bytes and FLOPs of one forward step, by class.
struct StepCost {
  double weight_bytes = 0;           // matrices + norms + the embedding rows looked up
  double kv_read_bytes = 0;
  double kv_write_bytes = 0;
  double act_bytes = 0;              // activations read and written (estimate: the residual stream and the matmul inputs/outputs)
  double matmul_flops = 0;
  double attention_flops = 0;
  double bytes() const { return weight_bytes + kv_read_bytes + kv_write_bytes; }  // the ledger's model traffic
  double flops() const { return matmul_flops + attention_flops; }
};

// One decode step of `batch` sequences, each attending `context` positions (its own included).
StepCost decode_step(const ModelShape& m, int64_t batch, double context);
// The mean decode step of n_gen steps after an n_prompt prompt (positions n_prompt+1 .. n_prompt+n_gen).
StepCost mean_decode_step(const ModelShape& m, int64_t batch, int64_t n_prompt, int64_t n_gen);
// Prefill of `batch` prompts of n_prompt tokens in one forward pass (logits for the last token of each).
StepCost prefill(const ModelShape& m, int64_t batch, int64_t n_prompt);

}  // namespace bwscope::plan
