// F32, F16 and BF16 weights in the interleaved layout (Matrix::interleaved, kernels/layout.cpp:
// groups of 16 rows stored column by column) × f32 activations on AVX-512, for few tokens
// (decode). Many tokens go to the packed kernel in gemm_float_avx512.cpp, which packs its
// panels from either layout.
//
// A column of a group is one vector of 16 rows: each step converts it to f32 and adds it,
// times the token's activation broadcast from memory, to an accumulator whose lanes are the
// rows. No horizontal sums, and each group is one sequential stream. With the row layout a
// decode tile of 4 rows reads 4 streams a few KiB long; one thread there reached 9.3-9.6 GB/s
// on 3072-column F16 rows against 12-14 for the interleaved Q8_0 kernel, and in a two-thread
// probe of both float layouts (2026-12-03, 8192 columns) this one read 23.5-24.3 GB/s against
// 21-22.5 (readbw 25.4-26.3).
#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx512 {
namespace {

constexpr int kRows = 16;    // rows of a group
constexpr int kMaxToks = 7;  // tokens per pass (more go to the packed kernel)
// Software prefetch distance per stream: a group is 64-128 KiB at the model's widths, but
// several are read at once and the hardware prefetcher alone keeps too few lines in flight
// (two-thread probe, 8192 columns: no prefetch 20.5, 1-4 KiB ahead 23.5-24.3 GB/s).
constexpr size_t kPrefetch = 2048;

// 16 weights of one column, as f32.
template <DType W>
__m512 load_column(const uint8_t* p) {
  if constexpr (W == DType::F32) return _mm512_loadu_ps(p);
  else if constexpr (W == DType::F16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  else return bf16_to_f32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// out[t·ldo + p·ostride + i] = row i of group p · token t, for P groups (group p at
// g + p·gstride) and T tokens. Two accumulators per group and token (even and odd columns)
// halve the chains.
template <DType W, int T, int P>
void pass(const uint8_t* g, size_t gstride, int64_t cols, const float* const* x, float* out, int64_t ostride, int64_t ldo) {
  constexpr size_t kCol = kRows * (W == DType::F32 ? 4 : 2);  // bytes of one column
  __m512 acc[P][T][2];
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[p][t][0] = acc[p][t][1] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 4 <= cols; c += 4) {
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const uint8_t* q = g + p * gstride + size_t(c) * kCol;
      for (size_t l = 0; l < 4 * kCol; l += 64) _mm_prefetch(reinterpret_cast<const char*>(q + kPrefetch + l), _MM_HINT_T0);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512 w = load_column<W>(q + k * kCol);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[p][t][k % 2] = _mm512_fmadd_ps(w, _mm512_set1_ps(x[t][c + k]), acc[p][t][k % 2]);
      }
    }
  }
  for (; c < cols; ++c)
    for (int p = 0; p < P; ++p) {
      const __m512 w = load_column<W>(g + p * gstride + size_t(c) * kCol);
      for (int t = 0; t < T; ++t) acc[p][t][0] = _mm512_fmadd_ps(w, _mm512_set1_ps(x[t][c]), acc[p][t][0]);
    }
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + t * ldo + ostride * p, _mm512_add_ps(acc[p][t][0], acc[p][t][1]));
}

using PassFn = void (*)(const uint8_t*, size_t, int64_t, const float* const*, float*, int64_t, int64_t);

// Groups per pass for nt tokens: four streams in flight for 1-2 tokens (as the Q8_0 kernel),
// two for 3-4, one for more; at most 16 accumulators.
int groups_for(int64_t nt) { return nt <= 2 ? 4 : nt <= 4 ? 2 : 1; }

template <DType W>
PassFn pick(int64_t nt, int groups) {
  if (groups == 4) return nt == 1 ? &pass<W, 1, 4> : &pass<W, 2, 4>;
  if (groups == 2) return nt == 3 ? &pass<W, 3, 2> : &pass<W, 4, 2>;
  switch (nt) {
    case 1: return &pass<W, 1, 1>;
    case 2: return &pass<W, 2, 1>;
    case 3: return &pass<W, 3, 1>;
    case 4: return &pass<W, 4, 1>;
    case 5: return &pass<W, 5, 1>;
    case 6: return &pass<W, 6, 1>;
    default: return &pass<W, 7, 1>;
  }
}

template <DType W>
void run(const Matrix& w, const float* const* x, int64_t n_tok, float* y, int64_t ldy, int64_t row0, int64_t row1) {
  const GroupWalk walk{kRows, kRows * w.row_bytes, groups_for(n_tok), 1, kRows};
  const PassFn many = pick<W>(n_tok, walk.wide), one = pick<W>(n_tok, 1);
  const auto pass = [&](PassFn fn) {
    return [&, fn](const uint8_t* g, int64_t step, float* out, int64_t ldo) {
      fn(g, size_t(step) * walk.group_bytes, w.cols, x, out, step * kRows, ldo);
    };
  };
  walk_groups(walk, w.data, n_tok, y, ldy, row0, row1, pass(many), pass(one), pass(one));
}

}  // namespace

void matmul_float_interleaved(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y,
                              int64_t ldy, int64_t row0, int64_t row1) {
  if (n_tok > kMaxToks) return float_gemm(w, act, act_stride, n_tok, y, ldy, row0, row1);
  const float* x[kMaxToks];
  if (w.type == DType::BF16) {  // BF16 activations (act_type), widened once per call
    const size_t stride = size_t(w.cols + 15) / 16 * 16;
    float* wide = reinterpret_cast<float*>(scratch(0, stride * 4 * size_t(n_tok)));
    for (int64_t t = 0; t < n_tok; ++t) {
      const uint8_t* src = act + t * act_stride;
      for (int64_t i = 0; i < w.cols; i += 16) {
        const __mmask16 m = first_lanes16(w.cols - i);
        _mm512_mask_storeu_ps(wide + t * stride + i, m, bf16_to_f32(_mm256_maskz_loadu_epi16(m, src + 2 * i)));
      }
      x[t] = wide + t * stride;
    }
  } else {
    for (int64_t t = 0; t < n_tok; ++t) x[t] = reinterpret_cast<const float*>(act + t * act_stride);
  }
  switch (w.type) {
    case DType::F32:
      return run<DType::F32>(w, x, n_tok, y, ldy, row0, row1);
    case DType::F16:
      return run<DType::F16>(w, x, n_tok, y, ldy, row0, row1);
    default:
      return run<DType::BF16>(w, x, n_tok, y, ldy, row0, row1);
  }
}

}  // namespace bwscope::kernels::avx512
