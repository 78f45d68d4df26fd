// Q4_K, Q5_K and Q6_K weights × Q8_K activations for many tokens (prefill) on AVX-512 VNNI.
//
// Panels of 32 rows are unpacked and repacked on the fly (into a per-thread buffer, reused for
// every token) so that one 64-byte vector holds 4 consecutive weights of 16 rows: one vpdpbusd
// against 4 activation bytes broadcast from memory advances 16 rows × 4 columns of one token,
// with rows in the lanes (no horizontal sums). Per sub-block the integer sums are scaled by a
// vector of per-row float scales; per super-block by the token's d_x.
//
// Q4_K/Q5_K: unsigned weights (0..15 / 0..31) × signed activations; the mins come off as
// dmin·m_j (per row) × Σx_j (per token). Q6_K: signed weights (q - 32) × activations made
// unsigned (x + 128); the integer sums start at -128·Σ(q - 32) of the sub-block, known at
// packing time, so they are exact Σ (q - 32)·x.
#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/avx512/kquant_avx512.h"

namespace bwscope::kernels::avx512 {
namespace {

constexpr int kPanelRows = 32;
constexpr size_t kQ8KQuants = 4, kQ8KSums = 260;  // offsets in a BlockQ8_K
// Records per sub-block and 16-row half: Q4_K/Q5_K 8 weight vectors, d·sc_j, dmin·m_j;
// Q6_K 4 weight vectors, -128·Σ(q - 32) (int32), d·sc_i. Per super-block the records of
// sub-block 0 half 0, sub-block 0 half 1, sub-block 1 half 0, ...
constexpr size_t kRecord4 = 8 * 64 + 64 + 64, kRecord6 = 4 * 64 + 64 + 64;
// Per token and super-block: Q4_K/Q5_K d_x and Σx of each 32 as floats (64 bytes); Q6_K the
// 256 quants + 128 and d_x (320 bytes).
constexpr size_t kAux4 = 64, kAux6 = 320;

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// One row's super-block in natural order: Q4_K/Q5_K unsigned values, Q6_K q - 32 (signed);
// per-row float scales into dsc[j · 16] (and dmin·m_j into dmn[j · 16]).
void unpack_row(DType type, const uint8_t* p, uint8_t* out, float* dsc, float* dmn) {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  if (type == DType::Q6_K) {
    const float d = half_to_float(load_u16(p + 208));
    for (int s = 0; s < 16; ++s) dsc[16 * s] = d * float(int8_t(p[192 + s]));
    const __m256i two_bits = _mm256_set1_epi8(0x30), bias = _mm256_set1_epi8(32);
    for (int h = 0; h < 2; ++h) {
      const __m256i qh = load256(p + 128 + 32 * h);
      for (int half = 0; half < 2; ++half) {  // ql[64h + 32 half ..] holds values 128h + 32 half (low) and + 64 (high)
        const __m256i ql = load256(p + 64 * h + 32 * half);
        const __m256i hb = _mm256_srli_epi16(qh, 2 * half);  // bits 2 half .. for the low nibbles, +4 for the high
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(ql, nibble), _mm256_and_si256(_mm256_slli_epi16(hb, 4), two_bits));
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql, 4), nibble), _mm256_and_si256(hb, two_bits));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 128 * h + 32 * half), _mm256_sub_epi8(lo, bias));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 128 * h + 64 + 32 * half), _mm256_sub_epi8(hi, bias));
      }
    }
    return;
  }
  const float d = half_to_float(load_u16(p)), dmin = half_to_float(load_u16(p + 2));
  const uint32_t a = load_u32(p + 4), b = load_u32(p + 8), c = load_u32(p + 12);
  const uint32_t sc[2] = {a & 0x3f3f3f3fu, (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u)};
  const uint32_t mn[2] = {b & 0x3f3f3f3fu, ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u)};
  for (int j = 0; j < 8; ++j) {
    dsc[16 * j] = d * float((sc[j / 4] >> (8 * (j % 4))) & 0xff);
    dmn[16 * j] = dmin * float((mn[j / 4] >> (8 * (j % 4))) & 0xff);
  }
  const bool q5 = type == DType::Q5_K;
  const uint8_t* qs = p + (q5 ? 48 : 16);
  const __m256i qh = q5 ? load256(p + 16) : _mm256_setzero_si256(), bit4 = _mm256_set1_epi8(0x10);
  for (int c4 = 0; c4 < 4; ++c4) {  // values 64 c4 .. : low nibbles of qs[32 c4 ..], then high nibbles
    const __m256i q = load256(qs + 32 * c4);
    __m256i lo = _mm256_and_si256(q, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
    if (q5) {  // bit 2 c4 of qh for the low nibbles, 2 c4 + 1 for the high, moved to bit 4
      const int bl = 2 * c4, bh = 2 * c4 + 1;
      const __m256i hl = bl <= 4 ? _mm256_slli_epi16(qh, 4 - bl) : _mm256_srli_epi16(qh, bl - 4);
      const __m256i hh = bh <= 4 ? _mm256_slli_epi16(qh, 4 - bh) : _mm256_srli_epi16(qh, bh - 4);
      lo = _mm256_or_si256(lo, _mm256_and_si256(hl, bit4));
      hi = _mm256_or_si256(hi, _mm256_and_si256(hh, bit4));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * c4), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * c4 + 32), hi);
  }
}

// 16 rows of 16 dwords each → 16 vectors, the i-th holding dword i of every row.
void transpose16(const __m512i r[16], __m512i out[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // lane L of u[4i + m]: rows 4i..4i+3, dword 4L + m
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    const __m512i a = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x44), b = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xee);
    const __m512i c = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x44), d = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xee);
    out[m] = _mm512_shuffle_i32x4(a, c, 0x88);
    out[4 + m] = _mm512_shuffle_i32x4(a, c, 0xdd);
    out[8 + m] = _mm512_shuffle_i32x4(b, d, 0x88);
    out[12 + m] = _mm512_shuffle_i32x4(b, d, 0xdd);
  }
}

// Packs rows [r, r + nr) (nr <= 32) of w; missing rows get zero weights and scales.
void pack_panel(const Matrix& w, int64_t r, int64_t nr, uint8_t* panel) {
  const bool q6 = w.type == DType::Q6_K;
  const size_t bb = dtype_info(w.type).block_bytes, record = q6 ? kRecord6 : kRecord4;
  const int n_sub = q6 ? 16 : 8, dwords_per_sub = q6 ? 4 : 8;
  const int64_t nb = w.cols / kQK_K;
  alignas(64) uint8_t rows[16][kQK_K];
  alignas(64) float dsc[16 * 16], dmn[8 * 16];
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* pb = panel + b * 2 * n_sub * record;
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < 16; ++i) {
        const int64_t row = 16 * h + i;
        if (row < nr) {
          unpack_row(w.type, w.data + (r + row) * w.row_bytes + b * bb, rows[i], dsc + i, dmn + i);
        } else {
          std::memset(rows[i], 0, kQK_K);
          for (int j = 0; j < 16; ++j) dsc[16 * j + i] = 0.0f;
          for (int j = 0; j < 8; ++j) dmn[16 * j + i] = 0.0f;
        }
      }
      for (int v = 0; v < 4; ++v) {  // dwords 16v .. 16v + 15 of every row
        __m512i in[16], out[16];
        for (int i = 0; i < 16; ++i) in[i] = _mm512_load_si512(rows[i] + 64 * v);
        transpose16(in, out);
        for (int i = 0; i < 16; ++i) {
          const int dword = 16 * v + i, sub = dword / dwords_per_sub, k = dword % dwords_per_sub;
          _mm512_store_si512(pb + (2 * sub + h) * record + 64 * k, out[i]);
        }
      }
      for (int sub = 0; sub < n_sub; ++sub) {
        uint8_t* rec = pb + (2 * sub + h) * record;
        const int nv = dwords_per_sub;
        _mm512_store_ps(rec + 64 * nv + 64, _mm512_load_ps(dsc + 16 * sub));
        if (q6) {  // -128·Σ(q - 32) per row, from the packed weights
          __m512i sum = _mm512_setzero_si512();
          for (int k = 0; k < 4; ++k) sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), _mm512_load_si512(rec + 64 * k));
          _mm512_store_si512(rec + 64 * nv, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
        } else {
          _mm512_store_ps(rec + 64 * nv, _mm512_load_ps(dmn + 16 * sub));
        }
      }
    }
  }
}

// Record layout check: Q4_K/Q5_K [8 vectors][dmn][dsc], Q6_K [4 vectors][corr][dsc].
constexpr size_t kDsc4 = 8 * 64 + 64, kDmn4 = 8 * 64, kDsc6 = 4 * 64 + 64, kCorr6 = 4 * 64;

constexpr int kToks = 4;

// acc += f · d_x of each token, d_x the float at aux + t · aux_stride + dx_offset.
template <int T>
inline void add_scaled(const __m512* f0, const __m512* f1, const uint8_t* aux, size_t aux_stride, size_t dx_offset,
                       __m512* acc0, __m512* acc1) {
  for (int t = 0; t < T; ++t) {
    const __m512 dx = _mm512_set1_ps(reinterpret_cast<const float*>(aux + t * aux_stride + dx_offset)[0]);
    acc0[t] = _mm512_fmadd_ps(f0[t], dx, acc0[t]);
    acc1[t] = _mm512_fmadd_ps(f1[t], dx, acc1[t]);
  }
}

// y[t · ldy + i] for rows i < nr of the panel (rows 0..15 in acc0, 16..31 in acc1).
template <int T>
inline void store(const __m512* acc0, const __m512* acc1, float* y, int64_t ldy, int64_t nr) {
  const __mmask16 m0 = first_lanes16(nr), m1 = nr > 16 ? first_lanes16(nr - 16) : 0;
  for (int t = 0; t < T; ++t) {
    _mm512_mask_storeu_ps(y + t * ldy, m0, acc0[t]);
    _mm512_mask_storeu_ps(y + t * ldy + 16, m1, acc1[t]);
  }
}

template <int T>
void tile_k4(const uint8_t* panel, int64_t nb, const uint8_t* act, size_t act_stride, const uint8_t* aux, size_t aux_stride,
             float* y, int64_t ldy, int64_t nr) {
  __m512 acc0[T], acc1[T];
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * 16 * kRecord4;
    __m512 f0[T], f1[T];
    for (int t = 0; t < T; ++t) f0[t] = f1[t] = _mm512_setzero_ps();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* r0 = pb + 2 * j * kRecord4;
      const uint8_t* r1 = r0 + kRecord4;
      const uint8_t* xq = act + b * sizeof(BlockQ8_K) + kQ8KQuants + 32 * j;
      __m512i i0[T], i1[T];
      for (int t = 0; t < T; ++t) i0[t] = i1[t] = _mm512_setzero_si512();
      for (int k = 0; k < 8; ++k) {
        const __m512i w0 = _mm512_load_si512(r0 + 64 * k), w1 = _mm512_load_si512(r1 + 64 * k);
        for (int t = 0; t < T; ++t) {
          const __m512i x = _mm512_set1_epi32(load_i32(xq + t * act_stride + 4 * k));
          i0[t] = _mm512_dpbusd_epi32(i0[t], w0, x);
          i1[t] = _mm512_dpbusd_epi32(i1[t], w1, x);
        }
      }
      const __m512 s0 = _mm512_load_ps(r0 + kDsc4), s1 = _mm512_load_ps(r1 + kDsc4);
      const __m512 m0 = _mm512_load_ps(r0 + kDmn4), m1 = _mm512_load_ps(r1 + kDmn4);
      for (int t = 0; t < T; ++t) {
        const __m512 xs = _mm512_set1_ps(reinterpret_cast<const float*>(aux + t * aux_stride + b * kAux4)[1 + j]);
        f0[t] = _mm512_fnmadd_ps(m0, xs, _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[t]), s0, f0[t]));
        f1[t] = _mm512_fnmadd_ps(m1, xs, _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[t]), s1, f1[t]));
      }
    }
    add_scaled<T>(f0, f1, aux, aux_stride, b * kAux4, acc0, acc1);
  }
  store<T>(acc0, acc1, y, ldy, nr);
}

template <int T>
void tile_k6(const uint8_t* panel, int64_t nb, const uint8_t*, size_t, const uint8_t* aux, size_t aux_stride, float* y,
             int64_t ldy, int64_t nr) {
  __m512 acc0[T], acc1[T];
  for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * 32 * kRecord6;
    __m512 f0[T], f1[T];
    for (int t = 0; t < T; ++t) f0[t] = f1[t] = _mm512_setzero_ps();
    for (int s = 0; s < 16; ++s) {
      const uint8_t* r0 = pb + 2 * s * kRecord6;
      const uint8_t* r1 = r0 + kRecord6;
      const uint8_t* xq = aux + b * kAux6 + 16 * s;
      __m512i i0[T], i1[T];
      for (int t = 0; t < T; ++t) i0[t] = _mm512_load_si512(r0 + kCorr6), i1[t] = _mm512_load_si512(r1 + kCorr6);
      for (int k = 0; k < 4; ++k) {
        const __m512i w0 = _mm512_load_si512(r0 + 64 * k), w1 = _mm512_load_si512(r1 + 64 * k);
        for (int t = 0; t < T; ++t) {
          const __m512i x = _mm512_set1_epi32(load_i32(xq + t * aux_stride + 4 * k));
          i0[t] = _mm512_dpbusd_epi32(i0[t], x, w0);
          i1[t] = _mm512_dpbusd_epi32(i1[t], x, w1);
        }
      }
      const __m512 s0 = _mm512_load_ps(r0 + kDsc6), s1 = _mm512_load_ps(r1 + kDsc6);
      for (int t = 0; t < T; ++t) {
        f0[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0[t]), s0, f0[t]);
        f1[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[t]), s1, f1[t]);
      }
    }
    add_scaled<T>(f0, f1, aux, aux_stride, b * kAux6 + 256, acc0, acc1);
  }
  store<T>(acc0, acc1, y, ldy, nr);
}

// Per token: Q4_K/Q5_K d_x and the 8 sums of 32 as floats; Q6_K the quants + 128 and d_x.
void prepare_token(bool q6, const uint8_t* act, int64_t nb, uint8_t* out) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* x = act + b * sizeof(BlockQ8_K);
    if (q6) {
      uint8_t* o = out + b * kAux6;
      const __m256i bias = _mm256_set1_epi8(char(0x80));
      for (int i = 0; i < 8; ++i)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32 * i), _mm256_xor_si256(load256(x + kQ8KQuants + 32 * i), bias));
      std::memcpy(o + 256, x, 4);
      continue;
    }
    float* o = reinterpret_cast<float*>(out + b * kAux4);
    std::memcpy(o, x, 4);
    int16_t sums[16];
    std::memcpy(sums, x + kQ8KSums, 32);
    for (int j = 0; j < 8; ++j) o[1 + j] = float(sums[2 * j] + sums[2 * j + 1]);
  }
}

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t, int64_t);
TileFn pick(bool q6, int64_t nt) {
  switch (nt) {
    case 1: return q6 ? &tile_k6<1> : &tile_k4<1>;
    case 2: return q6 ? &tile_k6<2> : &tile_k4<2>;
    case 3: return q6 ? &tile_k6<3> : &tile_k4<3>;
    default: return q6 ? &tile_k6<4> : &tile_k4<4>;
  }
}

}  // namespace

void kquant_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                 int64_t row0, int64_t row1) {
  const bool q6 = w.type == DType::Q6_K;
  const int64_t nb = w.cols / kQK_K;
  const size_t aux_stride = size_t(nb) * (q6 ? kAux6 : kAux4);
  uint8_t* aux = scratch(1, aux_stride * size_t(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) prepare_token(q6, act + t * act_stride, nb, aux + t * aux_stride);
  uint8_t* panel = scratch(2, size_t(nb) * (q6 ? 32 * kRecord6 : 16 * kRecord4));
  for (int64_t r = row0; r < row1; r += kPanelRows) {
    const int64_t nr = min64(kPanelRows, row1 - r);
    pack_panel(w, r, nr, panel);
    for (int64_t t = 0; t < n_tok; t += kToks) {
      const int64_t nt = min64(kToks, n_tok - t);
      pick(q6, nt)(panel, nb, act + t * act_stride, act_stride, aux + t * aux_stride, aux_stride, y + t * ldy + r, ldy, nr);
    }
  }
}

}  // namespace bwscope::kernels::avx512
