// The AVX-512 kernel table (F/BW/VL/DQ/VNNI/BF16): activation preparation, the element-wise
// ops and the table itself. Matrix products are in matmul_*_avx512.cpp, attention in
// attention_avx512.cpp.
#include <math.h>

#include <cstdlib>

#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/avx512/kquant_avx512.h"
#include "bwscope/kernels/cpu_features.h"

namespace bwscope::kernels {
namespace avx512 {

uint8_t* scratch(int slot, size_t bytes) {
  struct Buffers {
    uint8_t* data[4] = {};
    size_t size[4] = {};
    ~Buffers() {
      for (uint8_t* p : data) std::free(p);
    }
  };
  thread_local Buffers buffers;
  if (buffers.size[slot] < bytes) {
    std::free(buffers.data[slot]);
    const size_t rounded = (bytes + 4095) / 4096 * 4096;
    buffers.data[slot] = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
    buffers.size[slot] = buffers.data[slot] ? rounded : 0;
    if (!buffers.data[slot]) std::abort();  // out of memory for a few MiB of scratch
  }
  return buffers.data[slot];
}

namespace {

// BF16 weights multiply BF16 activations (vdpbf16ps takes bf16 pairs), as llama.cpp does:
// the activation rounding (relative 2^-9 per element) is the price of 2x the FLOP rate.
DType act_type(DType w) {
  switch (w) {
    case DType::Q8_0:
    case DType::Q4_0:
      return DType::Q8_0;
    case DType::BF16:
      return DType::BF16;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return DType::Q8_K;
    default:
      return DType::F32;
  }
}

// Q8_0 exactly as the reference quantizer: d = amax / 127, q = lround(x / d) (half away from
// zero), so the bytes agree with scalar quantize_row.
void quantize_q8_0(const float* x, uint8_t* out, int64_t n) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 sign_mask = _mm512_castsi512_ps(_mm512_set1_epi32(int(0x80000000u)));
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const __m512 v[2] = {_mm512_loadu_ps(x + b * kQK8_0), _mm512_loadu_ps(x + b * kQK8_0 + 16)};
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(v[0], abs_mask), _mm512_and_ps(v[1], abs_mask)));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = out + b * sizeof(BlockQ8_0);
    const uint16_t dh = f32_to_f16(d);
    std::memcpy(blk, &dh, 2);
    for (int h = 0; h < 2; ++h) {
      const __m512 s = _mm512_mul_ps(v[h], _mm512_set1_ps(id));
      const __m512 t = _mm512_roundscale_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __mmask16 half_up =
          _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_sub_ps(s, t), abs_mask), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
      const __m512 one = _mm512_or_ps(_mm512_and_ps(s, sign_mask), _mm512_set1_ps(1.0f));
      const __m512i q = _mm512_cvttps_epi32(_mm512_mask_add_ps(t, half_up, t, one));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(blk + 2 + 16 * h), _mm512_cvtsepi32_epi8(q));
    }
  }
}

// f32 -> bf16 round to nearest even, NaN kept NaN (as dtype.h's f32_to_bf16).
__m256i to_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}

void convert_bf16(const float* x, uint8_t* out, int64_t n) {
  auto* h = reinterpret_cast<uint16_t*>(out);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes16(n - i);
    _mm256_mask_storeu_epi16(h + i, m, to_bf16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void copy_f32(const float* x, uint8_t* out, int64_t n) {
  auto* f = reinterpret_cast<float*>(out);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes16(n - i);
    _mm512_mask_storeu_ps(f + i, m, _mm512_maskz_loadu_ps(m, x + i));
  }
}

void prepare_act(DType w, const float* x, int64_t ldx, int64_t n_tok, int64_t cols, uint8_t* out, size_t out_stride) {
  const DType a = act_type(w);
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xt = x + t * ldx;
    uint8_t* ot = out + size_t(t) * out_stride;
    if (a == DType::Q8_0) quantize_q8_0(xt, ot, cols);
    else if (a == DType::Q8_K) quantize_q8_k(xt, ot, cols);
    else if (a == DType::BF16) convert_bf16(xt, ot, cols);
    else copy_f32(xt, ot, cols);
  }
}

void matmul(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy, int64_t row0,
            int64_t row1) {
  if (row1 <= row0 || n_tok <= 0) return;
  switch (w.type) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
      return matmul_float(w, act, act_stride, n_tok, y, ldy, row0, row1);
    case DType::Q8_0:
    case DType::Q4_0:
      if (w.interleaved) return matmul_quant_interleaved(w, act, act_stride, n_tok, y, ldy, row0, row1);
      return matmul_quant(w, act, act_stride, n_tok, y, ldy, row0, row1);
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return matmul_kquant(w, act, act_stride, n_tok, y, ldy, row0, row1);
    default:  // the reference reports the unsupported type
      return scalar_ops().matmul(w, act, act_stride, n_tok, y, ldy, row0, row1);
  }
}

// out = x / sqrt(mean(x²) + eps) * weight; the sum of squares in 4 vector partial sums.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int k = 0; k < 4; ++k) {
      const __m512 v = _mm512_loadu_ps(x + i + 16 * k);
      acc[k] = _mm512_fmadd_ps(v, v, acc[k]);
    }
  for (; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(first_lanes16(n - i), x + i);
    acc[0] = _mm512_fmadd_ps(v, v, acc[0]);
  }
  const float ss = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  const float scale = 1.0f / __builtin_sqrtf(ss / float(n) + eps);
  const __m512 s = _mm512_set1_ps(scale);
  for (i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes16(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s), _mm512_maskz_loadu_ps(m, weight + i));
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

// out = gate / (1 + e^-gate) * up
void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes16(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 v = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, up + i));
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

// Adjacent pairs (x[2i], x[2i+1]) rotated by pos * inv_freq[i]. cos/sin come from libm per
// frequency (head_dim/2 of them, shared by all heads), as in the reference; the rotation of
// 8 pairs at a time is x * (c, c) + swap(x) * (-s, s).
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const float* inv_freq) {
  const int64_t half = head_dim / 2;
  alignas(64) float cs[16], sn[16];
  for (int64_t i0 = 0; i0 < half; i0 += 8) {
    const int64_t np = min64(8, half - i0);
    for (int64_t j = 0; j < 8; ++j) {
      float c = 1.0f, s = 0.0f;
      if (j < np) {
        const float theta = float(pos) * inv_freq[i0 + j];
        c = cosf(theta);
        s = sinf(theta);
      }
      cs[2 * j] = cs[2 * j + 1] = c;
      sn[2 * j] = -s;
      sn[2 * j + 1] = s;
    }
    const __m512 c = _mm512_load_ps(cs), s = _mm512_load_ps(sn);
    const __mmask16 m = first_lanes16(2 * np);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* p = x + h * head_dim + 2 * i0;
      const __m512 v = _mm512_maskz_loadu_ps(m, p);
      const __m512 swapped = _mm512_permute_ps(v, 0xb1);  // (b, a) in each pair
      _mm512_mask_storeu_ps(p, m, _mm512_fmadd_ps(swapped, s, _mm512_mul_ps(v, c)));
    }
  }
}

void store_kv(const float* x, int64_t n, DType kv_type, uint8_t* dst) {
  if (kv_type == DType::F32) return copy_f32(x, dst, n);
  if (kv_type != DType::F16) return quantize_row(kv_type, x, dst, n);
  auto* h = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes16(n - i);
    const __m256i v = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(h + i, m, v);
  }
}

// Every type with an interleaved layout. Float weights (1B, Sapphire Rapids VM, 2026-12-03, 8
// interleaved rounds): decode F16 6.8 -> 8.3 tokens/s median (6 of 8 rounds), BF16 7.7 -> 8.6
// (7 of 8); 4 sequences at once 14-24 -> 30-36; pp512 the same within noise.
bool prefers_interleaved(DType w) { return interleave_group_rows(w) > 0; }

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16") &&
         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}

}  // namespace
}  // namespace avx512

const Ops* avx512_ops() {
  static const Ops ops{"avx512",        avx512::act_type, avx512::prepare_act, avx512::matmul,  avx512::rmsnorm,
                       avx512::swiglu,  avx512::rope,     avx512::attention,   avx512::store_kv,
                       avx512::prefers_interleaved};
  static const bool available = avx512::cpu_has_avx512();
  return available ? &ops : nullptr;
}

}  // namespace bwscope::kernels
