// Q8_0 and Q4_0 weights × Q8_0 activations for many tokens (prefill) on AVX2 (no VNNI).
//
// Panels of kStrips × 8 rows are repacked on the fly (into a per-thread buffer, reused for
// every token) so that one 32-byte vector holds 4 consecutive weights of 8 rows: 4 activation
// bytes of one token, broadcast, then meet 8 rows at once, and the lanes are rows, so no
// horizontal sums are needed. A tile of one panel × T tokens keeps its float accumulators and
// its integer block sums in registers.
//
// vpmaddubsw multiplies unsigned by signed bytes into saturating 16-bit pair sums:
// Q8_0: |w| × (x with w's sign) keeps every pair within ±2·128·127 = 32512 (activations are
//   within ±127 as prepare_act makes them, so taking w's sign never wraps); two such pairs
//   could overflow 16 bits, so vpmaddwd against ones widens every 4-weight group to 32 bits.
// Q4_0: the stored nibble q = w + 8 is unsigned; pairs are within ±2·15·127 = 3810, so the 8
//   groups of a block add up in 16 bits (±30480) before one vpmaddwd, and the block sum of
//   q·x is corrected by -8·Σx of the token's block.
// Each block's exact integer sum is then scaled by d_w (a vector over rows) × d_x.
#include "bwscope/kernels/avx2/avx2_internal.h"

namespace bwscope::kernels::avx2 {
namespace {

constexpr int kStrips = 2;  // strips of 8 rows in a panel
constexpr int kPanelRows = 8 * kStrips;
// Per block of a panel, for each strip: 8 float scales, then 8 vectors of (8 rows × 4 bytes),
// the k-th holding block elements 4k..4k+3.
constexpr size_t kStripBlock = 32 + 8 * 32;
constexpr size_t kPanelBlock = kStrips * kStripBlock;

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store256(uint8_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
inline int32_t load_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Scales of 8 rows (missing rows 0) as floats.
template <size_t kBlockBytes>
void pack_scales(const uint8_t* base, size_t rb, int64_t b, int nv, float* out) {
  alignas(16) uint16_t h[8] = {};
  for (int i = 0; i < nv; ++i) h[i] = load_u16(base + i * rb + b * kBlockBytes);
  _mm256_store_ps(out, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(h))));
}

// 8 rows (nv valid) of Q8_0 block b: an 8×8 transpose of 4-byte words.
void pack_q8_strip(const uint8_t* base, size_t rb, int64_t b, int nv, uint8_t* out) {
  __m256i z[8];
  for (int i = 0; i < 8; ++i) z[i] = i < nv ? load256(base + i * rb + b * sizeof(BlockQ8_0) + 2) : _mm256_setzero_si256();
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {  // rows 4i..4i+3
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);      // words 0 | 4
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);      // words 1 | 5
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);  // words 2 | 6
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);  // words 3 | 7
  }
  for (int k = 0; k < 4; ++k) {
    store256(out + 32 * k, _mm256_permute2x128_si256(u[k], u[4 + k], 0x20));
    store256(out + 32 * (k + 4), _mm256_permute2x128_si256(u[k], u[4 + k], 0x31));
  }
}

// 8 rows of Q4_0 block b: rows j and j+4 in the two 128-bit lanes of z[j], a 4×4 transpose of
// 4-byte words per lane, then low nibbles are elements 4k.. and high nibbles elements 16 + 4k...
void pack_q4_strip(const uint8_t* base, size_t rb, int64_t b, int nv, uint8_t* out) {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  __m256i z[4];
  for (int j = 0; j < 4; ++j) {
    const uint8_t* p = base + j * rb + b * sizeof(BlockQ4_0) + 2;
    z[j] = _mm256_set_m128i(j + 4 < nv ? load128(p + 4 * rb) : _mm_setzero_si128(), j < nv ? load128(p) : _mm_setzero_si128());
  }
  const __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
  const __m256i words[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2), _mm256_unpacklo_epi64(t1, t3),
                            _mm256_unpackhi_epi64(t1, t3)};
  for (int k = 0; k < 4; ++k) {
    store256(out + 32 * k, _mm256_and_si256(words[k], nibble));
    store256(out + 32 * (k + 4), _mm256_and_si256(_mm256_srli_epi16(words[k], 4), nibble));
  }
}

void pack_panel(const Matrix& w, int64_t r, int64_t nr, uint8_t* panel) {
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  for (int s = 0; s < kStrips; ++s) {
    const int nv = int(min64(8, nr - 8 * s));
    const uint8_t* base = w.data + (r + 8 * s) * w.row_bytes;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* pb = panel + b * kPanelBlock + s * kStripBlock;
      if (nv <= 0) {
        std::memset(pb, 0, 32);
        continue;  // quants of missing rows never reach y
      }
      if (q8) {
        pack_scales<sizeof(BlockQ8_0)>(base, w.row_bytes, b, nv, reinterpret_cast<float*>(pb));
        pack_q8_strip(base, w.row_bytes, b, nv, pb + 32);
      } else {
        pack_scales<sizeof(BlockQ4_0)>(base, w.row_bytes, b, nv, reinterpret_cast<float*>(pb));
        pack_q4_strip(base, w.row_bytes, b, nv, pb + 32);
      }
    }
  }
}

// Per token: -8·Σx (int32, Q4_0 only) for every block, then d_x (float) for every block.
void prepare_token(const uint8_t* act, int64_t nb, bool sums, int32_t* neg_sum8, float* dx) {
  for (int64_t b = 0; b < nb; ++b) {
    dx[b] = half_to_float(load_u16(act + b * sizeof(BlockQ8_0)));
    if (!sums) continue;
    neg_sum8[b] = -8 * sum_i8x32(act + b * sizeof(BlockQ8_0) + 2);
  }
}

// The exact integer sums of block b of every strip with T tokens (quants at xq, rows act_stride
// apart; -8·Σx at neg_sum8, aux_stride bytes apart). Each broadcast meets every strip at once.
template <bool kQ8, int T>
void block_sums(const uint8_t* pb, const uint8_t* xq, size_t act_stride, const uint8_t* neg_sum8, size_t aux_stride,
                __m256i (&sum)[kStrips][T]) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  if constexpr (kQ8) {
    for (int s = 0; s < kStrips; ++s)
      for (int t = 0; t < T; ++t) sum[s][t] = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      __m256i wq[kStrips], wu[kStrips];
      for (int s = 0; s < kStrips; ++s) {
        wq[s] = load256(pb + s * kStripBlock + 32 + 32 * k);
        wu[s] = _mm256_abs_epi8(wq[s]);  // |-128| is 128 unsigned
      }
      for (int t = 0; t < T; ++t) {
        const __m256i x = _mm256_set1_epi32(load_i32(xq + t * act_stride + 4 * k));
        for (int s = 0; s < kStrips; ++s)
          sum[s][t] = _mm256_add_epi32(sum[s][t], _mm256_madd_epi16(_mm256_maddubs_epi16(wu[s], _mm256_sign_epi8(x, wq[s])), ones16));
      }
    }
  } else {
    __m256i pairs[kStrips][T];
#pragma GCC unroll 8  // a rolled loop keeps pairs[] in memory
    for (int k = 0; k < 8; ++k) {
      __m256i wq[kStrips];
      for (int s = 0; s < kStrips; ++s) wq[s] = load256(pb + s * kStripBlock + 32 + 32 * k);
      for (int t = 0; t < T; ++t) {
        const __m256i x = _mm256_set1_epi32(load_i32(xq + t * act_stride + 4 * k));
        for (int s = 0; s < kStrips; ++s) {
          const __m256i p = _mm256_maddubs_epi16(wq[s], x);
          // vpaddsw never saturates within ±30480; unlike vpaddw, GCC does not reassociate it
          // into a tree that holds all 8·T products at once (and spills them)
          pairs[s][t] = k == 0 ? p : _mm256_adds_epi16(pairs[s][t], p);
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const __m256i neg = _mm256_set1_epi32(load_i32(neg_sum8 + t * aux_stride));
      for (int s = 0; s < kStrips; ++s) sum[s][t] = _mm256_add_epi32(_mm256_madd_epi16(pairs[s][t], ones16), neg);
    }
  }
}

// y[t * ldy + i] for rows i < nr of the panel and tokens t < T.
template <bool kQ8, int T>
void tile(const uint8_t* panel, int64_t nb, const uint8_t* act, size_t act_stride, const uint8_t* aux, size_t aux_stride,
          float* y, int64_t ldy, int64_t nr) {
  __m256 acc[kStrips][T];
  for (int s = 0; s < kStrips; ++s)
    for (int t = 0; t < T; ++t) acc[s][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * kPanelBlock;
    __m256i sum[kStrips][T];
    block_sums<kQ8, T>(pb, act + b * sizeof(BlockQ8_0) + 2, act_stride, aux + 4 * b, aux_stride, sum);
    for (int t = 0; t < T; ++t) {
      const __m256 dx = _mm256_set1_ps(reinterpret_cast<const float*>(aux + t * aux_stride)[nb + b]);
      for (int s = 0; s < kStrips; ++s) {
        const __m256 d = _mm256_mul_ps(_mm256_load_ps(reinterpret_cast<const float*>(pb + s * kStripBlock)), dx);
        acc[s][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[s][t]), d, acc[s][t]);
      }
    }
  }
  for (int s = 0; s < kStrips && 8 * s < nr; ++s) {
    const __m256i mask = first_lanes8(nr - 8 * s);
    for (int t = 0; t < T; ++t) _mm256_maskstore_ps(y + t * ldy + 8 * s, mask, acc[s][t]);
  }
}

constexpr int kToks = 3;

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t, int64_t);
template <bool kQ8, int T = kToks>
TileFn pick(int64_t nt) {
  if constexpr (T == 1) {
    return &tile<kQ8, 1>;
  } else {
    return nt >= T ? &tile<kQ8, T> : pick<kQ8, T - 1>(nt);
  }
}

}  // namespace

void quant_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                int64_t row0, int64_t row1) {
  const bool q8 = w.type == DType::Q8_0;
  const int64_t nb = w.cols / kQK8_0;
  const size_t aux_stride = size_t(nb) * 8;
  uint8_t* aux = scratch(1, aux_stride * size_t(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) {
    uint8_t* a = aux + t * aux_stride;
    prepare_token(act + t * act_stride, nb, !q8, reinterpret_cast<int32_t*>(a), reinterpret_cast<float*>(a) + nb);
  }
  uint8_t* panel = scratch(2, size_t(nb) * kPanelBlock);
  for (int64_t r = row0; r < row1; r += kPanelRows) {
    const int64_t nr = min64(kPanelRows, row1 - r);
    pack_panel(w, r, nr, panel);
    for (int64_t t = 0; t < n_tok; t += kToks) {
      const int64_t nt = min64(kToks, n_tok - t);
      (q8 ? pick<true>(nt) : pick<false>(nt))(panel, nb, act + t * act_stride, act_stride, aux + t * aux_stride, aux_stride,
                                              y + t * ldy + r, ldy, nr);
    }
  }
}

}  // namespace bwscope::kernels::avx2
