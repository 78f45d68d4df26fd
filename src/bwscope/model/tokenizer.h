// The Llama 3 tokenizer: byte-level BPE exactly as Hugging Face tokenizers / tiktoken compute
// it (added-token split, the Llama 3 pre-tokenizer regex, GPT-2 byte↔unicode map, merges by rank).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/format/tokenizer_data.h"

namespace bwscope {

class Tokenizer {
 public:
  // Validates the data: types as long as the tokens, special ids inside the vocabulary, every
  // merge naming tokens of the vocabulary, a token for each of the 256 bytes, a known
  // pre-tokenizer ("llama-bpe", "llama3", "llama-v3", "falcon3", "smaug-bpe", "dbrx", "gpt2").
  // Throws Error ("tokenizer: <problem>") otherwise.
  explicit Tokenizer(TokenizerData data);

  // Text -> ids. add_bos: prepend the BOS id (Error when there is none). parse_special: control
  // tokens written in the text ("<|eot_id|>") become their ids; without it they are plain text.
  // User-defined tokens (type 4, HF non-special added tokens) are always matched, as HF and
  // llama.cpp do. Any bytes are accepted, invalid UTF-8 included: decode(encode(s)) == s.
  std::vector<int32_t> encode(std::string_view text, bool add_bos = false, bool parse_special = false) const;
  // Ids -> the exact bytes; control and user-defined tokens give their text. Error on a bad id.
  std::string decode(std::span<const int32_t> ids) const;
  // The raw bytes of one token (what decode gives for it alone). Error on a bad id.
  const std::string& token_bytes(int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t eot_id() const;
  const TokenizerData& data() const;
  // The id of a token by its byte-level text ("Ġthe", "<|eot_id|>"); the lowest id if repeated.
  std::optional<int32_t> find(std::string_view token_text) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;  // immutable once built: copies share it, encode is thread-safe
};

// The GPT-2 byte -> unicode mapping of byte-level BPE: printable bytes map to themselves, the
// other 68 to U+0100.. in byte order (' ' -> "Ġ", '\n' -> "Ċ"). Returns the UTF-8 of the code point.
std::string byte_to_token_text(uint8_t b);
// The inverse over a whole token text; nullopt when a character is not in the mapping.
std::optional<std::string> token_text_to_bytes(std::string_view token_text);

// A stand-in when no real vocabulary is available: n_vocab tokens, ids 0..255 the single bytes
// (id == byte value, type normal), no merges, the rest "<|filler_N|>" control tokens except
// three placed as in Llama 3 (relative to the end of the vocabulary when n_vocab >= 512):
//   bos "<|begin_of_text|>" = n_vocab - 256, eos "<|end_of_text|>" = n_vocab - 255,
//   eot "<|eot_id|>" = n_vocab - 247 (128000, 128001, 128009 for Llama 3's 128256);
// for 259 <= n_vocab < 512 they are 256, 257 and 258. Error when n_vocab < 259.
TokenizerData byte_level_tokenizer(int32_t n_vocab);

// The tokenizer of `data`, or nullopt with the reason (Tokenizer's Error) in *why: a model whose
// vocabulary bwscope cannot use still runs on token ids.
inline std::optional<Tokenizer> try_tokenizer(const TokenizerData& data, std::string* why) {
  try {
    return Tokenizer(data);
  } catch (const Error& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
}

}  // namespace bwscope
