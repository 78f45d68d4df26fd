// Q4_K, Q5_K and Q6_K weights × Q8_K activations on AVX-512 for few tokens (decode): rows
// streamed straight from the GGUF layout, 4 at a time (from 4 stretches of the range,
// decode_walk.h), one 256-value super-block per step, the next tile's bytes prefetched. Many
// tokens go to the packed kernel (gemm_kquant_avx512.cpp).
//
// Weights are unpacked to unsigned bytes (Q4_K 0..15, Q5_K 0..31, Q6_K 0..63) in 4 vectors of
// 64; vpmaddubsw multiplies them by the signed activation bytes into 16-bit pair sums (at most
// 2·63·127, no saturation), and vpdpwssd multiplies those by the sub-block scales (16-bit
// lanes) and adds them up in 32 bits: exact integer sums Σ_j sc_j Σ q·x per super-block.
// What the unsigned storage leaves out is taken off with the activation sums Q8_K carries:
// Q4_K/Q5_K: - dmin · Σ_j m_j Σx_j; Q6_K (q - 32): - 32 Σ_i sc_i Σx_i.
#include "bwscope/kernels/avx512/avx512_internal.h"
#include "bwscope/kernels/avx512/kquant_avx512.h"
#include "bwscope/kernels/decode_walk.h"

namespace bwscope::kernels::avx512 {
namespace {

// Per token and super-block, the activations as the tiles read them (kActBlock bytes): 256
// quants in the order of the weight vectors, then the sums the scales multiply (Q4_K/Q5_K:
// Σx of each 32 as 8 int16; Q6_K: Σx of each 16 as 16 int16), then d_x as a float.
constexpr size_t kActBlock = 320, kActSums = 256, kActScale = 288;
constexpr size_t kQ8KQuants = 4, kQ8KSums = 260;  // offsets in a BlockQ8_K

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
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

// Q4_K/Q5_K weight vector k holds, in its two 32-byte halves, the values of sub-blocks
// 2c + (k & 1) for c = 2(k / 2) and c + 1 (the low or high nibbles of qs[32c ..]).
constexpr int sub_block(int k, int half) { return 2 * (2 * (k / 2) + half) + k % 2; }

void prepare_token(DType type, const uint8_t* act, int64_t nb, uint8_t* out) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* x = act + b * sizeof(BlockQ8_K);
    uint8_t* o = out + b * kActBlock;
    std::memcpy(o + kActScale, x, 4);
    if (type == DType::Q6_K) {  // natural order; the 16 sums as stored
      std::memcpy(o, x + kQ8KQuants, 256);
      std::memcpy(o + kActSums, x + kQ8KSums, 32);
      continue;
    }
    for (int k = 0; k < 4; ++k)
      for (int half = 0; half < 2; ++half) std::memcpy(o + 64 * k + 32 * half, x + kQ8KQuants + 32 * sub_block(k, half), 32);
    int16_t sums16[16], sums32[8];
    std::memcpy(sums16, x + kQ8KSums, 32);
    for (int j = 0; j < 8; ++j) sums32[j] = int16_t(sums16[2 * j] + sums16[2 * j + 1]);
    std::memcpy(o + kActSums, sums32, 16);
  }
}

// Word indices for vpermw: Q4_K/Q5_K vector k takes sc of sub_block(k, 0) for words 0..15 and
// of sub_block(k, 1) for words 16..31 (from words sc0..sc7); Q6_K vector v (values 64v ..)
// takes scale 4v + i / 8 for word i.
struct alignas(64) WordIndex {
  uint16_t v[32];
};
constexpr WordIndex k4_scale_index(int k) {
  WordIndex x{};
  for (int i = 0; i < 32; ++i) x.v[i] = uint16_t(sub_block(k, i / 16));
  return x;
}
constexpr WordIndex k6_scale_index(int v) {
  WordIndex x{};
  for (int i = 0; i < 32; ++i) x.v[i] = uint16_t(4 * v + i / 8);
  return x;
}
constexpr WordIndex kK4Scales[4] = {k4_scale_index(0), k4_scale_index(1), k4_scale_index(2), k4_scale_index(3)};
constexpr WordIndex kK6Scales[4] = {k6_scale_index(0), k6_scale_index(1), k6_scale_index(2), k6_scale_index(3)};

// Q5_K: the fifth bit of vector k's byte l (half h) is bit sub_block(k, h) of qh[l % 32].
struct alignas(64) ByteMask {
  uint8_t v[64];
};
constexpr ByteMask k5_bit(int k) {
  ByteMask x{};
  for (int i = 0; i < 64; ++i) x.v[i] = uint8_t(1 << sub_block(k, i / 32));
  return x;
}
constexpr ByteMask kK5Bits[4] = {k5_bit(0), k5_bit(1), k5_bit(2), k5_bit(3)};

// One row's super-block, unpacked.
struct Unpacked {
  __m512i q[4];   // unsigned values, in the order of the prepared activations
  __m512i sc[4];  // sub-block scale of every 16-bit lane of vpmaddubsw's result
  __m256i sums_scale;  // Q4_K/Q5_K: the mins m0..m7 (low 128 bits); Q6_K: the 16 scales
  float d, dmin;
};

// Q4_K/Q5_K scales: sc_j, m_j (6 bits) from the 12 packed bytes a | b | c (dtype.h):
// j < 4 in a (sc) and b (m); j >= 4 low nibbles in c, high 2 bits in the top of a and b.
template <DType kType>
inline void unpack_k4(const uint8_t* p, const __m512i idx[4], Unpacked& u) {
  u.d = half_to_float(load_u16(p));
  u.dmin = half_to_float(load_u16(p + 2));
  const uint32_t a = load_u32(p + 4), b = load_u32(p + 8), c = load_u32(p + 12);
  const uint64_t sc = (a & 0x3f3f3f3fu) | uint64_t((c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u)) << 32;
  const uint64_t mn = (b & 0x3f3f3f3fu) | uint64_t(((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u)) << 32;
  const __m256i words = _mm256_cvtepu8_epi16(_mm_set_epi64x(int64_t(mn), int64_t(sc)));  // sc0..7, m0..7
  for (int k = 0; k < 4; ++k) u.sc[k] = _mm512_permutexvar_epi16(idx[k], _mm512_castsi256_si512(words));
  u.sums_scale = _mm256_permute2x128_si256(words, words, 0x81);  // mins in the low half, zeros above
  const uint8_t* qs = p + (kType == DType::Q4_K ? 16 : 48);
  const __m512i nibble = _mm512_set1_epi8(0x0f);
  const __m512i q0 = _mm512_loadu_si512(qs), q1 = _mm512_loadu_si512(qs + 64);
  u.q[0] = _mm512_and_si512(q0, nibble);
  u.q[1] = _mm512_and_si512(_mm512_srli_epi16(q0, 4), nibble);
  u.q[2] = _mm512_and_si512(q1, nibble);
  u.q[3] = _mm512_and_si512(_mm512_srli_epi16(q1, 4), nibble);
  if constexpr (kType == DType::Q5_K) {
    const __m512i qh = _mm512_broadcast_i64x4(load256(p + 16)), sixteen = _mm512_set1_epi8(16);
    for (int k = 0; k < 4; ++k)
      u.q[k] = _mm512_mask_add_epi8(u.q[k], _mm512_test_epi8_mask(qh, _mm512_load_si512(kK5Bits[k].v)), u.q[k], sixteen);
  }
}

inline void unpack_k6(const uint8_t* p, const __m512i idx[4], Unpacked& u) {
  u.d = half_to_float(load_u16(p + 208));
  u.dmin = 0.0f;
  u.sums_scale = _mm256_cvtepi8_epi16(load128(p + 192));
  for (int v = 0; v < 4; ++v) u.sc[v] = _mm512_permutexvar_epi16(idx[v], _mm512_castsi256_si512(u.sums_scale));
  const __m512i nibble = _mm512_set1_epi8(0x0f), two_bits = _mm512_set1_epi8(0x30);
  for (int h = 0; h < 2; ++h) {
    const __m512i lo = _mm512_loadu_si512(p + 64 * h);
    const __m256i qh = load256(p + 128 + 32 * h);
    // bits 0-1 (first 32 bytes) or 2-3 (next 32) of qh for the low nibbles, 4-5 or 6-7 for the high
    const __m512i hb = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    u.q[2 * h] = _mm512_or_si512(_mm512_and_si512(lo, nibble), _mm512_and_si512(_mm512_slli_epi16(hb, 4), two_bits));
    u.q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lo, 4), nibble), _mm512_and_si512(hb, two_bits));
  }
}

// acc += this super-block's dot product with one token's prepared activations.
template <DType kType>
inline __m512 dot_block(const Unpacked& u, const uint8_t* xs, __m512 acc) {
  const __m256i sums = _mm256_madd_epi16(u.sums_scale, load256(xs + kActSums));  // zeros past the mins for Q4/5_K
  __m512i i = kType == DType::Q6_K ? _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 5)))
                                   : _mm512_setzero_si512();
  for (int k = 0; k < 4; ++k) i = _mm512_dpwssd_epi32(i, u.sc[k], _mm512_maddubs_epi16(u.q[k], _mm512_loadu_si512(xs + 64 * k)));
  const float dx = load_f32(xs + kActScale);
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), _mm512_set1_ps(u.d * dx), acc);
  if constexpr (kType != DType::Q6_K)
    acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(sums)), _mm512_set1_ps(u.dmin * dx), acc);
  return acc;
}

// Rows r < R at w + r·rb, results to y[t·ldy + r·ys]; `next` bytes ahead of each row is what
// the following tile reads of it (prefetched).
template <DType kType, int R, int T>
void tile(const uint8_t* w, size_t rb, size_t next, int64_t ys, int64_t nb, const uint8_t* xs, size_t xs_stride,
          float* y, int64_t ldy) {
  constexpr int kBytes = kType == DType::Q4_K ? 144 : kType == DType::Q5_K ? 176 : 210;
  __m512i idx[4];
  for (int k = 0; k < 4; ++k) idx[k] = _mm512_load_si512(kType == DType::Q6_K ? kK6Scales[k].v : kK4Scales[k].v);
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w + r * rb + b * kBytes;
      prefetch_bytes(p + next, kBytes);
      Unpacked u;
      if constexpr (kType == DType::Q6_K) unpack_k6(p, idx, u);
      else unpack_k4<kType>(p, idx, u);
      for (int t = 0; t < T; ++t) acc[r][t] = dot_block<kType>(u, xs + t * xs_stride + b * kActBlock, acc[r][t]);
    }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r * ys] = _mm512_reduce_add_ps(acc[r][t]);
}

constexpr int kRows = 4;
constexpr int64_t kMaxDecodeTokens = 3;  // more tokens than this go to the packed kernel
using TileFn = void (*)(const uint8_t*, size_t, size_t, int64_t, int64_t, const uint8_t*, size_t, float*, int64_t);

template <DType kType, int R>
TileFn pick_tokens(int64_t nt) {
  switch (nt) {
    case 1: return &tile<kType, R, 1>;
    case 2: return &tile<kType, R, 2>;
    default: return &tile<kType, R, 3>;
  }
}
template <DType kType>
TileFn pick_rows(int64_t nr, int64_t nt) {
  switch (nr) {
    case 1: return pick_tokens<kType, 1>(nt);
    case 2: return pick_tokens<kType, 2>(nt);
    case 3: return pick_tokens<kType, 3>(nt);
    default: return pick_tokens<kType, 4>(nt);
  }
}
TileFn pick(DType type, int64_t nr, int64_t nt) {
  if (type == DType::Q4_K) return pick_rows<DType::Q4_K>(nr, nt);
  if (type == DType::Q5_K) return pick_rows<DType::Q5_K>(nr, nt);
  return pick_rows<DType::Q6_K>(nr, nt);
}

}  // namespace

// d = amax / 127 and q = lround(x / d) (half away from zero) as the reference quantizer, so
// the bytes agree with scalar quantize_row; each 16 quants are summed as they are made.
void quantize_q8_k(const float* x, uint8_t* out, int64_t n) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 sign_mask = _mm512_castsi512_ps(_mm512_set1_epi32(int(0x80000000u)));
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* xb = x + b * kQK_K;
    __m512 amax = _mm512_setzero_ps();
    for (int k = 0; k < 16; ++k) amax = _mm512_max_ps(amax, _mm512_and_ps(_mm512_loadu_ps(xb + 16 * k), abs_mask));
    const float d = _mm512_reduce_max_ps(amax) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = out + b * sizeof(BlockQ8_K);
    std::memcpy(blk, &d, 4);
    int16_t sums[16];
    for (int k = 0; k < 16; ++k) {
      const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(xb + 16 * k), _mm512_set1_ps(id));
      const __m512 t = _mm512_roundscale_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __mmask16 half_up = _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_sub_ps(s, t), abs_mask), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
      const __m512 one = _mm512_or_ps(_mm512_and_ps(s, sign_mask), _mm512_set1_ps(1.0f));
      const __m512i q = _mm512_cvttps_epi32(_mm512_mask_add_ps(t, half_up, t, one));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(blk + kQ8KQuants + 16 * k), _mm512_cvtsepi32_epi8(q));
      sums[k] = int16_t(_mm512_reduce_add_epi32(q));
    }
    std::memcpy(blk + kQ8KSums, sums, 32);
  }
}

void matmul_kquant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                   int64_t row0, int64_t row1) {
  if (n_tok > kMaxDecodeTokens) return kquant_gemm(w, act, act_stride, n_tok, y, ldy, row0, row1);
  const int64_t nb = w.cols / kQK_K;
  const size_t xs_stride = size_t(nb) * kActBlock;
  uint8_t* xs = scratch(0, xs_stride * size_t(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) prepare_token(w.type, act + t * act_stride, nb, xs + t * xs_stride);
  walk_row_stretches(row0, row1, kRows, [&](int64_t r, int64_t nr, int64_t step) {
    // The next tile reads the row after each of a spread tile's, or the nr rows after an
    // ordered one.
    const size_t next = size_t(step == 1 ? nr : 1) * w.row_bytes;
    pick(w.type, nr, n_tok)(w.data + r * w.row_bytes, size_t(step) * w.row_bytes, next, step, nb, xs, xs_stride, y + r,
                            ldy);
  });
}

}  // namespace bwscope::kernels::avx512
