// Helpers shared by the AVX2 kernel files (included only by files under kernels/avx2/, which
// are compiled with -mavx2 -mfma -mf16c).
//
// As for AVX-512: only intrinsics, builtins and out-of-line library functions here, never an
// inline function shared with the rest of the program, which the linker could otherwise pick
// in its AVX2 form for callers on CPUs without AVX2.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "bwscope/kernels/ops.h"

namespace bwscope::kernels::avx2 {

void matmul_float(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1);
// The packed kernel for many tokens (gemm_float_avx2.cpp); matmul_float routes prefill to it.
void float_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1);
void matmul_quant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1);
// F32/F16/BF16 weights in the interleaved layout (Matrix::interleaved), few tokens.
void matmul_float_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1);
// Q8_0/Q4_0 weights in the interleaved layout (Matrix::interleaved).
void matmul_quant_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1);
// Many tokens (prefill) of matmul_quant: weights repacked into panels (gemm_quant_avx2.cpp).
void quant_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1);
void attention(const AttentionArgs& args);

// A per-thread buffer of at least `bytes` bytes, 64-byte aligned; `slot` (0..4) picks one.
uint8_t* scratch(int slot, size_t bytes);

namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// The first n (0 < n < 8) 16-bit elements from element i of a row, through a zero-padded copy
// (AVX2 has no 16-bit masked loads), so a row's tail is never read past.
inline __m128i load_part16(const uint8_t* row, int64_t i, int64_t n) {
  alignas(16) uint16_t tmp[8] = {};
  std::memcpy(tmp, row + 2 * i, size_t(n & 7) * 2);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}
// 8 bf16 values as f32 (bf16 is the upper half of an f32).
inline __m256 widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }

// Σ of 32 signed bytes at p (a Q8_0 block's quants).
inline int32_t sum_i8x32(const uint8_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), v), _mm256_set1_epi16(1));
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  return _mm_cvtsi128_si32(h);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lane mask (all ones) for the first n (0..8) 32-bit lanes, for maskload/maskstore.
inline __m256i first_lanes8(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 8 ? n : 8)), idx);
}

// e^x for every lane, |relative error| < 2e-7; overflows to inf and underflows (through the
// subnormals) to 0 like expf. x = n ln2 + r, degree-7 polynomial for e^r, and 2^n applied as
// two exponent-field multiplications so n may leave the normal exponent range.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  const __m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}

}  // namespace
}  // namespace bwscope::kernels::avx2
