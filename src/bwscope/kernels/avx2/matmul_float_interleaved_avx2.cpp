// F32, F16 and BF16 weights in the interleaved layout (Matrix::interleaved, kernels/layout.cpp:
// groups of 16 rows stored column by column) × f32 activations on AVX2, for few tokens
// (decode); the packed kernel in gemm_float_avx2.cpp takes many tokens from either layout.
//
// A column of a group is two 8-lane vectors (rows 0-7, 8-15): each step converts them to f32
// and adds them, times the token's activation broadcast from memory, to accumulators whose
// lanes are rows. No horizontal sums, and each group is one sequential stream.
#include "bwscope/kernels/avx2/avx2_internal.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx2 {
namespace {

constexpr int kRows = 16;    // rows of a group
constexpr int kMaxToks = 6;  // tokens per pass: 2·6 accumulators, 2 weights and a broadcast
constexpr size_t kPrefetch = 2048;  // bytes ahead in each stream (see the AVX-512 kernel)

// 8 weights of one column (rows 8h..8h+7 of the group at p), as f32.
template <DType W>
__m256 load_half(const uint8_t* p) {
  if constexpr (W == DType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  else if constexpr (W == DType::F16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  else return widen_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// out[t·ldo + p·ostride + i] = row i of group p · token t, for P groups (group p at
// g + p·gstride) and T tokens.
template <DType W, int T, int P>
void pass(const uint8_t* g, size_t gstride, int64_t cols, const float* const* x, float* out, int64_t ostride, int64_t ldo) {
  constexpr size_t kHalf = 8 * (W == DType::F32 ? 4 : 2), kCol = 2 * kHalf;  // bytes
  // The loops over groups and tokens are unrolled by pragma: left to GCC's later full
  // unrolling, the accumulators stay in memory (as in gemm_float_avx2.cpp).
  __m256 acc[P][T][2];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[p][t][0] = acc[p][t][1] = _mm256_setzero_ps();
  for (int64_t c = 0; c < cols; ++c) {
    const bool prefetch = kCol == 64 || c % 2 == 0;  // once per line
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const uint8_t* q = g + p * gstride + size_t(c) * kCol;
      if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(q + kPrefetch), _MM_HINT_T0);
      const __m256 w0 = load_half<W>(q), w1 = load_half<W>(q + kHalf);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const __m256 b = _mm256_broadcast_ss(x[t] + c);
        acc[p][t][0] = _mm256_fmadd_ps(w0, b, acc[p][t][0]);
        acc[p][t][1] = _mm256_fmadd_ps(w1, b, acc[p][t][1]);
      }
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      _mm256_storeu_ps(out + t * ldo + ostride * p, acc[p][t][0]);
      _mm256_storeu_ps(out + t * ldo + ostride * p + 8, acc[p][t][1]);
    }
}

using PassFn = void (*)(const uint8_t*, size_t, int64_t, const float* const*, float*, int64_t, int64_t);

template <DType W>
PassFn pick(int64_t nt, int groups) {
  if (groups == 4) return &pass<W, 1, 4>;
  if (groups == 2) return &pass<W, 2, 2>;
  switch (nt) {
    case 1: return &pass<W, 1, 1>;
    case 2: return &pass<W, 2, 1>;
    case 3: return &pass<W, 3, 1>;
    case 4: return &pass<W, 4, 1>;
    case 5: return &pass<W, 5, 1>;
    default: return &pass<W, 6, 1>;
  }
}

// Tokens [0, nt) (nt <= kMaxToks) against rows [row0, row1).
template <DType W>
void run(const Matrix& w, const float* const* x, int64_t nt, float* y, int64_t ldy, int64_t row0, int64_t row1) {
  const int groups = nt == 1 ? 4 : nt == 2 ? 2 : 1;  // streams per pass, within 16 registers
  const GroupWalk walk{kRows, kRows * w.row_bytes, groups, 1, kRows};
  const PassFn many = pick<W>(nt, groups), one = pick<W>(nt, 1);
  const auto pass = [&](PassFn fn) {
    return [&, fn](const uint8_t* g, int64_t step, float* out, int64_t ldo) {
      fn(g, size_t(step) * walk.group_bytes, w.cols, x, out, step * kRows, ldo);
    };
  };
  walk_groups(walk, w.data, nt, y, ldy, row0, row1, pass(many), pass(one), pass(one));
}

}  // namespace

void matmul_float_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1) {
  for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxToks) {
    const int64_t nt = min64(kMaxToks, n_tok - t0);
    const float* x[kMaxToks];
    for (int64_t t = 0; t < nt; ++t) x[t] = reinterpret_cast<const float*>(act + (t0 + t) * act_stride);
    float* yt = y + t0 * ldy;
    switch (w.type) {
      case DType::F32:
        run<DType::F32>(w, x, nt, yt, ldy, row0, row1);
        break;
      case DType::F16:
        run<DType::F16>(w, x, nt, yt, ldy, row0, row1);
        break;
      default:
        run<DType::BF16>(w, x, nt, yt, ldy, row0, row1);
    }
  }
}

}  // namespace bwscope::kernels::avx2
