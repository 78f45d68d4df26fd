#include "bwscope/cli/chat_loop.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/core.h>

#include "bwscope/engine/chat_session.h"

namespace bwscope::cli {

void run_chat_loop(Engine& engine, const Tokenizer& tokenizer, Sampler& sampler, const std::string& system,
                   const std::string& first_message, int64_t max_reply_tokens) {
  ChatSession chat(engine, tokenizer, sampler, system);
  const bool interactive = isatty(STDIN_FILENO);
  auto turn = [&](const std::string& message) {
    const ChatReply r = chat.reply(message, max_reply_tokens, [&](int32_t id) {
      const std::string& bytes = tokenizer.token_bytes(id);
      std::fwrite(bytes.data(), 1, bytes.size(), stdout);
      std::fflush(stdout);
    });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    const double decode_tps = r.decode_seconds > 0 ? double(r.tokens.size()) / r.decode_seconds : 0.0;
    fmt::print(stderr, "[{} prompt tokens in {:.3f} s, {} reply tokens at {:.2f} tokens/s{}; {} tokens in context]\n", r.n_prompt,
               r.prefill_seconds, r.tokens.size(), decode_tps, r.ended_turn ? "" : ", cut at -n", chat.n_past());
  };
  if (!first_message.empty()) turn(first_message);
  for (std::string line;;) {
    if (interactive) fmt::print(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    turn(line);
  }
}

}  // namespace bwscope::cli
