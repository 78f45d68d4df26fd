// A multi-turn Llama 3 chat over one engine sequence: each turn feeds only the new tokens (the
// KV cache keeps the conversation so far), then generates until an end-of-turn token.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bwscope/engine/engine.h"
#include "bwscope/engine/sampler.h"
#include "bwscope/model/chat.h"

namespace bwscope {

struct ChatReply {
  std::vector<int32_t> tokens;  // the reply, without the end-of-turn token
  bool ended_turn = false;      // stopped on <|eot_id|> / EOS (false: max_tokens reached)
  int64_t n_prompt = 0;         // tokens fed for this turn
  double prefill_seconds = 0, decode_seconds = 0;
};

class ChatSession {
 public:
  // `system` may be empty (no system message). Engine, tokenizer and sampler must outlive it.
  ChatSession(Engine& engine, const Tokenizer& tokenizer, Sampler& sampler, const std::string& system);

  // Adds the user's message and generates the assistant's reply (at most max_tokens tokens),
  // calling on_token for each reply token as it comes. Throws Error when the conversation no
  // longer fits the engine's context.
  ChatReply reply(const std::string& user, int64_t max_tokens, const std::function<void(int32_t)>& on_token = {});

  int64_t n_past() const { return pos_; }  // tokens in the KV cache

 private:
  Engine& engine_;
  const Tokenizer& tok_;
  Sampler& sampler_;
  Llama3ChatFormat format_;
  std::vector<int32_t> pending_;  // fed with the next turn: BOS + system first, then the last reply's end
  int64_t pos_ = 0;
};

}  // namespace bwscope
