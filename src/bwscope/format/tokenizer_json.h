// Reads a Hugging Face tokenizer.json (byte-level BPE: model.vocab, model.merges, added_tokens)
// and, when present beside it, tokenizer_config.json for the bos/eos tokens.
#pragma once

#include <string>

#include "bwscope/format/tokenizer_data.h"

namespace bwscope {

// Token types as llama.cpp's converter sets them: vocab entries 1 (normal), special added
// tokens 3 (control), other added tokens 4 (user-defined); an id no entry names becomes an
// unused (5) placeholder. merges may be "a b" strings or ["a", "b"] pairs. pre is "llama-bpe"
// for Llama 3's Split regex with ignore_merges ("smaug-bpe" without), "gpt2" for a plain
// ByteLevel pre-tokenizer. bos/eos: tokenizer_config.json's bos_token/eos_token when that file
// is beside this one, else <|begin_of_text|>/<|end_of_text|> when present; eot: <|eot_id|>.
// Throws Error("<path>: <problem>") for unreadable or malformed files and ids out of range.
TokenizerData read_tokenizer_json(const std::string& path);

}  // namespace bwscope
