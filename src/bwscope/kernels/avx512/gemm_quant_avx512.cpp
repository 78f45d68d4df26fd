// Q8_0 and Q4_0 weights (either layout) × Q8_0 activations for many tokens (prefill) on
// AVX-512 VNNI.
//
// Panels of 32 rows are repacked on the fly (into a per-thread buffer, reused for every
// token) so that one 64-byte vector holds 4 consecutive weights of 16 rows: one vpdpbusd
// against 4 activation bytes broadcast from memory then advances 16 rows × 4 columns of one
// token, and the lanes are rows, so no horizontal sums are needed. A tile of 32 rows ×
// kToks tokens keeps 2·kToks integer block sums and 2·kToks float accumulators in registers.
//
// Weights are made unsigned (Q8_0: w + 128; Q4_0: the stored nibble w + 8); the integer sums
// start at -c·Σx of the token's block, so they are exact Σ w·x; then each block is scaled by
// d_w (a vector over rows) × d_x (a scalar per token).
#include "bwscope/kernels/avx512/avx512_internal.h"

namespace bwscope::kernels::avx512 {
namespace {

constexpr int kPanelRows = 32;
// Per block of a panel: 32 float scales, then for each half of 16 rows, 8 vectors of
// (16 rows × 4 bytes), the k-th holding block elements 4k..4k+3.
constexpr size_t kPanelBlock = 128 + 2 * 8 * 64;

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// Scales of 16 rows (missing rows 0) as floats.
template <size_t kBlockBytes>
void pack_scales(const uint8_t* base, size_t rb, int64_t b, int nv, float* out) {
  alignas(32) uint16_t h[16] = {};
  for (int i = 0; i < nv; ++i) h[i] = load_u16(base + i * rb + b * kBlockBytes);
  _mm512_store_ps(out, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(h))));
}

// 16 rows (nv valid) of Q8_0 block b: an 8×8 transpose of 4-byte words in each 256-bit half
// (rows 0..7 in the low half, rows 8..15 in the high half).
void pack_q8_half(const uint8_t* base, size_t rb, int64_t b, int nv, uint8_t* out) {
  const __m512i bias = _mm512_set1_epi8(char(0x80));
  __m512i z[8];
  for (int i = 0; i < 8; ++i) {
    const uint8_t* p0 = base + i * rb + b * sizeof(BlockQ8_0) + 2;
    const __m256i lo = i < nv ? load256(p0) : _mm256_setzero_si256();
    const __m256i hi = i + 8 < nv ? load256(p0 + 8 * rb) : _mm256_setzero_si256();
    z[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), bias);
  }
  __m512i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {  // rows 4i..4i+3 (and 8 + those)
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);      // words 0 | 4
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);      // words 1 | 5
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);  // words 2 | 6
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);  // words 3 | 7
  }
  const __m512i first = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), second = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
  for (int k = 0; k < 4; ++k) {
    _mm512_store_si512(out + 64 * k, _mm512_permutex2var_epi64(u[k], first, u[4 + k]));
    _mm512_store_si512(out + 64 * (k + 4), _mm512_permutex2var_epi64(u[k], second, u[4 + k]));
  }
}

// 16 rows of Q4_0 block b: rows j, j+4, j+8, j+12 in the four 128-bit lanes of z[j], a 4×4
// transpose of 4-byte words per lane, then low nibbles are elements 4k.. and high nibbles
// elements 16 + 4k...
void pack_q4_half(const uint8_t* base, size_t rb, int64_t b, int nv, uint8_t* out) {
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  __m512i z[4];
  for (int j = 0; j < 4; ++j) {
    __m512i v = _mm512_setzero_si512();
    for (int l = 0; l < 4; ++l) {
      const int row = j + 4 * l;
      if (row < nv) v = _mm512_mask_broadcast_i32x4(v, __mmask16(0xf << (4 * l)), load128(base + row * rb + b * sizeof(BlockQ4_0) + 2));
    }
    z[j] = v;
  }
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  const __m512i words[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2), _mm512_unpacklo_epi64(t1, t3),
                            _mm512_unpackhi_epi64(t1, t3)};
  for (int k = 0; k < 4; ++k) {
    _mm512_store_si512(out + 64 * k, _mm512_and_si512(words[k], nibble));
    _mm512_store_si512(out + 64 * (k + 4), _mm512_and_si512(_mm512_srli_epi16(words[k], 4), nibble));
  }
}

// 16 rows of block b from the interleaved layout, starting at row r (a multiple of 8): its
// vector k of groups r/8 and r/8 + 1 side by side is already the panel's vector k.
void pack_interleaved_half(const Matrix& w, int64_t r, int nv, int64_t b, float* scales, uint8_t* out) {
  alignas(64) static constexpr uint8_t kNoGroup[8 * sizeof(BlockQ8_0)] = {};  // rows past nv
  const bool q8 = w.type == DType::Q8_0;
  const size_t gb = 8 * (q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0)), nb = size_t(w.cols) / kQK8_0;
  const uint8_t* a = w.data + (size_t(r / 8) * nb + size_t(b)) * gb;
  const uint8_t* c = nv > 8 ? a + nb * gb : kNoGroup;
  const __m256i dh = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(a)), load128(c), 1);
  _mm512_store_ps(scales, _mm512_cvtph_ps(dh));
  const __m512i bias = _mm512_set1_epi8(char(0x80)), nibble = _mm512_set1_epi8(0x0f);
  for (int k = 0; k < (q8 ? 8 : 4); ++k) {
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(load256(a + 16 + 32 * k)), load256(c + 16 + 32 * k), 1);
    if (q8) {
      _mm512_store_si512(out + 64 * k, _mm512_xor_si512(v, bias));
    } else {
      _mm512_store_si512(out + 64 * k, _mm512_and_si512(v, nibble));
      _mm512_store_si512(out + 64 * (k + 4), _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble));
    }
  }
}

void pack_panel(const Matrix& w, int64_t r, int64_t nr, uint8_t* panel) {
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  for (int h = 0; h < 2; ++h) {
    const int nv = int(min64(16, nr - 16 * h));
    const uint8_t* base = w.data + (r + 16 * h) * w.row_bytes;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* pb = panel + b * kPanelBlock;
      if (nv <= 0) {
        std::memset(pb + 64 * h, 0, 64);
        continue;  // quants of missing rows never reach y
      }
      if (w.interleaved) {
        pack_interleaved_half(w, r + 16 * h, nv, b, reinterpret_cast<float*>(pb + 64 * h), pb + 128 + 512 * h);
      } else if (q8) {
        pack_scales<sizeof(BlockQ8_0)>(base, w.row_bytes, b, nv, reinterpret_cast<float*>(pb + 64 * h));
        pack_q8_half(base, w.row_bytes, b, nv, pb + 128 + 512 * h);
      } else {
        pack_scales<sizeof(BlockQ4_0)>(base, w.row_bytes, b, nv, reinterpret_cast<float*>(pb + 64 * h));
        pack_q4_half(base, w.row_bytes, b, nv, pb + 128 + 512 * h);
      }
    }
  }
}

}  // namespace

void prepare_block_sums(const uint8_t* act, int64_t nb, int shift, int32_t* neg_sum, float* dx) {
  const __m256i ones = _mm256_set1_epi8(1);
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    __m256i s[8];
    for (int k = 0; k < 8; ++k)
      s[k] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, load256(act + (b + k) * sizeof(BlockQ8_0) + 2));
    const __m256i h01 = _mm256_hadd_epi32(s[0], s[1]), h23 = _mm256_hadd_epi32(s[2], s[3]);
    const __m256i h45 = _mm256_hadd_epi32(s[4], s[5]), h67 = _mm256_hadd_epi32(s[6], s[7]);
    const __m256i a = _mm256_hadd_epi32(h01, h23), c = _mm256_hadd_epi32(h45, h67);
    const __m256i sum = _mm256_add_epi32(_mm256_permute2x128_si256(a, c, 0x20), _mm256_permute2x128_si256(a, c, 0x31));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(neg_sum + b), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sum, shift)));
  }
  for (; b < nb; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < kQK8_0; ++j) sum += int8_t(act[b * sizeof(BlockQ8_0) + 2 + j]);
    neg_sum[b] = -(sum << shift);
  }
  for (b = 0; b < nb; ++b) dx[b] = half_to_float(load_u16(act + b * sizeof(BlockQ8_0)));
}

namespace {

constexpr int kToks = 6;

// y[t * ldy + i] for rows i < nr of the panel and tokens t < T.
template <int T>
void tile(const uint8_t* panel, int64_t nb, const uint8_t* act, size_t act_stride, const uint8_t* aux, size_t aux_stride,
          float* y, int64_t ldy, int64_t nr) {
  __m512 acc0[T], acc1[T];
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * kPanelBlock;
    __m512i i0[T], i1[T];
    for (int t = 0; t < T; ++t) i0[t] = i1[t] = _mm512_set1_epi32(reinterpret_cast<const int32_t*>(aux + t * aux_stride)[b]);
    const uint8_t* xq = act + b * sizeof(BlockQ8_0) + 2;
    for (int k = 0; k < 8; ++k) {
      const __m512i w0 = _mm512_load_si512(pb + 128 + 64 * k), w1 = _mm512_load_si512(pb + 640 + 64 * k);
      for (int t = 0; t < T; ++t) {
        const __m512i x = _mm512_set1_epi32(load_i32(xq + t * act_stride + 4 * k));
        i0[t] = _mm512_dpbusd_epi32(i0[t], w0, x);
        i1[t] = _mm512_dpbusd_epi32(i1[t], w1, x);
      }
    }
    const __m512 s0 = _mm512_load_ps(pb), s1 = _mm512_load_ps(pb + 64);
    for (int t = 0; t < T; ++t) {
      const __m512 d = _mm512_set1_ps(reinterpret_cast<const float*>(aux + t * aux_stride)[nb + b]);
      acc0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[t]), _mm512_mul_ps(s0, d), acc0[t]);
      acc1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[t]), _mm512_mul_ps(s1, d), acc1[t]);
    }
  }
  const __mmask16 m0 = first_lanes16(nr), m1 = nr > 16 ? first_lanes16(nr - 16) : 0;
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * ldy, m0, acc0[t]);
    _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc1[t]);
  }
}

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t, int64_t);
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

}  // namespace

void quant_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1) {
  const int64_t nb = w.cols / kQK8_0;
  const size_t aux_stride = size_t(nb) * 8;
  uint8_t* aux = scratch(1, aux_stride * size_t(n_tok));
  const int shift = w.type == DType::Q8_0 ? 7 : 3;  // c = 128 or 8
  for (int64_t t = 0; t < n_tok; ++t) {
    uint8_t* a = aux + t * aux_stride;
    prepare_block_sums(act + t * act_stride, nb, shift, reinterpret_cast<int32_t*>(a), reinterpret_cast<float*>(a) + nb);
  }
  uint8_t* panel = scratch(2, size_t(nb) * kPanelBlock);
  for (int64_t r = row0; r < row1; r += kPanelRows) {
    const int64_t nr = min64(kPanelRows, row1 - r);
    if (w.interleaved && r % 8 != 0) {
      // A panel across group boundaries (never from the engine, whose row ranges are
      // multiples of 16): its rows in the row layout first.
      uint8_t* rows = scratch(3, size_t(nr) * w.row_bytes);
      for (int64_t i = 0; i < nr; ++i) read_row(w, r + i, rows + i * w.row_bytes);
      Matrix view = w;
      view.data = rows;
      view.rows = nr;
      view.interleaved = false;
      pack_panel(view, 0, nr, panel);
    } else {
      pack_panel(w, r, nr, panel);
    }
    for (int64_t t = 0; t < n_tok; t += kToks) {
      const int64_t nt = min64(kToks, n_tok - t);
      pick(nt)(panel, nb, act + t * act_stride, act_stride, aux + t * aux_stride, aux_stride, y + t * ldy + r, ldy, nr);
    }
  }
}

}  // namespace bwscope::kernels::avx512
