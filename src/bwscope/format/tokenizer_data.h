// What a model file or a tokenizer.json provides for a byte-level BPE tokenizer: the plain
// data, shared by the readers (format/) and the tokenizer itself (model/tokenizer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bwscope {

struct TokenizerData {
  std::vector<std::string> tokens;   // id -> token text in byte-level (GPT-2 "Ġ") encoding
  std::vector<int32_t> token_types;  // GGUF token types: 1 normal, 3 control, 4 user-defined, 6 byte (may be empty)
  std::vector<std::string> merges;   // "a b" pairs by rank
  int32_t bos_id = -1, eos_id = -1, eot_id = -1;  // -1 when absent
  std::string pre = "llama-bpe";     // pre-tokenizer name (GGUF tokenizer.ggml.pre)
};

}  // namespace bwscope
