// Float-weight matrix products (F32, F16, BF16) on AVX-512. A tile of R weight rows × T tokens
// keeps R·T vector accumulators of partial dot products over the columns and reduces them
// once at the end: each weight vector loaded is reused for T tokens, each activation vector
// for R rows. A tile's 4 rows come from 4 stretches of the range (walk_row_stretches), so 4
// sequential weight streams are in flight.
// These tiles serve the row layout (weights computed on the file mapping); the interleaved
// layout has its own decode kernel (matmul_float_interleaved_avx512.cpp).
#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx512 {
namespace {

// F32 weights × F32 activations, 16 columns per step.
struct F32Weights {
  static constexpr int kStep = 16;
  using W = __m512;
  static constexpr int kWeightBytes = 4;
  static W load_w(const uint8_t* row, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static W load_w_part(const uint8_t* row, int64_t i, int64_t n) {
    return _mm512_maskz_loadu_ps(first_lanes16(n), reinterpret_cast<const float*>(row) + i);
  }
  static __m512 load_x(const uint8_t* x, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(x) + i); }
  static __m512 load_x_part(const uint8_t* x, int64_t i, int64_t n) {
    return _mm512_maskz_loadu_ps(first_lanes16(n), reinterpret_cast<const float*>(x) + i);
  }
  static __m512 madd(__m512 acc, W w, __m512 x) { return _mm512_fmadd_ps(w, x, acc); }
};

// F16 weights (converted by vcvtph2ps) × F32 activations.
struct F16Weights : F32Weights {
  static constexpr int kWeightBytes = 2;
  static W load_w(const uint8_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static W load_w_part(const uint8_t* row, int64_t i, int64_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first_lanes16(n), row + 2 * i));
  }
};

// BF16 weights × BF16 activations: vdpbf16ps adds the products of 16 bf16 pairs to 16 floats.
struct BF16Weights {
  static constexpr int kStep = 32;
  using W = __m512i;
  static constexpr int kWeightBytes = 2;
  static W load_w(const uint8_t* row, int64_t i) { return _mm512_loadu_si512(row + 2 * i); }
  static W load_w_part(const uint8_t* row, int64_t i, int64_t n) { return _mm512_maskz_loadu_epi16(first_lanes32(n), row + 2 * i); }
  static __m512i load_x(const uint8_t* x, int64_t i) { return load_w(x, i); }
  static __m512i load_x_part(const uint8_t* x, int64_t i, int64_t n) { return load_w_part(x, i, n); }
  static __m512 madd(__m512 acc, W w, __m512i x) { return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x); }
};

// Rows r < R at w + r·w_stride, results to y[t·ldy + r·ys] for tokens t < T; `next` bytes
// ahead of each row is what the following tile reads of it (prefetched).
template <class K, int R, int T>
void tile(const uint8_t* w, size_t w_stride, size_t next, int64_t ys, int64_t cols, const uint8_t* x, size_t x_stride,
          float* y, int64_t ldy) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + K::kStep <= cols; i += K::kStep) {
    typename K::W wv[R];
    for (int r = 0; r < R; ++r) {
      // The same columns of what the next tile reads of this row's stream. Worth it for every
      // token count: batched F16 decode of 4 sequences ran ~15% faster with it than without
      // (interleaved rounds, 2026-12-02); one and two tokens had it already.
      const uint8_t* row = w + r * w_stride;
      _mm_prefetch(reinterpret_cast<const char*>(row + next + K::kWeightBytes * i), _MM_HINT_T0);
      wv[r] = K::load_w(row, i);
    }
    for (int t = 0; t < T; ++t) {
      const auto xv = K::load_x(x + t * x_stride, i);
      for (int r = 0; r < R; ++r) acc[r][t] = K::madd(acc[r][t], wv[r], xv);
    }
  }
  if (i < cols) {
    const int64_t n = cols - i;
    typename K::W wv[R];
    for (int r = 0; r < R; ++r) wv[r] = K::load_w_part(w + r * w_stride, i, n);
    for (int t = 0; t < T; ++t) {
      const auto xv = K::load_x_part(x + t * x_stride, i, n);
      for (int r = 0; r < R; ++r) acc[r][t] = K::madd(acc[r][t], wv[r], xv);
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r * ys] = _mm512_reduce_add_ps(acc[r][t]);
}

// Rows from 4 stretches (4 sequential streams) instead of 4 rows in order: bwscope_bench
// Decode f16 (one thread, 2048 columns, 2026-12-04) 32.9-33.2 -> 35.9-37.9 GB/s, 0.99-1.04 of
// the interleaved kernel; 3B F16 decode on the file mapping 12-15 -> 14-15 GB/s on a page
// cache of small folios, 15-20 -> 23 GB/s on 2 MiB ones (bench --layout file, 3 rounds).
constexpr int kRows = 4, kToks = 6;
// Bytes ahead in a stream that a spread tile prefetches (1-2 KiB: 35.9-37.9 GB/s against
// 32.9-33.2 at one 4 KiB row ahead, 34.2 at 512 bytes).
constexpr size_t kStreamPrefetch = 2048;
constexpr int64_t kPackedMinTokens = 8;  // from here on the packed kernel (gemm_float_avx512.cpp) wins
using TileFn = void (*)(const uint8_t*, size_t, size_t, int64_t, int64_t, const uint8_t*, size_t, float*, int64_t);

template <class K, int R>
TileFn pick_tokens(int64_t nt) {
  switch (nt) {
    case 1: return &tile<K, R, 1>;
    case 2: return &tile<K, R, 2>;
    case 3: return &tile<K, R, 3>;
    case 4: return &tile<K, R, 4>;
    case 5: return &tile<K, R, 5>;
    default: return &tile<K, R, 6>;
  }
}
template <class K>
TileFn pick(int64_t nr, int64_t nt) {
  switch (nr) {
    case 1: return pick_tokens<K, 1>(nt);
    case 2: return pick_tokens<K, 2>(nt);
    case 3: return pick_tokens<K, 3>(nt);
    default: return pick_tokens<K, 4>(nt);
  }
}

template <class K>
void run(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy, int64_t row0,
         int64_t row1) {
  // Tokens in blocks whose activations stay in L2 while every row tile passes over them.
  const int64_t block = act_stride ? int64_t((256 << 10) / act_stride) / kToks * kToks : n_tok;
  const int64_t tok_block = block < kToks ? kToks : block;
  for (int64_t t0 = 0; t0 < n_tok; t0 += tok_block) {
    const int64_t t1 = min64(n_tok, t0 + tok_block);
    walk_row_stretches(row0, row1, kRows, [&](int64_t r, int64_t nr, int64_t step) {
      // A spread tile's rows are each within a sequential stream: prefetch a fixed distance
      // ahead in it. An ordered tile's successor reads the nr rows after it.
      const size_t next = step == 1 ? size_t(nr) * w.row_bytes : kStreamPrefetch;
      for (int64_t t = t0; t < t1; t += kToks) {
        const int64_t nt = min64(kToks, t1 - t);
        pick<K>(nr, nt)(w.data + r * w.row_bytes, size_t(step) * w.row_bytes, next, step, w.cols, act + t * act_stride,
                        act_stride, y + t * ldy + r, ldy);
      }
    });
  }
}

}  // namespace

void matmul_float(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                  int64_t row0, int64_t row1) {
  if (n_tok >= kPackedMinTokens) return float_gemm(w, act, act_stride, n_tok, y, ldy, row0, row1);
  if (w.interleaved) return matmul_float_interleaved(w, act, act_stride, n_tok, y, ldy, row0, row1);
  switch (w.type) {
    case DType::F32:
      return run<F32Weights>(w, act, act_stride, n_tok, y, ldy, row0, row1);
    case DType::F16:
      return run<F16Weights>(w, act, act_stride, n_tok, y, ldy, row0, row1);
    default:
      return run<BF16Weights>(w, act, act_stride, n_tok, y, ldy, row0, row1);
  }
}

}  // namespace bwscope::kernels::avx512
