// Q8_0 and Q4_0 weights × Q8_0 activations on AVX2 (no VNNI): vpmaddubsw multiplies unsigned
// by signed bytes into saturating 16-bit pair sums, vpmaddwd adds those pairs into 32 bits.
// Q8_0: |w| × (x with w's sign) keeps every pair sum within ±2·128·127 (no saturation).
// Q4_0: the stored nibble q = w + 8 is already unsigned (pairs within ±2·15·127); the block
// sum of q·x is corrected by -8·Σx, prepared once per token.
#include "bwscope/kernels/avx2/avx2_internal.h"

namespace bwscope::kernels::avx2 {
namespace {

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Per token and block: d_x, and (Q4_0) -8·Σx.
struct TokenInfo {
  const uint8_t* quants;  // act row + 2: block b's quants at quants + 34 b
  const float* dx;
  const int32_t* neg_sum8;
};

void prepare_token(const uint8_t* act, int64_t nb, bool sums, float* dx, int32_t* neg_sum8) {
  for (int64_t b = 0; b < nb; ++b) {
    dx[b] = half_to_float(load_u16(act + b * sizeof(BlockQ8_0)));
    if (!sums) continue;
    neg_sum8[b] = -8 * sum_i8x32(act + b * sizeof(BlockQ8_0) + 2);
  }
}

template <bool kQ8, int R, int T>
void tile(const uint8_t* w, size_t rb, int64_t nb, const TokenInfo* tok, float* y, int64_t ldy) {
  const __m256i ones16 = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0f);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      __m256i wq, wu;  // weights as stored, and the unsigned operand
      float dw;
      if constexpr (kQ8) {
        const uint8_t* p = w + r * rb + b * sizeof(BlockQ8_0);
        wq = load256(p + 2);
        wu = _mm256_sign_epi8(wq, wq);
        dw = half_to_float(load_u16(p));
      } else {
        const uint8_t* p = w + r * rb + b * sizeof(BlockQ4_0);
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
        wq = wu = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), nibble);
        dw = half_to_float(load_u16(p));
      }
      for (int t = 0; t < T; ++t) {
        __m256i x = load256(tok[t].quants + b * sizeof(BlockQ8_0));
        if constexpr (kQ8) x = _mm256_sign_epi8(x, wq);
        __m256i sum = _mm256_madd_epi16(_mm256_maddubs_epi16(wu, x), ones16);
        if constexpr (!kQ8) sum = _mm256_add_epi32(sum, _mm256_zextsi128_si256(_mm_cvtsi32_si128(tok[t].neg_sum8[b])));
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(dw * tok[t].dx[b]), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r] = hsum(acc[r][t]);
}

using TileFn = void (*)(const uint8_t*, size_t, int64_t, const TokenInfo*, float*, int64_t);

template <bool kQ8>
TileFn pick(int64_t nr, int64_t nt) {
  if (nt == 1) {
    switch (nr) {
      case 1: return &tile<kQ8, 1, 1>;
      case 2: return &tile<kQ8, 2, 1>;
      case 3: return &tile<kQ8, 3, 1>;
      default: return &tile<kQ8, 4, 1>;
    }
  }
  return nr == 1 ? &tile<kQ8, 1, 2> : &tile<kQ8, 2, 2>;
}

constexpr int64_t kMaxDecodeTokens = 4;  // more go to quant_gemm (1.2x faster at 5 tokens, 1.25-1.7x at 8)

}  // namespace

void matmul_quant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1) {
  if (n_tok > kMaxDecodeTokens) return quant_gemm(w, act, act_stride, n_tok, y, ldy, row0, row1);
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  const size_t per_tok = size_t(nb) * 8;
  uint8_t* info = scratch(0, per_tok * size_t(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) {
    float* dx = reinterpret_cast<float*>(info + t * per_tok);
    prepare_token(act + t * act_stride, nb, !q8, dx, reinterpret_cast<int32_t*>(dx + nb));
  }
  const int64_t rows_per_tile = n_tok == 1 ? 4 : 2, toks_per_tile = 2;
  // Tokens in blocks whose activations stay in L2 while every row tile passes over them.
  const int64_t block = int64_t((256 << 10) / (act_stride + per_tok)) / toks_per_tile * toks_per_tile;
  const int64_t tok_block = block < toks_per_tile ? toks_per_tile : block;
  for (int64_t t0 = 0; t0 < n_tok; t0 += tok_block) {
    const int64_t t1 = min64(n_tok, t0 + tok_block);
    for (int64_t r = row0; r < row1; r += rows_per_tile) {
      const int64_t nr = min64(rows_per_tile, row1 - r);
      for (int64_t t = t0; t < t1; t += toks_per_tile) {
        const int64_t nt = min64(toks_per_tile, t1 - t);
        TokenInfo tok[2];
        for (int64_t k = 0; k < nt; ++k) {
          const float* dx = reinterpret_cast<const float*>(info + (t + k) * per_tok);
          tok[k] = {act + (t + k) * act_stride + 2, dx, reinterpret_cast<const int32_t*>(dx + nb)};
        }
        (q8 ? pick<true>(nr, nt) : pick<false>(nr, nt))(w.data + r * w.row_bytes, w.row_bytes, nb, tok, y + t * ldy + r, ldy);
      }
    }
  }
}

}  // namespace bwscope::kernels::avx2
