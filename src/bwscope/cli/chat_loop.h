// The interactive part of `bwscope generate --chat`: one user message per stdin line.
#pragma once

#include <cstdint>
#include <string>

#include "bwscope/engine/engine.h"
#include "bwscope/engine/sampler.h"
#include "bwscope/model/tokenizer.h"

namespace bwscope::cli {

// Reads stdin line by line (the first message may be given as first_message), streams each
// reply to stdout, and prints per-turn speeds to stderr. Ends at end of input.
void run_chat_loop(Engine& engine, const Tokenizer& tokenizer, Sampler& sampler, const std::string& system,
                   const std::string& first_message, int64_t max_reply_tokens);

}  // namespace bwscope::cli
