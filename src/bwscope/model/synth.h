// Synthetic Llama models: the exact shapes of a preset with seeded random weights, written as a
// GGUF file llama.cpp loads too. Speed and bandwidth do not depend on the weight values, but
// they do depend on the values being distinct: every value is drawn afresh (no repeated block,
// which a VM's page merging would serve from cache).
#pragma once

#include <cstdint>
#include <string>

#include "bwscope/base/dtype.h"
#include "bwscope/format/tokenizer_data.h"
#include "bwscope/model/config.h"

namespace bwscope {

struct SynthOptions {
  LlamaConfig config;
  DType type = DType::BF16;     // type of the 2-D weights; norms and rope factors stay F32
  bool k_mix = false;           // llama.cpp's _M mix over `type` (Q4_K → Q4_K_M, Q5_K → Q5_K_M)
  uint64_t seed = 1;
  std::string tokenizer_json;   // real tokenizer to embed; empty: a byte-level stand-in
  int threads = 0;              // 0: all hardware threads
};

// The llama.cpp file type id (general.file_type) for a weight type.
uint32_t gguf_file_type(DType type);

// Writes the model to `path` atomically. Throws Error on an impossible request (e.g. a
// tokenizer with more tokens than the vocabulary, a type whose block does not divide n_embd).
void write_synthetic_gguf(const SynthOptions& options, const std::string& path);

// Where the setup script puts the real tokenizer.json: Llama 3.2's, else Llama 3.0's; empty
// string when neither is there.
std::string default_tokenizer_json();

// The i-th value of a seeded uniform(-1, 1) stream: a pure function of (key, i), so any thread
// can produce any range and the file does not depend on the thread count.
inline float synth_uniform(uint64_t key, uint64_t i) {
  uint64_t z = key + (i + 1) * 0x9e3779b97f4a7c15ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return float(int64_t(z >> 40) - (int64_t(1) << 23)) * (1.0f / float(1 << 23));
}

}  // namespace bwscope
