// Q8_0 and Q4_0 weights × Q8_0 activations on AVX-512 VNNI, for few tokens (decode): rows are
// streamed straight from the GGUF layout, 4 at a time from 4 stretches, several blocks per step. Many tokens
// go to the packed kernel in gemm_quant_avx512.cpp.
//
// vpdpbusd multiplies unsigned by signed bytes. Weights are made unsigned (Q8_0: w + 128 by
// flipping the sign bit; Q4_0: the stored nibble q = w + 8), so each 4-byte lane sums
// (w + c)·x; the accumulator starts at -c·Σx, prepared once per call from the activations.
// Integer sums per block are exact; each block's sum is scaled by d_w·d_x in float.
#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx512 {

namespace {

// Word indices for vpermt2w, which picks 32 words out of two 64-byte registers.
struct alignas(64) WordIndex {
  uint16_t v[32];
};
// Q8_0 blocks are 17 words (scale first). Scales of blocks 0..3, each repeated 8 times.
constexpr WordIndex q8_scale_index() {
  WordIndex x{};
  for (int i = 0; i < 32; ++i) x.v[i] = uint16_t(17 * (i / 8));
  return x;
}
// Q4_0 blocks are 9 words (scale, then 16 nibble bytes). Scales of blocks 0..7, 4 times each.
constexpr WordIndex q4_scale_index() {
  WordIndex x{};
  for (int i = 0; i < 32; ++i) x.v[i] = uint16_t(9 * (i / 4));
  return x;
}
// Nibble bytes of blocks 0..3 out of (bytes 0..63, bytes 64..127).
constexpr WordIndex q4_quants_lo_index() {
  WordIndex x{};
  for (int i = 0; i < 32; ++i) x.v[i] = uint16_t(9 * (i / 8) + 1 + i % 8);
  return x;
}
// Nibble bytes of blocks 4..7 out of (bytes 64..127, bytes 80..143).
constexpr WordIndex q4_quants_hi_index() {
  WordIndex x{};
  for (int i = 0; i < 32; ++i) {
    const int word = 9 * (4 + i / 8) + 1 + i % 8;
    x.v[i] = uint16_t(word < 64 ? word - 32 : 32 + word - 40);
  }
  return x;
}
constexpr WordIndex kQ8Scales = q8_scale_index(), kQ4Scales = q4_scale_index();
constexpr WordIndex kQ4QuantsLo = q4_quants_lo_index(), kQ4QuantsHi = q4_quants_hi_index();

inline __m512i load_index(const WordIndex& x) { return _mm512_load_si512(x.v); }
inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline const uint8_t* act_quants(const uint8_t* act, int64_t b) { return act + b * sizeof(BlockQ8_0) + 2; }
inline float act_scale(const uint8_t* act, int64_t b) { return half_to_float(load_u16(act + b * sizeof(BlockQ8_0))); }

// Per-token activation layout for the Q8_0 kernel, per group of 4 blocks (384 bytes):
// quants of blocks 0..3 (128), -128·Σx per 4-byte lane (128), d_x per lane (128).
constexpr size_t kQ8Group = 384;
void prepare_q8_act(const uint8_t* act, int64_t nb, uint8_t* out) {
  const __m512i bias = _mm512_set1_epi8(char(0x80));
  for (int64_t j = 0; j < nb / 4; ++j)
    for (int h = 0; h < 2; ++h) {
      const int64_t b = 4 * j + 2 * h;
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(load256(act_quants(act, b))), load256(act_quants(act, b + 1)), 1);
      uint8_t* g = out + j * kQ8Group + 64 * h;
      _mm512_storeu_si512(g, q);
      _mm512_storeu_si512(g + 128, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, q)));
      const __m512 d = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(act_scale(act, b)), _mm512_set1_ps(act_scale(act, b + 1)));
      _mm512_storeu_ps(g + 256, d);
    }
}

// Per-token layout for Q4_0, per group of 8 blocks (512 bytes): quants 0..15 of blocks 0..3,
// quants 16..31 of blocks 0..3, the same for blocks 4..7, then -8·Σx per lane (2 × 64) and
// d_x per lane (2 × 64); lane 4k+i of a half belongs to block k.
constexpr size_t kQ4Group = 512;
void prepare_q4_act(const uint8_t* act, int64_t nb, uint8_t* out) {
  const __m512i eight = _mm512_set1_epi8(8);
  for (int64_t j = 0; j < nb / 8; ++j) {
    uint8_t* g = out + j * kQ4Group;
    for (int h = 0; h < 2; ++h) {
      float d[4];
      for (int k = 0; k < 4; ++k) {
        const int64_t b = 8 * j + 4 * h + k;
        const __m256i q = load256(act_quants(act, b));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(g + 128 * h + 16 * k), _mm256_castsi256_si128(q));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(g + 128 * h + 64 + 16 * k), _mm256_extracti128_si256(q, 1));
        d[k] = act_scale(act, b);
      }
      const __m512i lo = _mm512_loadu_si512(g + 128 * h), hi = _mm512_loadu_si512(g + 128 * h + 64);
      const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, lo), eight, hi);
      _mm512_storeu_si512(g + 256 + 64 * h, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
      const __m512i lane_block = _mm512_srli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 2);
      _mm512_storeu_ps(g + 384 + 64 * h, _mm512_permutexvar_ps(lane_block, _mm512_castps128_ps512(_mm_loadu_ps(d))));
    }
  }
}

// One block the slow way (the tails of rows whose block count is not a multiple of the
// group): 32 quants in a ymm, weights already made unsigned with offset c.
inline __m256 tail_block(__m256 acc, __m256i wq, const uint8_t* act, int64_t b, float dw, int c) {
  const __m256i xq = load256(act_quants(act, b));
  const __m256i neg = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(c)), xq));
  const __m256 s = _mm256_set1_ps(dw * act_scale(act, b));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_dpbusd_epi32(neg, wq, xq)), s, acc);
}

template <int R, int T>
void q8_tile(const uint8_t* w, size_t rb, size_t next, int64_t ys, int64_t nb, const uint8_t* xs, size_t xs_stride,
             const uint8_t* act, size_t act_stride, float* y, int64_t ldy) {
  const __m512i idx = load_index(kQ8Scales), bias = _mm512_set1_epi8(char(0x80));
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const int64_t ng = nb / 4;
  for (int64_t j = 0; j < ng; ++j) {
#pragma GCC unroll 8  // keeps every accumulator in a register (a loop over r would spill them)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * rb + j * 4 * sizeof(BlockQ8_0);
      prefetch_bytes(p + next, 4 * sizeof(BlockQ8_0));
      const __m512i sc = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx, _mm512_loadu_si512(p + 64));
      const __m512 s01 = _mm512_cvtph_ps(_mm512_castsi512_si256(sc)), s23 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(sc, 1));
      const __m512i w01 = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(load256(p + 2)), load256(p + 36), 1), bias);
      const __m512i w23 = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(load256(p + 70)), load256(p + 104), 1), bias);
      for (int t = 0; t < T; ++t) {
        const uint8_t* g = xs + t * xs_stride + j * kQ8Group;
        const __m512i i01 = _mm512_dpbusd_epi32(_mm512_load_si512(g + 128), w01, _mm512_load_si512(g));
        const __m512i i23 = _mm512_dpbusd_epi32(_mm512_load_si512(g + 192), w23, _mm512_load_si512(g + 64));
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i01), _mm512_mul_ps(s01, _mm512_load_ps(g + 256)), acc[r][t]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i23), _mm512_mul_ps(s23, _mm512_load_ps(g + 320)), acc[r][t]);
      }
    }
  }
  for (int64_t b = 4 * ng; b < nb; ++b)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * rb + b * sizeof(BlockQ8_0);
      const __m256i wq = _mm256_xor_si256(load256(p + 2), _mm256_set1_epi8(char(0x80)));
      const float dw = half_to_float(load_u16(p));
      for (int t = 0; t < T; ++t) {
        const __m256 part = tail_block(_mm256_setzero_ps(), wq, act + t * act_stride, b, dw, 0x80);
        acc[r][t] = _mm512_add_ps(acc[r][t], _mm512_zextps256_ps512(part));
      }
    }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r * ys] = _mm512_reduce_add_ps(acc[r][t]);
}

template <int R, int T>
void q4_tile(const uint8_t* w, size_t rb, size_t next, int64_t ys, int64_t nb, const uint8_t* xs, size_t xs_stride,
             const uint8_t* act, size_t act_stride, float* y, int64_t ldy) {
  const __m512i idx_s = load_index(kQ4Scales), idx_lo = load_index(kQ4QuantsLo), idx_hi = load_index(kQ4QuantsHi);
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  const int64_t ng = nb / 8;
  for (int64_t j = 0; j < ng; ++j) {
    for (int r = 0; r < R; ++r) {  // (unrolling this one measured slower: 9.7 vs 10.6 GB/s)
      const uint8_t* p = w + r * rb + j * 8 * sizeof(BlockQ4_0);
      prefetch_bytes(p + next, 8 * sizeof(BlockQ4_0));
      const __m512i z0 = _mm512_loadu_si512(p), z1 = _mm512_loadu_si512(p + 64), z2 = _mm512_loadu_si512(p + 80);
      const __m512i sc = _mm512_permutex2var_epi16(z0, idx_s, z1);
      const __m512 s03 = _mm512_cvtph_ps(_mm512_castsi512_si256(sc)), s47 = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(sc, 1));
      const __m512i q03 = _mm512_permutex2var_epi16(z0, idx_lo, z1), q47 = _mm512_permutex2var_epi16(z1, idx_hi, z2);
      const __m512i lo03 = _mm512_and_si512(q03, nibble), hi03 = _mm512_and_si512(_mm512_srli_epi16(q03, 4), nibble);
      const __m512i lo47 = _mm512_and_si512(q47, nibble), hi47 = _mm512_and_si512(_mm512_srli_epi16(q47, 4), nibble);
      for (int t = 0; t < T; ++t) {
        const uint8_t* g = xs + t * xs_stride + j * kQ4Group;
        __m512i i03 = _mm512_dpbusd_epi32(_mm512_load_si512(g + 256), lo03, _mm512_load_si512(g));
        i03 = _mm512_dpbusd_epi32(i03, hi03, _mm512_load_si512(g + 64));
        __m512i i47 = _mm512_dpbusd_epi32(_mm512_load_si512(g + 320), lo47, _mm512_load_si512(g + 128));
        i47 = _mm512_dpbusd_epi32(i47, hi47, _mm512_load_si512(g + 192));
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i03), _mm512_mul_ps(s03, _mm512_load_ps(g + 384)), acc[r][t]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i47), _mm512_mul_ps(s47, _mm512_load_ps(g + 448)), acc[r][t]);
      }
    }
  }
  for (int64_t b = 8 * ng; b < nb; ++b)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * rb + b * sizeof(BlockQ4_0);
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
      const __m128i m = _mm_set1_epi8(0x0f);
      const __m256i wq = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
      const float dw = half_to_float(load_u16(p));
      for (int t = 0; t < T; ++t) {
        const __m256 part = tail_block(_mm256_setzero_ps(), wq, act + t * act_stride, b, dw, 8);
        acc[r][t] = _mm512_add_ps(acc[r][t], _mm512_zextps256_ps512(part));
      }
    }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r * ys] = _mm512_reduce_add_ps(acc[r][t]);
}

// A tile's 4 rows come from 4 stretches of the range (walk_row_stretches): 4 sequential
// streams. Before, tiles took 4 rows in order (8 with 1-2 tokens), one stream per thread:
// bwscope_bench Decode (one thread, 2048 columns, 2026-12-04) q8_0 27.3-28.1 -> 35.1-36.3 GB/s
// (0.95-0.99 of the interleaved kernel), q4_0 16.1-16.4 -> 23.0-25.6 (0.65-0.70: the row
// layout's unpacking costs more than the interleaved one's, 43 against 82 GB/s in L2).
// Eight stretches read 31.6-33.5 and 21.2-21.4.
constexpr int kRows = 4;
// Bytes ahead in a stream that a spread tile prefetches (1 KiB: Q8_0 34.5 against 30.4-31.3
// at 2 KiB or at one row ahead, 25.6 at 4 KiB).
constexpr size_t kStreamPrefetch = 1024;
constexpr int64_t kMaxDecodeTokens = 4;  // more go to the packed kernel (with 4 the tiles win: -b 4 Q8_0 +12 %, Q4_0 +39 %)
using TileFn = void (*)(const uint8_t*, size_t, size_t, int64_t, int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*,
                        int64_t);

template <int R>
TileFn pick_tokens(bool q8, int64_t nt) {
  switch (nt) {
    case 1: return q8 ? &q8_tile<R, 1> : &q4_tile<R, 1>;
    case 2: return q8 ? &q8_tile<R, 2> : &q4_tile<R, 2>;
    case 3: return q8 ? &q8_tile<R, 3> : &q4_tile<R, 3>;
    default: return q8 ? &q8_tile<R, 4> : &q4_tile<R, 4>;
  }
}
TileFn pick(bool q8, int64_t nr, int64_t nt) {
  switch (nr) {
    case 1: return pick_tokens<1>(q8, nt);
    case 2: return pick_tokens<2>(q8, nt);
    case 3: return pick_tokens<3>(q8, nt);
    default: return pick_tokens<4>(q8, nt);
  }
}

}  // namespace

void matmul_quant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1) {
  if (n_tok > kMaxDecodeTokens) return quant_gemm(w, act, act_stride, n_tok, y, ldy, row0, row1);
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  const size_t xs_stride = q8 ? size_t(nb / 4) * kQ8Group : size_t(nb / 8) * kQ4Group;
  uint8_t* xs = scratch(0, xs_stride * size_t(n_tok) + 64);
  for (int64_t t = 0; t < n_tok; ++t) {
    if (q8) prepare_q8_act(act + t * act_stride, nb, xs + t * xs_stride);
    else prepare_q4_act(act + t * act_stride, nb, xs + t * xs_stride);
  }
  walk_row_stretches(row0, row1, kRows, [&](int64_t r, int64_t nr, int64_t step) {
    // A spread tile's rows are each within a sequential stream: prefetch a fixed distance
    // ahead in it. An ordered tile's successor reads the nr rows after it.
    const size_t next = step == 1 ? size_t(nr) * w.row_bytes : kStreamPrefetch;
    pick(q8, nr, n_tok)(w.data + r * w.row_bytes, size_t(step) * w.row_bytes, next, step, nb, xs, xs_stride, act, act_stride,
                        y + r, ldy);
  });
}

}  // namespace bwscope::kernels::avx512
