// Q8_0 and Q4_0 weights in the interleaved layout (Matrix::interleaved, kernels/layout.cpp)
// × Q8_0 activations on AVX-512 VNNI, for few tokens (decode). Many tokens go to the packed
// kernel in gemm_quant_avx512.cpp, which packs its panels from either layout.
//
// Pairs of groups of 8 rows: a 64-byte vector holds the layout's 32-byte vector k of group
// A in its low half and that of group B in its high half, so its 16 four-byte lanes are 16 rows
// × 4 consecutive quant bytes. One vpdpbusd against the token's 4 matching activation bytes
// (broadcast from memory) then advances 16 rows × 4 columns: no horizontal sums, the 16 row
// scales of a block come from two 16-byte loads, and each pair is two sequential streams.
//
// vpdpbusd multiplies unsigned by signed bytes. Weights are made unsigned (Q8_0: w + 128 by
// flipping the sign bit; Q4_0: the stored nibble q = w + 8), and each block's integer sum
// starts at -c·Σx of the token's block (prepare_block_sums), so it is exactly Σ w·x; it is then
// scaled by d_w (a vector over rows) × d_x in float.
#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx512 {
namespace {

constexpr int kRows = 8;     // rows of a group
constexpr int kMaxToks = 4;  // tokens per pass (matmul_quant sends no more)
// Software prefetch distance per stream: the streams are sequential, but a group is only
// 9-17 KiB long at the model's widths (2048 columns), short for the hardware to ramp up. The
// wide passes take their groups from stretches (walk_groups), so the prefetch past a group's
// end fetches the group the same stream reads next.
// (1B Q4_0 decode, 7 interleaved rounds: 1, 2, 4 and 8 KiB were within noise of each other.)
constexpr size_t kPrefetch = 2048;
// With 1-2 tokens a pass takes four groups (two pairs): four streams in flight per core
// (bwscope_bench ReadBandwidth/K, 1 thread: 1 stream 6.8, 4 streams 12.1, 8 streams 12.8 GB/s).
// Decode of 2048 × 8192 rows, 1 thread: Q8_0 8.8 -> 10.3, Q4_0 8.3 -> 9.5 GB/s.
constexpr int64_t kQuadTokens = 2;

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
// Vector k of group A's block | vector k of group B's block.
inline __m512i load_pair(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load256(a)), load256(b), 1);
}

// Per-token inputs of one pass: activation rows, and per block -c·Σx and d_x.
struct Tokens {
  const uint8_t* x[kMaxToks];
  const int32_t* neg_sum[kMaxToks];
  const float* dx[kMaxToks];
};

// out[t · ldo + g · ostride + i] = row i of the pass's group g (of 2P) · token t, for T tokens.
// Group g starts at a + g·gstride (gstride 0: one group alone, lanes 8..15 repeat lanes 0..7).
template <bool kQ8, int T, int P>
void pass(const uint8_t* a, size_t gstride, int64_t nb, const Tokens& tok, float* out, int64_t ostride, int64_t ldo) {
  constexpr size_t kBlock = kRows * (kQ8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const __m512i bias = _mm512_set1_epi8(char(0x80)), nibble = _mm512_set1_epi8(0x0f);
  __m512 acc[P][T];
  for (int p = 0; p < P; ++p)
    for (int t = 0; t < T; ++t) acc[p][t] = _mm512_setzero_ps();
  for (int64_t j = 0; j < nb; ++j) {
    const size_t xo = size_t(j) * sizeof(BlockQ8_0) + 2;
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      const uint8_t* pa = a + 2 * p * gstride + j * kBlock;
      const uint8_t* pb = pa + gstride;
      for (size_t l = 0; l < kBlock; l += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(pa + kPrefetch + l), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(pb + kPrefetch + l), _MM_HINT_T0);
      }
      // Two partial sums per token: the vpdpbusd chain of a block is half as long.
      __m512i s0[T], s1[T];
      for (int t = 0; t < T; ++t) {
        s0[t] = _mm512_set1_epi32(tok.neg_sum[t][j]);
        s1[t] = _mm512_setzero_si512();
      }
      if constexpr (kQ8) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k += 2) {
          const __m512i w0 = _mm512_xor_si512(load_pair(pa + 16 + 32 * k, pb + 16 + 32 * k), bias);
          const __m512i w1 = _mm512_xor_si512(load_pair(pa + 48 + 32 * k, pb + 48 + 32 * k), bias);
          for (int t = 0; t < T; ++t) {
            s0[t] = _mm512_dpbusd_epi32(s0[t], w0, _mm512_set1_epi32(load_i32(tok.x[t] + xo + 4 * k)));
            s1[t] = _mm512_dpbusd_epi32(s1[t], w1, _mm512_set1_epi32(load_i32(tok.x[t] + xo + 4 * k + 4)));
          }
        }
      } else {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const __m512i v = load_pair(pa + 16 + 32 * k, pb + 16 + 32 * k);
          const __m512i lo = _mm512_and_si512(v, nibble), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
          for (int t = 0; t < T; ++t) {
            s0[t] = _mm512_dpbusd_epi32(s0[t], lo, _mm512_set1_epi32(load_i32(tok.x[t] + xo + 4 * k)));
            s1[t] = _mm512_dpbusd_epi32(s1[t], hi, _mm512_set1_epi32(load_i32(tok.x[t] + xo + 16 + 4 * k)));
          }
        }
      }
      const __m256i dh = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(pa)), load128(pb), 1);
      const __m512 dw = _mm512_cvtph_ps(dh);
      for (int t = 0; t < T; ++t) {
        const __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0[t], s1[t]));
        acc[p][t] = _mm512_fmadd_ps(sum, _mm512_mul_ps(dw, _mm512_set1_ps(tok.dx[t][j])), acc[p][t]);
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int t = 0; t < T; ++t) {
      _mm256_storeu_ps(out + t * ldo + 2 * p * ostride, _mm512_castps512_ps256(acc[p][t]));
      _mm256_storeu_ps(out + t * ldo + (2 * p + 1) * ostride, _mm512_extractf32x8_ps(acc[p][t], 1));
    }
}

using PassFn = void (*)(const uint8_t*, size_t, int64_t, const Tokens&, float*, int64_t, int64_t);

template <bool kQ8, int P>
PassFn pick(int64_t nt) {
  if constexpr (P == 2) {  // four groups at once run for kQuadTokens tokens at most
    static_assert(kQuadTokens == 2);
    return nt == 1 ? &pass<kQ8, 1, 2> : &pass<kQ8, 2, 2>;
  }
  switch (nt) {
    case 1: return &pass<kQ8, 1, P>;
    case 2: return &pass<kQ8, 2, P>;
    case 3: return &pass<kQ8, 3, P>;
    default: return &pass<kQ8, 4, P>;
  }
}

}  // namespace

void matmul_quant_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1) {
  if (n_tok > kMaxToks) return quant_gemm(w, act, act_stride, n_tok, y, ldy, row0, row1);
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  const size_t group_bytes = size_t(nb) * kRows * (q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
  const size_t aux_stride = size_t(nb) * 8;
  uint8_t* aux = scratch(0, aux_stride * size_t(n_tok));
  Tokens tok{};
  for (int64_t t = 0; t < n_tok; ++t) {
    auto* neg_sum = reinterpret_cast<int32_t*>(aux + t * aux_stride);
    auto* dx = reinterpret_cast<float*>(neg_sum + nb);
    prepare_block_sums(act + t * act_stride, nb, q8 ? 7 : 3, neg_sum, dx);
    tok.x[t] = act + t * act_stride;
    tok.neg_sum[t] = neg_sum;
    tok.dx[t] = dx;
  }
  const PassFn one = q8 ? pick<true, 1>(n_tok) : pick<false, 1>(n_tok);
  const PassFn two = q8 ? pick<true, 2>(n_tok) : pick<false, 2>(n_tok);
  // Passes of four groups (two pairs) for few tokens, else pairs; a group alone (cut by the
  // range, or the last of an odd count) runs as a pair with itself (group stride 0).
  const GroupWalk walk{kRows, group_bytes, n_tok <= kQuadTokens ? 4 : 2, 2, 2 * kRows};
  const auto pass = [&](PassFn fn, bool alone) {
    return [&, fn, alone](const uint8_t* g, int64_t step, float* out, int64_t ldo) {
      fn(g, alone ? 0 : size_t(step) * group_bytes, nb, tok, out, step * kRows, ldo);
    };
  };
  walk_groups(walk, w.data, n_tok, y, ldy, row0, row1, pass(walk.wide == 4 ? two : one, false), pass(one, false),
              pass(one, true));
}

}  // namespace bwscope::kernels::avx512
