// Copies of a model's weights that the engine computes on instead of the file mapping, in the
// layout the kernels prefer (kernels/layout.cpp): private to one instance (anonymous memory,
// make_weights_private) or written once into an object every instance maps
// (runtime/shared_weights.h). Both are planned, written and bound by the functions here.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bwscope/model/llama_model.h"

namespace bwscope {

// Where each weight matrix of a model goes in a copy, and in which layout. A tied output
// shares the embedding's bytes, so each distinct tensor is placed once, 64-byte aligned.
struct CopyPlan {
  struct Item {
    size_t offset = 0;         // of the matrix's bytes in the copy
    size_t bytes = 0;          // the matrix's bytes
    bool interleaved = false;  // written in the interleaved layout (Matrix::interleaved)
    bool operator==(const Item&) const = default;
  };
  std::vector<Item> items;    // one per weight_matrices() entry, in that order
  uint64_t bytes = 0;         // the copy's size
  bool operator==(const CopyPlan&) const = default;
};

// The model's 2-D weights in a fixed order: token_embd, output, then attn_q, attn_k, attn_v,
// attn_output, ffn_gate, ffn_up, ffn_down of each layer.
std::vector<kernels::Matrix*> weight_matrices(LlamaModel& model);

// Plans the copy. With `interleave_for`, matrices whose type that kernel table prefers
// interleaved (and whose shape allows it) are planned in the interleaved layout.
CopyPlan plan_copy(const LlamaModel& model, const kernels::Ops* interleave_for);
// Writes the copy of `model`'s weights to dst (plan.bytes), cut into pieces of a few MiB that
// `threads` threads share.
void write_copy(const LlamaModel& model, const CopyPlan& plan, uint8_t* dst, int threads);
// Points the model's matrices at the copy at the start of `mapping` (mmap()ed, `mapping_bytes`
// long). The model then owns the mapping — it is unmapped when the model goes — and keeps what
// it owned before alive.
void bind_copy(LlamaModel& model, const CopyPlan& plan, void* mapping, size_t mapping_bytes);

// Copies every weight matrix into one anonymous mapping the model owns (interleaved where
// `interleave_for` prefers it) and points the matrices there; the file mapping's weight pages
// are no longer read. Returns the bytes copied.
uint64_t make_weights_private(LlamaModel& model, const kernels::Ops* interleave_for = nullptr, int threads = 1);

}  // namespace bwscope
