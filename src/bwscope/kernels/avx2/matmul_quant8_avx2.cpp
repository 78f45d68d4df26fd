// Q8_0 and Q4_0 weights in the interleaved layout (Matrix::interleaved, kernels/layout.cpp)
// × Q8_0 activations on AVX2, for any number of tokens.
//
// A 32-byte vector of the layout holds 4 consecutive quant bytes of each of 8 rows, so with
// the token's 4 matching activation bytes broadcast, vpmaddubsw + vpmaddwd leave one 32-bit
// partial sum per row: the lanes are rows, a group of 8 rows reads one sequential stream, and
// the row scales of a block are one 16-byte load. No horizontal sums, no scalar scale work.
//
// vpmaddubsw multiplies unsigned by signed bytes into saturating 16-bit pair sums:
// - Q8_0: |w| × (x with w's sign): pair sums within ±2·128·127 = ±32512, widened to 32 bits
//   (vpmaddwd) after every product;
// - Q4_0: the stored nibble q = w + 8 is unsigned: pair sums within ±2·15·127 = ±3810, so the
//   8 products of a block add up in 16 bits (±30480) before one vpmaddwd; the block sum is then
//   corrected by -8·Σx.
// Each block's exact integer sum is scaled by d_w (a vector over rows) × d_x in float.
#include <algorithm>

#include "bwscope/kernels/avx2/avx2_internal.h"

namespace bwscope::kernels::avx2 {
namespace {

constexpr int kRows = 8;     // rows of a group
constexpr int kMaxToks = 4;  // tokens per pass over a group
// Software prefetch distance: each core reads one stream, and Zen 3's prefetchers alone fall
// short of what several streams get (1B Q8_0 decode, 4 interleaved pairs: 8.6 -> 8.9 tok/s median).
constexpr size_t kPrefetch = 2048;

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Per token and block: d_x, and -8·Σx (for Q4_0).
struct BlockInfo {
  float dx;
  int32_t neg_sum8;
};

void prepare_token(const uint8_t* act, int64_t nb, BlockInfo* info) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = act + b * sizeof(BlockQ8_0);
    info[b] = {half_to_float(load_u16(blk)), -8 * sum_i8x32(blk + 2)};
  }
}

// y[t * ldy + i] = row i of the group · token t, for T tokens.
template <bool kQ8, int T>
void group(const uint8_t* w, int64_t nb, const uint8_t* const* x, const BlockInfo* const* info, float* y, int64_t ldy) {
  constexpr size_t kBlock = kRows * (kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const __m256i ones16 = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0f);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * kBlock;
    for (size_t l = 0; l < kBlock; l += 64) _mm_prefetch(reinterpret_cast<const char*>(wb + kPrefetch + l), _MM_HINT_T0);
    const size_t xo = size_t(b) * sizeof(BlockQ8_0) + 2;
    __m256i sum[T];
    if constexpr (kQ8) {
      for (int t = 0; t < T; ++t) sum[t] = _mm256_setzero_si256();
      for (int k = 0; k < 8; ++k) {
        const __m256i wv = load256(wb + 16 + 32 * k), wu = _mm256_sign_epi8(wv, wv);
        for (int t = 0; t < T; ++t) {
          const __m256i p = _mm256_maddubs_epi16(wu, _mm256_sign_epi8(broadcast4(x[t] + xo + 4 * k), wv));
          sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(p, ones16));
        }
      }
    } else {
      __m256i s16[T];
      for (int t = 0; t < T; ++t) s16[t] = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        const __m256i v = load256(wb + 16 + 32 * k);
        const __m256i lo = _mm256_and_si256(v, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
        for (int t = 0; t < T; ++t) {
          // vpaddsw, never saturating within ±30480: GCC does not reassociate it (with vpaddw it
          // regrouped the sums and spilled the products)
          s16[t] = _mm256_adds_epi16(s16[t], _mm256_maddubs_epi16(lo, broadcast4(x[t] + xo + 4 * k)));
          s16[t] = _mm256_adds_epi16(s16[t], _mm256_maddubs_epi16(hi, broadcast4(x[t] + xo + 16 + 4 * k)));
        }
      }
      for (int t = 0; t < T; ++t)
        sum[t] = _mm256_add_epi32(_mm256_madd_epi16(s16[t], ones16), _mm256_set1_epi32(info[t][b].neg_sum8));
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb)));
    for (int t = 0; t < T; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(dw, _mm256_set1_ps(info[t][b].dx)), acc[t]);
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

using GroupFn = void (*)(const uint8_t*, int64_t, const uint8_t* const*, const BlockInfo* const*, float*, int64_t);

template <bool kQ8>
GroupFn pick(int64_t nt) {
  switch (nt) {
    case 1: return &group<kQ8, 1>;
    case 2: return &group<kQ8, 2>;
    case 3: return &group<kQ8, 3>;
    default: return &group<kQ8, 4>;
  }
}

}  // namespace

void matmul_quant_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1) {
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  const size_t group_bytes = size_t(nb) * kRows * (q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  auto* info = reinterpret_cast<BlockInfo*>(scratch(0, size_t(nb * n_tok) * sizeof(BlockInfo)));
  for (int64_t t = 0; t < n_tok; ++t) prepare_token(act + t * act_stride, nb, info + t * nb);
  // Tokens in blocks whose activations stay in L2 while every group of the range passes over them.
  const int64_t per_tok = int64_t(act_stride + size_t(nb) * sizeof(BlockInfo));
  const int64_t tok_block = std::max<int64_t>(kMaxToks, (256 << 10) / per_tok / kMaxToks * kMaxToks);
  for (int64_t t0 = 0; t0 < n_tok; t0 += tok_block) {
    const int64_t t1 = min64(n_tok, t0 + tok_block);
    for (int64_t g0 = row0 / kRows * kRows; g0 < row1; g0 += kRows) {
      const uint8_t* wg = w.data + size_t(g0 / kRows) * group_bytes;
      // A group only partly in [row0, row1) goes through a small buffer.
      const bool whole = g0 >= row0 && g0 + kRows <= row1;
      for (int64_t t = t0; t < t1; t += kMaxToks) {
        const int64_t nt = min64(kMaxToks, t1 - t);
        const uint8_t* x[kMaxToks];
        const BlockInfo* inf[kMaxToks];
        for (int64_t k = 0; k < nt; ++k) {
          x[k] = act + (t + k) * act_stride;
          inf[k] = info + (t + k) * nb;
        }
        const GroupFn fn = q8 ? pick<true>(nt) : pick<false>(nt);
        if (whole) {
          fn(wg, nb, x, inf, y + t * ldy + g0, ldy);
          continue;
        }
        float part[kMaxToks * kRows];
        fn(wg, nb, x, inf, part, kRows);
        for (int64_t k = 0; k < nt; ++k)
          for (int64_t i = std::max(row0, g0); i < min64(row1, g0 + kRows); ++i) y[(t + k) * ldy + i] = part[k * kRows + i - g0];
      }
    }
  }
}

}  // namespace bwscope::kernels::avx2
