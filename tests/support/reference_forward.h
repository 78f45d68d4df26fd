// An independent, straightforward float64 Llama forward pass for tests: it reads tensors
// straight from a GGUF file (not through model/), of any float type, and computes RoPE angles,
// norms, attention and SwiGLU in double precision. Slow; for tiny models.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/format/gguf.h"

namespace bwscope::test_support {

using Vec = std::vector<double>;

struct RefModel {
  const gguf::File& f;
  int64_t n_layers, d, n_ff, n_head, n_kv, hd, n_vocab;
  double theta, eps;

  explicit RefModel(const gguf::File& file) : f(file) {
    auto u = [&](const char* k) { return int64_t(*f.find(k)->as_uint()); };
    n_layers = u("llama.block_count");
    d = u("llama.embedding_length");
    n_ff = u("llama.feed_forward_length");
    n_head = u("llama.attention.head_count");
    n_kv = u("llama.attention.head_count_kv");
    n_vocab = int64_t(f.find_tensor("token_embd.weight")->ne[1]);  // llama.vocab_size is optional
    hd = d / n_head;
    theta = *f.find("llama.rope.freq_base")->as_float();
    eps = *f.find("llama.attention.layer_norm_rms_epsilon")->as_float();
  }
  // Element i of a tensor, whatever its float type.
  double at(const gguf::Tensor& t, int64_t i) const {
    const uint8_t* p = t.bytes.data();
    switch (t.type) {
      case DType::F32: return reinterpret_cast<const float*>(p)[i];
      case DType::F16: return f16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
      case DType::BF16: return bf16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
      default: ADD_FAILURE() << "reference handles float types only"; return 0;
    }
  }
  const gguf::Tensor& t(const std::string& name) const { return *f.find_tensor(name); }
  // y = W x, W stored [in (ne0), out (ne1)].
  Vec mul(const std::string& name, const Vec& x) const {
    const gguf::Tensor& w = t(name);
    const int64_t in = int64_t(w.ne[0]), out = int64_t(w.ne[1]);
    Vec y(static_cast<size_t>(out), 0.0);
    for (int64_t r = 0; r < out; ++r)
      for (int64_t c = 0; c < in; ++c) y[size_t(r)] += at(w, r * in + c) * x[size_t(c)];
    return y;
  }
  Vec rmsnorm(const Vec& x, const std::string& name) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / double(x.size()) + eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * at(t(name), int64_t(i));
    return y;
  }
  void rope(Vec& x, int64_t n_heads, int64_t pos) const {
    const gguf::Tensor* factors = f.find_tensor("rope_freqs.weight");
    for (int64_t h = 0; h < n_heads; ++h)
      for (int64_t i = 0; i < hd / 2; ++i) {
        double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(hd));
        if (factors) angle /= at(*factors, i);
        double& a = x[size_t(h * hd + 2 * i)];
        double& b = x[size_t(h * hd + 2 * i + 1)];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(angle) - b0 * std::sin(angle);
        b = a0 * std::sin(angle) + b0 * std::cos(angle);
      }
  }

  // Logits of every position of `tokens`.
  std::vector<Vec> forward(const std::vector<int32_t>& tokens) const {
    std::vector<std::vector<Vec>> keys(static_cast<size_t>(n_layers)), values(static_cast<size_t>(n_layers));
    std::vector<Vec> logits;
    for (size_t p = 0; p < tokens.size(); ++p) {
      Vec x(static_cast<size_t>(d));
      for (int64_t i = 0; i < d; ++i) x[size_t(i)] = at(t("token_embd.weight"), tokens[p] * d + i);
      for (int64_t l = 0; l < n_layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        Vec xn = rmsnorm(x, b + "attn_norm.weight");
        Vec q = mul(b + "attn_q.weight", xn), k = mul(b + "attn_k.weight", xn), v = mul(b + "attn_v.weight", xn);
        rope(q, n_head, int64_t(p));
        rope(k, n_kv, int64_t(p));
        keys[size_t(l)].push_back(k);
        values[size_t(l)].push_back(v);
        Vec att(static_cast<size_t>(d), 0.0);
        for (int64_t h = 0; h < n_head; ++h) {
          const int64_t kvh = h / (n_head / n_kv);
          Vec s(p + 1);
          double max = -1e300;
          for (size_t j = 0; j <= p; ++j) {
            double dot = 0;
            for (int64_t e = 0; e < hd; ++e) dot += q[size_t(h * hd + e)] * keys[size_t(l)][j][size_t(kvh * hd + e)];
            s[j] = dot / std::sqrt(double(hd));
            max = std::max(max, s[j]);
          }
          double sum = 0;
          for (double& e : s) sum += (e = std::exp(e - max));
          for (size_t j = 0; j <= p; ++j)
            for (int64_t e = 0; e < hd; ++e) att[size_t(h * hd + e)] += s[j] / sum * values[size_t(l)][j][size_t(kvh * hd + e)];
        }
        Vec o = mul(b + "attn_output.weight", att);
        for (int64_t i = 0; i < d; ++i) x[size_t(i)] += o[size_t(i)];
        xn = rmsnorm(x, b + "ffn_norm.weight");
        Vec g = mul(b + "ffn_gate.weight", xn), u = mul(b + "ffn_up.weight", xn);
        for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
        Vec down = mul(b + "ffn_down.weight", g);
        for (int64_t i = 0; i < d; ++i) x[size_t(i)] += down[size_t(i)];
      }
      Vec xn = rmsnorm(x, "output_norm.weight");
      logits.push_back(mul(f.find_tensor("output.weight") ? "output.weight" : "token_embd.weight", xn));
    }
    return logits;
  }
};

// Max |engine - reference| over all logits, relative to the largest |reference| logit.
inline double relative_error(std::span<const float> got, const std::vector<Vec>& want) {
  double max_diff = 0, max_ref = 0;
  size_t i = 0;
  for (const Vec& row : want)
    for (double w : row) {
      max_diff = std::max(max_diff, std::fabs(double(got[i++]) - w));
      max_ref = std::max(max_ref, std::fabs(w));
    }
  return max_diff / max_ref;
}

}  // namespace bwscope::test_support
