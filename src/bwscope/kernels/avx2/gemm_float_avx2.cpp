// Float-weight matrix products for many tokens (prefill) on AVX2.
//
// Panels of 16 rows × kChunk columns are repacked (per thread, reused for every token) so each
// column is two 32-byte vectors of 8 rows, all as f32: F16 and BF16 weights are converted once
// here, not once per token (AVX2 has no bf16 dot product). A tile of 16 rows × kToks tokens
// then keeps 2·kToks accumulators whose lanes are rows: each column loads 2 weight vectors and
// broadcasts one activation per token from memory, with no horizontal sums (12 accumulators,
// 2 weights and 1 broadcast: 15 of the 16 ymm registers). Partial sums over column chunks
// accumulate in y.
#include "bwscope/kernels/avx2/avx2_internal.h"

namespace bwscope::kernels::avx2 {
namespace {

constexpr int kPanelRows = 16;
// Columns per packed chunk: a 128 KiB panel, in L2. Every chunk passes over y once more (each
// tile adds its partial sums there), and on prefill-sized y (MiBs, rows 8 KiB apart) those
// passes cost more than a panel outside L1 does: on 2048×2048 F16, 512 tokens, one core,
// chunks of 256 / 512 / 1024 / 2048 columns gave 46 / 59 / 61-68 / 68-70 GFLOP/s.
constexpr int64_t kChunk = 2048;
constexpr int kToks = 6;

// Transposes 8 vectors of 8 floats in place (r[i][j] -> r[j][i]).
void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {  // t[2i], t[2i+1]: rows 2i, 2i+1 interleaved (columns 0,1|4,5 and 2,3|6,7)
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 q[2][4];  // q[h][j]: rows 4h..4h+3 of column j (low half) and of column j + 4 (high half)
  for (int h = 0; h < 2; ++h) {
    q[h][0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
    q[h][1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xee);
    q[h][2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
    q[h][3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xee);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(q[0][j], q[1][j], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(q[0][j], q[1][j], 0x31);
  }
}

// Columns [k, k + 8) of a weight row as f32; when fewer than 8 remain (n < 8), the missing
// ones are 0 and never read.
template <DType W>
__m256 load_cols(const uint8_t* row, int64_t k, int64_t n) {
  if constexpr (W == DType::F32) {
    const float* p = reinterpret_cast<const float*>(row) + k;
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first_lanes8(n));
  } else {
    const __m128i h = n >= 8 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)) : load_part16(row, k, n);
    return W == DType::F16 ? _mm256_cvtph_ps(h) : widen_bf16(h);
  }
}

// pack_group from the interleaved layout (Matrix::interleaved): a column of rows 8h..8h+7 of
// a group is already a vector. Rows not starting at a multiple of 8 (ranges the engine never
// asks for) are gathered one element at a time.
template <DType W>
void pack_interleaved(const Matrix& w, int64_t r0, int64_t nv, int64_t k0, int64_t n, uint8_t* out, size_t step) {
  if (r0 % 8 == 0) {  // the group holds rows r0 .. r0 + 7 whole (rows % 16 == 0)
    const uint8_t* group = w.data + size_t(r0 / 16) * 16 * w.row_bytes;
    const __m256 keep = _mm256_castsi256_ps(first_lanes8(nv));
    for (int64_t c = 0; c < n; ++c) {  // the 8 rows of column k0 + c: elements 16(k0 + c) + r0 % 16 ...
      const __m256 v = load_cols<W>(group, 16 * (k0 + c) + r0 % 16, 8);
      _mm256_store_ps(reinterpret_cast<float*>(out + c * step), _mm256_and_ps(v, keep));
    }
    return;
  }
  const int rows = int(nv < 8 ? nv : 8);
  for (int64_t c = 0; c < n; ++c) {
    float* col = reinterpret_cast<float*>(out + c * step);
    read_column(w, r0, rows, k0 + c, col);
    for (int i = rows; i < 8; ++i) col[i] = 0.0f;
  }
}

// Packs rows [r0, r0 + nv) of w (nv <= 8), columns [k0, k0 + n), as 8-float vectors every
// `step` bytes. Missing rows and columns are 0.
template <DType W>
void pack_group(const Matrix& w, int64_t r0, int64_t nv, int64_t k0, int64_t n, uint8_t* out, size_t step) {
  if (w.interleaved) {
    if (nv > 0) return pack_interleaved<W>(w, r0, nv, k0, n, out, step);
    for (int64_t c = 0; c < n; ++c) _mm256_store_ps(reinterpret_cast<float*>(out + c * step), _mm256_setzero_ps());
    return;
  }
  for (int64_t c = 0; c < n; c += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i)
      r[i] = i < nv ? load_cols<W>(w.data + (r0 + i) * w.row_bytes, k0 + c, n - c) : _mm256_setzero_ps();
    transpose8(r);
    for (int j = 0; j < 8 && c + j < n; ++j) _mm256_store_ps(reinterpret_cast<float*>(out + (c + j) * step), r[j]);
  }
}

// y[t·ldy + i] (+)= Σ_k panel[k][i] · x_t[k] for rows i < nr, tokens t < T, over one chunk of
// n columns. The token loops are unrolled by pragma: left to GCC's later full unrolling, the
// accumulator arrays stay in memory and every column stores all 12 of them. y joins only after
// the column loop, so nothing else needs a register during it.
template <int T>
void tile(const float* panel, int64_t n, const float* x, size_t x_stride, float* y, int64_t ldy, int64_t nr,
          bool accumulate) {
  __m256 acc0[T], acc1[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n; ++k) {
    const __m256 w0 = _mm256_load_ps(panel + 16 * k), w1 = _mm256_load_ps(panel + 16 * k + 8);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m256 b = _mm256_broadcast_ss(x + t * x_stride + k);
      acc0[t] = _mm256_fmadd_ps(w0, b, acc0[t]);
      acc1[t] = _mm256_fmadd_ps(w1, b, acc1[t]);
    }
  }
  if (nr == kPanelRows) {
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      float* yt = y + t * ldy;
      if (accumulate) {
        acc0[t] = _mm256_add_ps(acc0[t], _mm256_loadu_ps(yt));
        acc1[t] = _mm256_add_ps(acc1[t], _mm256_loadu_ps(yt + 8));
      }
      _mm256_storeu_ps(yt, acc0[t]);
      _mm256_storeu_ps(yt + 8, acc1[t]);
    }
    return;
  }
  // The last panel of a range, through a copy: masked stores (vmaskmovps) for every tile cost
  // a quarter of the throughput here (Zen 3).
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) {
    alignas(32) float part[kPanelRows];
    _mm256_store_ps(part, acc0[t]);
    _mm256_store_ps(part + 8, acc1[t]);
    float* yt = y + t * ldy;
    for (int64_t i = 0; i < nr; ++i) yt[i] = accumulate ? yt[i] + part[i] : part[i];
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, size_t, float*, int64_t, int64_t, bool);
TileFn pick(int64_t nt) {
  switch (nt) {
    case 1: return &tile<1>;
    case 2: return &tile<2>;
    case 3: return &tile<3>;
    case 4: return &tile<4>;
    case 5: return &tile<5>;
    default: return &tile<6>;
  }
}

template <DType W>
void run(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy, int64_t row0,
         int64_t row1) {
  float* panel = reinterpret_cast<float*>(scratch(3, size_t(kChunk) * kPanelRows * 4));
  // Every token's slice of the chunk, rows a padded stride apart: activation rows a multiple of
  // 4 KiB apart (cols 2048 f32, as the engine lays them out) would all map to the same L1 sets
  // and evict each other across the tile's kToks streams.
  const size_t xs_stride = kChunk + 16;  // floats
  float* xs = reinterpret_cast<float*>(scratch(4, xs_stride * 4 * size_t(n_tok)));
  // Column chunks outermost, so each chunk of the activations is copied once per call.
  for (int64_t k0 = 0; k0 < w.cols; k0 += kChunk) {
    const int64_t n = min64(kChunk, w.cols - k0);
    for (int64_t t = 0; t < n_tok; ++t) std::memcpy(xs + t * xs_stride, act + t * act_stride + 4 * k0, size_t(n) * 4);
    for (int64_t r = row0; r < row1; r += kPanelRows) {
      const int64_t nr = min64(kPanelRows, row1 - r);
      for (int g = 0; g < 2; ++g)
        pack_group<W>(w, r + 8 * g, nr - 8 * g, k0, n, reinterpret_cast<uint8_t*>(panel + 8 * g), kPanelRows * 4);
      for (int64_t t = 0; t < n_tok; t += kToks)
        pick(n_tok - t)(panel, n, xs + t * xs_stride, xs_stride, y + t * ldy + r, ldy, nr, k0 > 0);
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

}  // namespace bwscope::kernels::avx2
