#include "bwscope/engine/generate.h"

#include <algorithm>
#include <time.h>

#include "bwscope/base/error.h"

namespace bwscope {

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

GenerateResult generate(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& o, Sampler& sampler,
                        const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) fail("generate: the prompt is empty");
  if (o.n_gen < 0) fail("generate: -n must be >= 0");
  const int64_t n_prompt = int64_t(prompt.size());
  if (n_prompt + o.n_gen > engine.n_ctx())
    fail("prompt ({} tokens) + {} generated exceeds the context of {} tokens", n_prompt, o.n_gen, engine.n_ctx());
  const int64_t n_vocab = engine.n_vocab(), chunk = engine.options().max_batch;
  GenerateResult r;
  r.n_prompt = n_prompt;
  if (o.keep_prompt_logits) r.prompt_logits.resize(size_t(n_prompt * n_vocab));

  std::vector<BatchToken> batch;
  std::vector<float> last(static_cast<size_t>(n_vocab));
  const double t0 = monotonic_seconds();
  for (int64_t start = 0; start < n_prompt; start += chunk) {
    const int64_t end = std::min(n_prompt, start + chunk);
    batch.clear();
    for (int64_t i = start; i < end; ++i)
      batch.push_back({prompt[size_t(i)], int32_t(i), o.seq, o.keep_prompt_logits || i == n_prompt - 1});
    std::span<const float> logits = engine.forward(batch);
    if (o.keep_prompt_logits) std::copy(logits.begin(), logits.end(), r.prompt_logits.begin() + start * n_vocab);
    if (end == n_prompt) std::copy(logits.end() - n_vocab, logits.end(), last.begin());
  }
  if (o.n_gen == 0) {
    r.prefill_seconds = monotonic_seconds() - t0;
    return r;
  }
  int32_t next = sampler.sample(last);
  r.prefill_seconds = monotonic_seconds() - t0;
  r.tokens.push_back(next);
  if (on_token) on_token(next);

  const double t1 = monotonic_seconds();
  for (int64_t i = 1; i < o.n_gen; ++i) {
    if (std::find(o.stop_ids.begin(), o.stop_ids.end(), next) != o.stop_ids.end()) break;
    BatchToken step{next, int32_t(n_prompt + i - 1), o.seq, true};
    std::span<const float> logits = engine.forward(std::span(&step, 1));
    ++r.n_decode_steps;
    next = sampler.sample(logits);
    r.tokens.push_back(next);
    if (on_token) on_token(next);
  }
  r.decode_seconds = monotonic_seconds() - t1;
  return r;
}

}  // namespace bwscope
