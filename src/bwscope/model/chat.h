// The Llama 3 instruct chat format, as Meta documents it and tokenizer_config.json's template
// writes it:
//   <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>
//   <|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>
//   <|start_header_id|>assistant<|end_header_id|>\n\n   ← the model writes its reply here
// Message contents are trimmed of surrounding whitespace (the template's `| trim`, Meta's
// `.strip()`), and encoded as plain text: a "<|eot_id|>" typed by a user stays text.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bwscope/model/tokenizer.h"

namespace bwscope {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" (any role name is written as given)
  std::string content;
};

class Llama3ChatFormat {
 public:
  // Error("tokenizer: ... not a Llama 3 instruct vocabulary") when the header or end-of-turn
  // tokens are missing. Keeps a reference: the tokenizer must outlive it.
  explicit Llama3ChatFormat(const Tokenizer& tokenizer);

  // <|start_header_id|>role<|end_header_id|>\n\n
  std::vector<int32_t> header(const std::string& role) const;
  // header + trimmed content + <|eot_id|>
  std::vector<int32_t> message(const ChatMessage& m) const;
  // [<|begin_of_text|>] messages... [assistant header, when add_generation_prompt]
  std::vector<int32_t> dialog(std::span<const ChatMessage> messages, bool add_generation_prompt, bool add_bos = true) const;

  int32_t eot_id() const { return eot_; }
  // Ids that end the model's turn: <|eot_id|>, the end-of-text token, <|eom_id|> when present.
  const std::vector<int32_t>& stop_ids() const { return stop_; }

 private:
  const Tokenizer& tok_;
  int32_t start_header_ = -1, end_header_ = -1, eot_ = -1;
  std::vector<int32_t> stop_;
};

// The same dialog as text (what the template renders), for display and tests.
std::string llama3_chat_text(std::span<const ChatMessage> messages, bool add_generation_prompt);

}  // namespace bwscope
