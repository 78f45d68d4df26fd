#include "bwscope/engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "bwscope/base/error.h"

namespace bwscope {

int32_t argmax(std::span<const float> logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(SamplerOptions options) : options_(options), rng_(options.seed) {
  if (!(options_.temperature >= 0.0f)) fail("--temperature must be >= 0");
  if (options_.top_k < 0) fail("--top-k must be >= 0");
  if (!(options_.top_p > 0.0f && options_.top_p <= 1.0f)) fail("--top-p must be in (0, 1]");
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (options_.temperature == 0.0f) return argmax(logits);
  candidates_.clear();
  candidates_.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_.emplace_back(logits[i] / options_.temperature, int32_t(i));
  size_t k = options_.top_k > 0 ? std::min(candidates_.size(), size_t(options_.top_k)) : candidates_.size();
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::partial_sort(candidates_.begin(), candidates_.begin() + std::ptrdiff_t(k), candidates_.end(), by_logit);
  candidates_.resize(k);
  // Softmax over the survivors (sorted, largest first), then keep the smallest prefix whose
  // probability mass reaches top_p.
  const float max = candidates_[0].first;
  double total = 0.0;
  for (auto& c : candidates_) total += (c.first = std::exp(c.first - max));
  double kept = 0.0;
  size_t n = 0;
  while (n < candidates_.size()) {
    kept += candidates_[n++].first;
    if (kept / total >= options_.top_p) break;
  }
  std::uniform_real_distribution<double> uniform(0.0, kept);
  double r = uniform(rng_);
  for (size_t i = 0; i < n; ++i) {
    r -= candidates_[i].first;
    if (r <= 0.0) return candidates_[i].second;
  }
  return candidates_[n - 1].second;
}

}  // namespace bwscope
