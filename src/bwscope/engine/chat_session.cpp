#include "bwscope/engine/chat_session.h"

#include <algorithm>

#include "bwscope/base/error.h"
#include "bwscope/engine/generate.h"

namespace bwscope {

ChatSession::ChatSession(Engine& engine, const Tokenizer& tokenizer, Sampler& sampler, const std::string& system)
    : engine_(engine), tok_(tokenizer), sampler_(sampler), format_(tokenizer) {
  std::vector<ChatMessage> first;
  if (!system.empty()) first.push_back({"system", system});
  pending_ = format_.dialog(first, false, true);
}

ChatReply ChatSession::reply(const std::string& user, int64_t max_tokens, const std::function<void(int32_t)>& on_token) {
  std::vector<int32_t> ids = pending_;
  const auto turn = format_.message({"user", user});
  const auto header = format_.header("assistant");
  ids.insert(ids.end(), turn.begin(), turn.end());
  ids.insert(ids.end(), header.begin(), header.end());
  if (pos_ + int64_t(ids.size()) + max_tokens > engine_.n_ctx())
    fail("chat: the conversation ({} tokens so far, {} more for this turn, up to {} for the reply) no longer fits the context of {} tokens",
         pos_, ids.size(), max_tokens, engine_.n_ctx());

  ChatReply r;
  r.n_prompt = int64_t(ids.size());
  const int64_t n_vocab = engine_.n_vocab(), chunk = engine_.options().max_batch;
  std::vector<float> last(static_cast<size_t>(n_vocab));
  std::vector<BatchToken> batch;
  const double t0 = monotonic_seconds();
  for (size_t start = 0; start < ids.size(); start += size_t(chunk)) {
    const size_t end = std::min(ids.size(), start + size_t(chunk));
    batch.clear();
    for (size_t i = start; i < end; ++i) batch.push_back({ids[i], int32_t(pos_ + int64_t(i)), 0, i + 1 == ids.size()});
    std::span<const float> logits = engine_.forward(batch);
    if (end == ids.size()) std::copy(logits.end() - n_vocab, logits.end(), last.begin());
  }
  pos_ += int64_t(ids.size());
  r.prefill_seconds = monotonic_seconds() - t0;

  const auto& stop = format_.stop_ids();
  const double t1 = monotonic_seconds();
  for (int64_t i = 0; i < max_tokens; ++i) {
    const int32_t next = sampler_.sample(last);
    if (std::find(stop.begin(), stop.end(), next) != stop.end()) {
      r.ended_turn = true;
      break;
    }
    r.tokens.push_back(next);
    if (on_token) on_token(next);
    if (i + 1 == max_tokens) break;  // the last token is fed with the next turn
    const BatchToken step{next, int32_t(pos_), 0, true};
    std::span<const float> logits = engine_.forward(std::span(&step, 1));
    ++pos_;
    std::copy(logits.begin(), logits.end(), last.begin());
  }
  r.decode_seconds = monotonic_seconds() - t1;
  // The reply's end goes in with the next turn: its last token when cut short, then <|eot_id|>.
  pending_.clear();
  if (!r.ended_turn && !r.tokens.empty()) pending_.push_back(r.tokens.back());
  pending_.push_back(format_.eot_id());
  return r;
}

}  // namespace bwscope
