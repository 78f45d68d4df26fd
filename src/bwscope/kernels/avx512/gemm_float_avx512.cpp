// Float-weight matrix products for many tokens (prefill) on AVX-512.
//
// Panels of 32 rows × kChunk columns are repacked from either layout (per thread, reused for
// every token) so a 64-byte vector holds one column of 16 rows, as f32 whatever the weight
// type (F16 and BF16 converted once here, not once per token). A tile of 32 rows × kToks
// tokens then keeps 2·kToks accumulators whose lanes are rows: each step loads 2 weight
// vectors and broadcasts one activation per token from memory, with no horizontal sums.
// Partial sums over column chunks accumulate in y.
//
// BF16 weights and their BF16 activations are widened to f32 (exact) rather than multiplied
// as bf16 pairs with vdpbf16ps: on a Sapphire Rapids VM the pair kernel ran pp512 at 63-66
// tokens/s against 86-93 widened (interleaved rounds, 2026-12-03), the F16 figure.
#include <utility>

#include "bwscope/kernels/avx512/avx512_internal.h"

namespace bwscope::kernels::avx512 {
namespace {

constexpr int kPanelRows = 32;
constexpr int64_t kChunk = 512;  // columns per packed chunk
constexpr int kToks = 12;

// Transposes 16 vectors of 16 32-bit elements in place (r[i][j] -> r[j][i]).
void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + j], lane L: rows 4i..4i+3 of column 4L + j
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v2 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
    const __m512 w = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), w2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(v, w, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(v, w, 0xdd);
    r[4 + j] = _mm512_shuffle_f32x4(v2, w2, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(v2, w2, 0xdd);
  }
}

// Packs rows [0, nv) of a 16-row group (row i at base + i·rb), columns [k0, k0 + n) of the
// chunk, as 16 f32 every `step` bytes. Missing rows and columns are 0.
template <DType W>
void pack_group(const uint8_t* base, size_t rb, int nv, int64_t k0, int64_t n, uint8_t* out, size_t step) {
  for (int64_t c = 0; c < n; c += 16) {
    const __mmask16 m = first_lanes16(n - c);
    __m512 r[16];
    for (int i = 0; i < 16; ++i) {
      if (i >= nv) {
        r[i] = _mm512_setzero_ps();
        continue;
      }
      const uint8_t* row = base + i * rb;
      if constexpr (W == DType::F32) r[i] = _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + k0 + c);
      else if constexpr (W == DType::F16) r[i] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * (k0 + c)));
      else r[i] = bf16_to_f32(_mm256_maskz_loadu_epi16(m, row + 2 * (k0 + c)));
    }
    transpose16(r);
    for (int j = 0; j < 16 && c + j < n; ++j) _mm512_store_ps(reinterpret_cast<float*>(out + (c + j) * step), r[j]);
  }
}

// 16 weights of one column of the interleaved layout (16 rows, the first `m` kept), as f32.
template <DType W>
__m512 load_column(const uint8_t* p, __mmask16 m) {
  if constexpr (W == DType::F32) return _mm512_maskz_loadu_ps(m, p);
  else if constexpr (W == DType::F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  else return bf16_to_f32(_mm256_maskz_loadu_epi16(m, p));
}

// The same panel as pack_group, from the interleaved layout (Matrix::interleaved): rows
// [r, r + nv), columns [k0, k0 + n). A group's column is already a vector of its 16 rows;
// rows not starting a group (ranges that do not, which the engine never asks for) are
// gathered one element at a time.
template <DType W>
void pack_interleaved(const Matrix& w, int64_t r, int nv, int64_t k0, int64_t n, uint8_t* out, size_t step) {
  constexpr size_t kSize = W == DType::F32 ? 4 : 2;
  if (r % 16 == 0) {
    const uint8_t* group = w.data + size_t(r) * w.row_bytes;
    const __mmask16 m = first_lanes16(nv);
    for (int64_t c = 0; c < n; ++c)
      _mm512_store_ps(reinterpret_cast<float*>(out + c * step), load_column<W>(group + size_t(k0 + c) * 16 * kSize, m));
    return;
  }
  for (int64_t c = 0; c < n; ++c) {
    float* col = reinterpret_cast<float*>(out + c * step);
    read_column(w, r, nv, k0 + c, col);
    for (int i = nv; i < 16; ++i) col[i] = 0.0f;
  }
}

// y[t·ldy + i] (+)= Σ_k panel[k][i] · x_t[k] for rows i < nr, tokens t < T, over one chunk
// of `n` columns.
template <int T>
void tile(const uint8_t* panel, int64_t n, const float* x, size_t x_stride, float* y, int64_t ldy, int64_t nr,
          bool accumulate) {
  const __mmask16 m0 = first_lanes16(nr), m1 = nr > 16 ? first_lanes16(nr - 16) : 0;
  __m512 acc0[T], acc1[T];
  if (accumulate) {
    for (int t = 0; t < T; ++t) {
      acc0[t] = _mm512_maskz_loadu_ps(m0, y + t * ldy);
      acc1[t] = _mm512_maskz_loadu_ps(m1, y + t * ldy + 16);
    }
  } else {
    for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < n; ++k) {
    const __m512 w0 = _mm512_load_ps(panel + 128 * k), w1 = _mm512_load_ps(panel + 128 * k + 64);
    for (int t = 0; t < T; ++t) {
      const __m512 b = _mm512_set1_ps(x[t * x_stride + k]);
      acc0[t] = _mm512_fmadd_ps(w0, b, acc0[t]);
      acc1[t] = _mm512_fmadd_ps(w1, b, acc1[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * ldy, m0, acc0[t]);
    _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc1[t]);
  }
}

using TileFn = void (*)(const uint8_t*, int64_t, const float*, size_t, float*, int64_t, int64_t, bool);
template <int... Ts>
TileFn pick_from(int64_t nt, std::integer_sequence<int, Ts...>) {
  TileFn fn = nullptr;
  ((nt == Ts + 1 ? (fn = &tile<Ts + 1>, 0) : 0), ...);
  return fn;
}

template <DType W>
void run(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy, int64_t row0,
         int64_t row1) {
  const int64_t chunk = kChunk;  // 64 KiB of panel
  uint8_t* panel = scratch(2, size_t(chunk) * 128);
  const size_t xs_stride = size_t(chunk) + 16;  // floats
  float* xs = reinterpret_cast<float*>(scratch(3, xs_stride * 4 * size_t(n_tok)));
  // Column chunks outermost, so each chunk of the activations is copied once per call.
  for (int64_t k0 = 0; k0 < w.cols; k0 += chunk) {
    const int64_t n = min64(chunk, w.cols - k0);
    // Every token's slice of the chunk as f32, rows a padded stride apart: activation rows a
    // multiple of 4 KiB apart (cols 2048 f32, as the engine lays them out) would all map to
    // the same L1 sets and evict each other across the tile's kToks streams.
    for (int64_t t = 0; t < n_tok; ++t) {
      const uint8_t* src = act + t * act_stride;
      float* dst = xs + t * xs_stride;
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = first_lanes16(n - i);
        const __m512 v = W == DType::BF16 ? bf16_to_f32(_mm256_maskz_loadu_epi16(m, src + 2 * (k0 + i)))
                                          : _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(src) + k0 + i);
        _mm512_mask_storeu_ps(dst + i, m, v);
      }
    }
    for (int64_t r = row0; r < row1; r += kPanelRows) {
      const int64_t nr = min64(kPanelRows, row1 - r);
      for (int g = 0; g < 2; ++g) {
        const int nv = int(min64(16, nr - 16 * g));
        if (nv <= 0) break;
        if (w.interleaved) pack_interleaved<W>(w, r + 16 * g, nv, k0, n, panel + 64 * g, 128);
        else pack_group<W>(w.data + (r + 16 * g) * w.row_bytes, w.row_bytes, nv, k0, n, panel + 64 * g, 128);
      }
      for (int64_t t = 0; t < n_tok; t += kToks) {
        const int64_t nt = min64(kToks, n_tok - t);
        pick_from(nt, std::make_integer_sequence<int, kToks>{})(panel, n, xs + t * xs_stride, xs_stride, y + t * ldy + r,
                                                                ldy, nr, k0 > 0);
      }
    }
  }
}

}  // namespace

void float_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1) {
  switch (w.type) {
    case DType::F32:
      return run<DType::F32>(w, act, act_stride, n_tok, y, ldy, row0, row1);
    case DType::F16:
      return run<DType::F16>(w, act, act_stride, n_tok, y, ldy, row0, row1);
    default:
      return run<DType::BF16>(w, act, act_stride, n_tok, y, ldy, row0, row1);
  }
}

}  // namespace bwscope::kernels::avx512
