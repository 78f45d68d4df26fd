// Prompt in, tokens out: chunked prefill, then one decode step per token, timed.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "bwscope/engine/engine.h"
#include "bwscope/engine/sampler.h"

namespace bwscope {

struct GenerateOptions {
  int64_t n_gen = 16;
  std::vector<int32_t> stop_ids;    // stop after emitting one of these
  bool keep_prompt_logits = false;  // keep the logits of every prompt position
  int32_t seq = 0;
};

struct GenerateResult {
  std::vector<int32_t> tokens;        // generated ids (the prompt excluded)
  std::vector<float> prompt_logits;   // [n_prompt × n_vocab] when asked for
  double prefill_seconds = 0;         // prompt through the first token's logits
  double decode_seconds = 0;          // every later decode step
  int64_t n_prompt = 0;
  int64_t n_decode_steps = 0;         // decode forward passes (tokens.size() - 1 when not stopped early)
  double prefill_tokens_per_s() const { return prefill_seconds > 0 ? double(n_prompt) / prefill_seconds : 0; }
  double decode_tokens_per_s() const { return decode_seconds > 0 ? double(n_decode_steps) / decode_seconds : 0; }
};

// Throws Error if the prompt is empty or prompt + n_gen exceeds the engine's context.
GenerateResult generate(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options,
                        Sampler& sampler, const std::function<void(int32_t)>& on_token = {});

// Seconds on the monotonic clock shared by every thread and process.
double monotonic_seconds();

}  // namespace bwscope
