// Float-weight matrix products (F32, F16, BF16 widened to f32) × F32 activations on AVX2.
// A tile of R rows × T tokens keeps R·T vector accumulators (4×1 for decode, 2×3 for several
// tokens) and reduces them once at the end; its rows come from R stretches of the range. From
// kPackedMinTokens tokens on (prefill), the packed kernel in gemm_float_avx2.cpp takes over.
// These tiles serve the row layout; the interleaved one has its own kernel
// (matmul_float_interleaved_avx2.cpp).
#include <type_traits>

#include "bwscope/kernels/avx2/avx2_internal.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx2 {
namespace {

struct F32Weights {
  static __m256 load(const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static __m256 load_part(const uint8_t* row, int64_t i, int64_t n) {
    return _mm256_maskload_ps(reinterpret_cast<const float*>(row) + i, first_lanes8(n));
  }
};
struct F16Weights {
  static __m256 load(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
  static __m256 load_part(const uint8_t* row, int64_t i, int64_t n) { return _mm256_cvtph_ps(load_part16(row, i, n)); }
};
struct BF16Weights {
  static __m256 load(const uint8_t* row, int64_t i) {
    return widen_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
  static __m256 load_part(const uint8_t* row, int64_t i, int64_t n) { return widen_bf16(load_part16(row, i, n)); }
};

constexpr int64_t kPackedMinTokens = 8;  // from here on the packed kernel (gemm_float_avx2.cpp) wins
template <class K>
constexpr size_t kWeightBytes = std::is_same_v<K, F32Weights> ? 4 : 2;
// Decode (one token): a tile's 4 rows come from 4 stretches of the range (walk_row_stretches),
// 4 sequential streams, each prefetched 2 KiB ahead. Before, tiles took 8 rows in order:
// bwscope_bench Decode/avx2 (one thread, 2048 columns, 2026-12-04) f16 19.2-20.1 -> 27.6-32.7
// GB/s, bf16 20.6-21.3 -> 29.2-33.1 (0.9-1.1 of the interleaved kernel); 8 stretches read
// 22-24.5, a 1 KiB prefetch 28-30.
constexpr int64_t kDecodeRows = 4;
constexpr size_t kStreamPrefetch = 2048;

// Rows r < R at w + r·w_stride, results to y[t·ldy + r·ys] for tokens t < T; `next` bytes
// ahead of each row is what the following tile reads of it (prefetched).
template <class K, int R, int T>
void tile(const uint8_t* w, size_t w_stride, size_t next, int64_t ys, int64_t cols, const uint8_t* x, size_t x_stride,
          float* y, int64_t ldy) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = w + r * w_stride;
      if ((i * int64_t(kWeightBytes<K>)) % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + next + kWeightBytes<K> * i), _MM_HINT_T0);
      wv[r] = K::load(row, i);
    }
    for (int t = 0; t < T; ++t) {
      const __m256 xv = F32Weights::load(x + t * x_stride, i);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (i < cols) {
    const int64_t n = cols - i;
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = K::load_part(w + r * w_stride, i, n);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = F32Weights::load_part(x + t * x_stride, i, n);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r * ys] = hsum(acc[r][t]);
}

using TileFn = void (*)(const uint8_t*, size_t, size_t, int64_t, int64_t, const uint8_t*, size_t, float*, int64_t);

template <class K>
TileFn pick(int64_t nr, int64_t nt) {
  if (nt == 1) {
    switch (nr) {
      case 1: return &tile<K, 1, 1>;
      case 2: return &tile<K, 2, 1>;
      case 3: return &tile<K, 3, 1>;
      default: return &tile<K, 4, 1>;
    }
  }
  if (nr == 1) return nt == 2 ? &tile<K, 1, 2> : &tile<K, 1, 3>;
  return nt == 2 ? &tile<K, 2, 2> : &tile<K, 2, 3>;
}

template <class K>
void run(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy, int64_t row0,
         int64_t row1) {
  const int64_t rows_per_tile = n_tok == 1 ? kDecodeRows : 2, toks_per_tile = 3;
  const int64_t block = act_stride ? int64_t((256 << 10) / act_stride) / toks_per_tile * toks_per_tile : n_tok;
  const int64_t tok_block = block < toks_per_tile ? toks_per_tile : block;
  for (int64_t t0 = 0; t0 < n_tok; t0 += tok_block) {
    const int64_t t1 = min64(n_tok, t0 + tok_block);
    walk_row_stretches(row0, row1, rows_per_tile, [&](int64_t r, int64_t nr, int64_t step) {
      // A spread tile's rows are each within a sequential stream: prefetch a fixed distance
      // ahead in it. An ordered tile's successor reads the nr rows after it.
      const size_t next = step == 1 ? size_t(nr) * w.row_bytes : kStreamPrefetch;
      for (int64_t t = t0; t < t1; t += toks_per_tile) {
        const int64_t nt = min64(toks_per_tile, t1 - t);
        pick<K>(nr, nt)(w.data + r * w.row_bytes, size_t(step) * w.row_bytes, next, step, w.cols, act + t * act_stride, act_stride,
                        y + t * ldy + r, ldy);
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

}  // namespace bwscope::kernels::avx2
