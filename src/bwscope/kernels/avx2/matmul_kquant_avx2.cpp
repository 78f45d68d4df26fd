// Q4_K, Q5_K and Q6_K weights × Q8_K activations on AVX2 (no VNNI), rows straight from the
// GGUF layout, up to 4 rows (from as many stretches of the range, decode_walk.h) × 2 tokens
// per tile (more tokens are taken 2 at a time).
//
// Weights are unpacked to unsigned bytes in natural order, 32 values (one Q4_K/Q5_K sub-block,
// two Q6_K ones) per vector; vpmaddubsw multiplies them by the signed activation bytes into
// 16-bit pair sums (at most 2·63·127), vpmaddwd by the sub-block scales into 32 bits. What the
// unsigned storage leaves out comes off with the sums Q8_K carries: Q4_K/Q5_K - dmin·Σ m_j Σx_j,
// Q6_K (q - 32) - 32·Σ sc_i Σx_i.
#include "bwscope/kernels/avx2/avx2_internal.h"
#include "bwscope/kernels/avx2/kquant_avx2.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx2 {
namespace {

constexpr size_t kQ8KQuants = 4, kQ8KSums = 260;  // offsets in a BlockQ8_K

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// One row's super-block: 8 vectors of 32 unsigned values in natural order, the 16-bit scale
// of every lane of vpmaddubsw's result for each, and what multiplies the activation sums.
struct Unpacked {
  __m256i q[8], sc[8];
  __m256i sums_scale;  // Q4_K/Q5_K: mins m0..m7 as words (low 128 bits); Q6_K: the 16 scales
  float d, dmin;
};

template <DType kType>
inline void unpack(const uint8_t* p, Unpacked& u) {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  if constexpr (kType == DType::Q6_K) {
    u.d = half_to_float(load_u16(p + 208));
    u.dmin = 0.0f;
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192));
    u.sums_scale = _mm256_cvtepi8_epi16(sc8);
    const __m256i two_bits = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
      const __m256i qh = load256(p + 128 + 32 * h);
      for (int half = 0; half < 2; ++half) {  // values 128h + 32 half (low nibbles) and + 64 (high)
        const __m256i ql = load256(p + 64 * h + 32 * half);
        const __m256i hb = _mm256_srli_epi16(qh, 2 * half);
        const int v = 4 * h + half;
        u.q[v] = _mm256_or_si256(_mm256_and_si256(ql, nibble), _mm256_and_si256(_mm256_slli_epi16(hb, 4), two_bits));
        u.q[v + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql, 4), nibble), _mm256_and_si256(hb, two_bits));
      }
    }
    for (int v = 0; v < 8; ++v) {  // vector v holds sub-blocks 2v and 2v + 1
      const int s0 = int8_t(p[192 + 2 * v]), s1 = int8_t(p[192 + 2 * v + 1]);
      u.sc[v] = _mm256_set_m128i(_mm_set1_epi16(int16_t(s1)), _mm_set1_epi16(int16_t(s0)));
    }
    return;
  }
  u.d = half_to_float(load_u16(p));
  u.dmin = half_to_float(load_u16(p + 2));
  const uint32_t a = load_u32(p + 4), b = load_u32(p + 8), c = load_u32(p + 12);
  const uint64_t sc = (a & 0x3f3f3f3fu) | uint64_t((c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u)) << 32;
  const uint64_t mn = (b & 0x3f3f3f3fu) | uint64_t(((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u)) << 32;
  u.sums_scale = _mm256_zextsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(mn))));
  for (int j = 0; j < 8; ++j) u.sc[j] = _mm256_set1_epi16(int16_t((sc >> (8 * j)) & 0xff));
  const bool q5 = kType == DType::Q5_K;
  const uint8_t* qs = p + (q5 ? 48 : 16);
  const __m256i qh = q5 ? load256(p + 16) : _mm256_setzero_si256(), bit4 = _mm256_set1_epi8(0x10);
  for (int c4 = 0; c4 < 4; ++c4) {
    const __m256i q = load256(qs + 32 * c4);
    u.q[2 * c4] = _mm256_and_si256(q, nibble);
    u.q[2 * c4 + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble);
    if (q5) {  // bit 2 c4 (low nibbles) or 2 c4 + 1 (high) of qh, moved to bit 4
      for (int hbit = 0; hbit < 2; ++hbit) {
        const int bit = 2 * c4 + hbit;
        const __m256i moved = bit <= 4 ? _mm256_slli_epi16(qh, 4 - bit) : _mm256_srli_epi16(qh, bit - 4);
        u.q[2 * c4 + hbit] = _mm256_or_si256(u.q[2 * c4 + hbit], _mm256_and_si256(moved, bit4));
      }
    }
  }
}

// acc += this super-block's dot product with one token's Q8_K block x (sums32: its sums of 32).
template <DType kType>
inline __m256 dot_block(const Unpacked& u, const uint8_t* x, const __m128i sums32, __m256 acc) {
  __m256i i = _mm256_setzero_si256();
  for (int v = 0; v < 8; ++v)
    i = _mm256_add_epi32(i, _mm256_madd_epi16(u.sc[v], _mm256_maddubs_epi16(u.q[v], load256(x + kQ8KQuants + 32 * v))));
  const float dx = load_f32(x);
  if constexpr (kType == DType::Q6_K) {
    const __m256i s = _mm256_madd_epi16(u.sums_scale, load256(x + kQ8KSums));
    i = _mm256_sub_epi32(i, _mm256_slli_epi32(s, 5));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(u.d * dx), acc);
  } else {
    const __m128i m = _mm_madd_epi16(_mm256_castsi256_si128(u.sums_scale), sums32);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(u.d * dx), acc);
    return _mm256_fnmadd_ps(_mm256_zextps128_ps256(_mm_cvtepi32_ps(m)), _mm256_set1_ps(u.dmin * dx), acc);
  }
}

// Rows r < R at w + r·rb, results to y[t·ldy + r·ys].
template <DType kType, int R, int T>
void tile(const uint8_t* w, size_t rb, int64_t nb, const uint8_t* const* act, const __m128i* const* sums32, float* y,
          int64_t ldy, int64_t ys) {
  constexpr int kBytes = kType == DType::Q4_K ? 144 : kType == DType::Q5_K ? 176 : 210;
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < R; ++r) {
      Unpacked u;
      unpack<kType>(w + r * rb + b * kBytes, u);
      for (int t = 0; t < T; ++t) acc[r][t] = dot_block<kType>(u, act[t] + b * sizeof(BlockQ8_K), sums32[t][b], acc[r][t]);
    }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r * ys] = hsum(acc[r][t]);
}

using TileFn = void (*)(const uint8_t*, size_t, int64_t, const uint8_t* const*, const __m128i* const*, float*, int64_t,
                        int64_t);

template <DType kType>
TileFn pick_type(int64_t nr, int64_t nt) {
  if (nt == 1) {
    switch (nr) {
      case 1: return &tile<kType, 1, 1>;
      case 2: return &tile<kType, 2, 1>;
      case 3: return &tile<kType, 3, 1>;
      default: return &tile<kType, 4, 1>;
    }
  }
  return nr == 1 ? &tile<kType, 1, 2> : &tile<kType, 2, 2>;
}
TileFn pick(DType type, int64_t nr, int64_t nt) {
  if (type == DType::Q4_K) return pick_type<DType::Q4_K>(nr, nt);
  if (type == DType::Q5_K) return pick_type<DType::Q5_K>(nr, nt);
  return pick_type<DType::Q6_K>(nr, nt);
}

}  // namespace

// d = amax / 127, q = lround(x / d) (half away from zero), as the reference quantizer.
void quantize_q8_k(const float* x, uint8_t* out, int64_t n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u)));
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* xb = x + b * kQK_K;
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 32; ++k) amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_loadu_ps(xb + 8 * k), abs_mask));
    const float d = hmax(amax) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = out + b * sizeof(BlockQ8_K);
    std::memcpy(blk, &d, 4);
    alignas(32) int32_t q[kQK_K];
    for (int k = 0; k < 32; ++k) {
      const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), _mm256_set1_ps(id));
      const __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 half_up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(s, t), abs_mask), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
      const __m256 one = _mm256_or_ps(_mm256_and_ps(s, sign_mask), _mm256_set1_ps(1.0f));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q + 8 * k), _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(half_up, one))));
    }
    int16_t sums[16];
    for (int k = 0; k < 16; ++k) {
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) {
        s += q[16 * k + i];
        blk[kQ8KQuants + 16 * k + i] = uint8_t(int8_t(q[16 * k + i]));
      }
      sums[k] = int16_t(s);
    }
    std::memcpy(blk + kQ8KSums, sums, 32);
  }
}

void matmul_kquant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                   int64_t row0, int64_t row1) {
  const int64_t nb = w.cols / kQK_K;
  // Per token and super-block the 8 sums of 32 (Q4_K/Q5_K mins), as 16-bit words.
  auto* sums = reinterpret_cast<__m128i*>(scratch(0, size_t(nb * n_tok) * sizeof(__m128i)));
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      int16_t s16[16], s32[8];
      std::memcpy(s16, act + t * act_stride + b * sizeof(BlockQ8_K) + kQ8KSums, 32);
      for (int j = 0; j < 8; ++j) s32[j] = int16_t(s16[2 * j] + s16[2 * j + 1]);
      std::memcpy(&sums[t * nb + b], s32, 16);
    }
  walk_row_stretches(row0, row1, n_tok == 1 ? 4 : 2, [&](int64_t r, int64_t nr, int64_t step) {
    for (int64_t t = 0; t < n_tok; t += 2) {
      const int64_t nt = min64(2, n_tok - t);
      const uint8_t* acts[2] = {act + t * act_stride, act + (t + nt - 1) * act_stride};
      const __m128i* tok_sums[2] = {sums + t * nb, sums + (t + nt - 1) * nb};
      pick(w.type, nr, nt)(w.data + r * w.row_bytes, size_t(step) * w.row_bytes, nb, acts, tok_sums, y + t * ldy + r, ldy,
                           step);
    }
  });
}

}  // namespace bwscope::kernels::avx2
