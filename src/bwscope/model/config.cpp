#include "bwscope/model/config.h"

#include <cmath>
#include <numbers>

#include <fmt/ranges.h>

#include "bwscope/base/error.h"

namespace bwscope {
namespace {

LlamaConfig llama32(std::string name, int64_t layers, int64_t embd, int64_t heads) {
  LlamaConfig c;
  c.name = std::move(name);
  c.n_layers = layers;
  c.n_embd = embd;
  c.n_ff = 8192;
  c.n_head = heads;
  c.n_kv_head = 8;
  c.n_vocab = 128256;
  c.n_ctx_train = 131072;
  c.rope_dim = embd / heads;
  c.rope_theta = 500000.0f;
  c.rms_eps = 1e-5f;
  c.tied_embeddings = true;
  c.rope_scaling = {true, 32.0f, 1.0f, 4.0f, 8192};
  return c;
}

}  // namespace

uint64_t LlamaConfig::n_params() const {
  uint64_t d = uint64_t(n_embd), per_layer = 0;
  per_layer += d * d + 2 * d * uint64_t(kv_dim()) + d * d;  // q, k, v, o
  per_layer += 3 * d * uint64_t(n_ff);                     // gate, up, down
  per_layer += 2 * d;                                      // two norms
  uint64_t total = uint64_t(n_layers) * per_layer + d * uint64_t(n_vocab) + d;  // + embedding, output norm
  if (!tied_embeddings) total += d * uint64_t(n_vocab);
  return total;
}

std::vector<std::string> preset_names() { return {"llama-3.2-1b", "llama-3.2-3b", "tiny"}; }

LlamaConfig preset(std::string_view name) {
  if (name == "llama-3.2-1b") return llama32("llama-3.2-1b", 16, 2048, 32);
  if (name == "llama-3.2-3b") return llama32("llama-3.2-3b", 28, 3072, 24);
  if (name == "tiny") {
    // Small enough for unit tests (well under a second per forward pass on the scalar path),
    // but with every feature of the real ones: GQA (4 heads over 2 KV heads), rope scaling,
    // tied embeddings, and a vocabulary large enough to hold the byte-level tokenizer.
    LlamaConfig c = llama32("tiny", 2, 64, 4);
    c.n_kv_head = 2;
    c.n_ff = 160;
    c.n_vocab = 512;
    c.n_ctx_train = 2048;
    c.rope_scaling = {true, 32.0f, 1.0f, 4.0f, 64};
    return c;
  }
  fail("unknown preset '{}' (known: {})", name, fmt::join(preset_names(), ", "));
}

std::vector<float> llama3_rope_factors(const LlamaConfig& c) {
  const int64_t n = c.rope_dim / 2;
  std::vector<float> factors(size_t(n), 1.0f);
  if (!c.rope_scaling.enabled) return factors;
  const auto& s = c.rope_scaling;
  const double low_wavelen = double(s.original_context) / s.low_freq_factor;
  const double high_wavelen = double(s.original_context) / s.high_freq_factor;
  for (int64_t i = 0; i < n; ++i) {
    double freq = std::pow(double(c.rope_theta), -2.0 * double(i) / double(c.rope_dim));
    double wavelen = 2.0 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      factors[size_t(i)] = 1.0f;
    } else if (wavelen > low_wavelen) {
      factors[size_t(i)] = s.factor;
    } else {
      double smooth = (double(s.original_context) / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factors[size_t(i)] = float(1.0 / ((1.0 - smooth) / s.factor + smooth));
    }
  }
  return factors;
}

std::vector<float> rope_inv_freq(int64_t rope_dim, float theta, const std::vector<float>& factors) {
  std::vector<float> inv(size_t(rope_dim / 2));
  for (size_t i = 0; i < inv.size(); ++i) {
    double base = std::pow(double(theta), -2.0 * double(i) / double(rope_dim));
    inv[i] = float(base / (i < factors.size() ? factors[i] : 1.0f));
  }
  return inv;
}

}  // namespace bwscope
