// Helpers shared by the AVX-512 kernel files (included only by files under kernels/avx512/,
// which are compiled with the AVX-512 flags).
//
// Everything here has internal linkage or lives in the avx512 namespace: an inline function
// shared with the rest of the program (std:: templates, dtype.h's inline helpers) would be
// emitted here with AVX-512 instructions and could be picked by the linker for callers that
// run on CPUs without them. So these files call only intrinsics, builtins and out-of-line
// functions of the library.
#pragma once

// GCC 12 warns about the deliberately undefined registers inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "bwscope/kernels/ops.h"

namespace bwscope::kernels::avx512 {

void matmul_float(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1);
void matmul_quant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1);
// Packed kernels for many tokens (prefill), used by the two above.
void float_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1);
void quant_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1);
// F32/F16/BF16 weights in the interleaved layout (Matrix::interleaved), up to 7 tokens.
void matmul_float_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1);
// Q8_0/Q4_0 weights in the interleaved layout (Matrix::interleaved), any number of tokens.
void matmul_quant_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1);
// For the nb blocks of one Q8_0 activation row: neg_sum[b] = -(Σx of block b << shift) (the
// correction for weights made unsigned by adding c = 1 << shift) and dx[b] = its scale.
void prepare_block_sums(const uint8_t* act, int64_t nb, int shift, int32_t* neg_sum, float* dx);
void attention(const AttentionArgs& args);

// A per-thread buffer of at least `bytes` bytes, 64-byte aligned; `slot` picks one of a few
// independent buffers. Contents are not kept between calls with different sizes.
uint8_t* scratch(int slot, size_t bytes);

namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// Software prefetch of the bytes [p, p + n) into L1. Decode kernels read R rows at once, each
// only a few KiB long: too short for the hardware stream prefetchers to ramp up, so the
// kernels ask for the next tile's bytes one tile ahead.
inline void prefetch_bytes(const uint8_t* p, int n) {
  for (int i = 0; i < n; i += 64) _mm_prefetch(reinterpret_cast<const char*>(p) + i, _MM_HINT_T0);
}

// 16 bf16 -> 16 f32 (exact: the bf16 bits are the top half of the f32 bits).
inline __m512 bf16_to_f32(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

// Mask of the first n (0..16) lanes.
inline __mmask16 first_lanes16(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }
inline __mmask32 first_lanes32(int64_t n) { return n >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << n) - 1); }

// e^x for every lane, |relative error| < 2e-7 over the float range; overflows to inf and
// underflows to 0 like expf. Range reduction x = n ln2 + r (|r| <= ln2/2, ln2 split in two
// parts so n ln2 is exact), degree-7 Taylor polynomial for e^r, then scalef by 2^n.
inline __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace
}  // namespace bwscope::kernels::avx512
