// The scalar reference of every op: plain loops a reader can check against the definitions in
// a minute. SIMD tables must agree with these on random inputs (tests/kernels/).
#include <cmath>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/kernels/scalar/kquant.h"

namespace bwscope::kernels {
namespace {

DType act_type(DType w) {
  switch (w) {
    case DType::Q8_0:
    case DType::Q4_0:
      return DType::Q8_0;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return DType::Q8_K;
    default:
      return DType::F32;
  }
}

void prepare_act(DType w, const float* x, int64_t ldx, int64_t n_tok, int64_t cols, uint8_t* out,
                 size_t out_stride) {
  DType a = act_type(w);
  for (int64_t t = 0; t < n_tok; ++t) quantize_row(a, x + t * ldx, out + t * out_stride, cols);
}

// Float weights: dequantize one element at a time, accumulate in f32.
float dot_float(DType type, const uint8_t* row, const float* x, int64_t n) {
  float sum = 0.0f;
  switch (type) {
    case DType::F32: {
      const auto* w = reinterpret_cast<const float*>(row);
      for (int64_t i = 0; i < n; ++i) sum += w[i] * x[i];
      break;
    }
    case DType::F16: {
      const auto* w = reinterpret_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) sum += f16_to_f32(w[i]) * x[i];
      break;
    }
    case DType::BF16: {
      const auto* w = reinterpret_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) sum += bf16_to_f32(w[i]) * x[i];
      break;
    }
    default:
      fail("matmul: no float dot product for {}", dtype_name(type));
  }
  return sum;
}

// Quantized weights against Q8_0 activations: exact integer sums per block, then scaled.
float dot_q8_0(const BlockQ8_0* w, const BlockQ8_0* x, int64_t n_blocks) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    int32_t acc = 0;
    for (int j = 0; j < kQK8_0; ++j) acc += int32_t(w[b].qs[j]) * int32_t(x[b].qs[j]);
    sum += float(acc) * f16_to_f32(w[b].d) * f16_to_f32(x[b].d);
  }
  return sum;
}

float dot_q4_0(const BlockQ4_0* w, const BlockQ8_0* x, int64_t n_blocks) {
  float sum = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    int32_t acc = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      acc += ((w[b].qs[j] & 0x0f) - 8) * int32_t(x[b].qs[j]);
      acc += ((w[b].qs[j] >> 4) - 8) * int32_t(x[b].qs[j + kQK4_0 / 2]);
    }
    sum += float(acc) * f16_to_f32(w[b].d) * f16_to_f32(x[b].d);
  }
  return sum;
}

void matmul(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
            int64_t row0, int64_t row1) {
  std::vector<uint8_t> plain(w.interleaved ? w.row_bytes : 0);  // a row of the interleaved layout, as stored in rows
  for (int64_t t = 0; t < n_tok; ++t) {
    const uint8_t* x = act + t * act_stride;
    for (int64_t r = row0; r < row1; ++r) {
      const uint8_t* row = w.data + r * w.row_bytes;
      if (w.interleaved) {
        read_row(w, r, plain.data());
        row = plain.data();
      }
      float v;
      switch (w.type) {
        case DType::Q8_0:
          v = dot_q8_0(reinterpret_cast<const BlockQ8_0*>(row), reinterpret_cast<const BlockQ8_0*>(x), w.cols / kQK8_0);
          break;
        case DType::Q4_0:
          v = dot_q4_0(reinterpret_cast<const BlockQ4_0*>(row), reinterpret_cast<const BlockQ8_0*>(x), w.cols / kQK4_0);
          break;
        case DType::Q4_K:
        case DType::Q5_K:
        case DType::Q6_K:
          v = kquant::dot(w.type, row, x, w.cols);
          break;
        default:
          v = dot_float(w.type, row, reinterpret_cast<const float*>(x), w.cols);
      }
      y[t * ldy + r] = v;
    }
  }
}

void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  float scale = 1.0f / std::sqrt(ss / float(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const float* inv_freq) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    float theta = float(pos) * inv_freq[i];
    float c = std::cos(theta), s = std::sin(theta);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* p = x + h * head_dim + 2 * i;
      float a = p[0], b = p[1];
      p[0] = a * c - b * s;
      p[1] = a * s + b * c;
    }
  }
}

float kv_at(const uint8_t* base, DType type, int64_t i) {
  return type == DType::F16 ? f16_to_f32(reinterpret_cast<const uint16_t*>(base)[i])
                            : reinterpret_cast<const float*>(base)[i];
}

void attention(const AttentionArgs& a) {
  const int64_t group = a.n_head / a.n_kv_head;
  for (int64_t h = a.head0; h < a.head1; ++h) {
    const float* q = a.q + h * a.head_dim;
    const int64_t kv_off = (h / group) * a.head_stride;
    float max = -INFINITY;
    for (int64_t p = 0; p < a.n_kv; ++p) {
      float s = 0.0f;
      for (int64_t d = 0; d < a.head_dim; ++d) s += q[d] * kv_at(a.k, a.kv_type, kv_off + p * a.head_dim + d);
      a.scores[p] = s * a.scale;
      max = std::max(max, a.scores[p]);
    }
    float sum = 0.0f;
    for (int64_t p = 0; p < a.n_kv; ++p) sum += (a.scores[p] = std::exp(a.scores[p] - max));
    float* out = a.out + h * a.head_dim;
    for (int64_t d = 0; d < a.head_dim; ++d) out[d] = 0.0f;
    for (int64_t p = 0; p < a.n_kv; ++p) {
      float w = a.scores[p] / sum;
      for (int64_t d = 0; d < a.head_dim; ++d) out[d] += w * kv_at(a.v, a.kv_type, kv_off + p * a.head_dim + d);
    }
  }
}

void store_kv(const float* x, int64_t n, DType kv_type, uint8_t* dst) { quantize_row(kv_type, x, dst, n); }

}  // namespace

const Ops& scalar_ops() {
  static const Ops ops{"scalar", act_type, prepare_act, matmul, rmsnorm, swiglu, rope, attention, store_kv,
                       [](DType) { return false; }};
  return ops;
}

}  // namespace bwscope::kernels
