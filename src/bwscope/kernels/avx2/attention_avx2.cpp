// Attention of one query token over an F32 or F16 KV cache on AVX2: scores q·k vectorized
// over head_dim, softmax with the vector exp, then the weighted sum of values in slices of up
// to 64 columns kept in registers.
#include <math.h>

#include "bwscope/kernels/avx2/avx2_internal.h"

namespace bwscope::kernels::avx2 {
namespace {

// 8 cache elements from i (n of them valid, the rest 0).
template <bool kF16>
inline __m256 load_kv(const uint8_t* base, int64_t i, int64_t n) {
  if constexpr (kF16) {
    const uint8_t* p = base + 2 * i;
    if (n >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    alignas(16) uint16_t tmp[8] = {};
    std::memcpy(tmp, p, size_t(n & 7) * 2);  // 0 < n < 8
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
  } else {
    const float* p = reinterpret_cast<const float*>(base) + i;
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first_lanes8(n));
  }
}

template <bool kF16, int NV>
void weighted_values(const AttentionArgs& a, int64_t off, int64_t width, float* out) {
  __m256 o[NV];
  for (int v = 0; v < NV; ++v) o[v] = _mm256_setzero_ps();
  for (int64_t p = 0; p < a.n_kv; ++p) {
    const __m256 wp = _mm256_set1_ps(a.scores[p]);
    const int64_t row = off + p * a.head_dim;
    for (int v = 0; v < NV; ++v) o[v] = _mm256_fmadd_ps(wp, load_kv<kF16>(a.v, row + 8 * v, width - 8 * v), o[v]);
  }
  for (int v = 0; v < NV; ++v) _mm256_maskstore_ps(out + 8 * v, first_lanes8(width - 8 * v), o[v]);
}

template <bool kF16>
void one_head(const AttentionArgs& a, const float* q, int64_t kv_off, float* out) {
  const int64_t hd = a.head_dim, n = a.n_kv;
  for (int64_t p = 0; p < n; p += 4) {
    const int64_t np = min64(4, n - p);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t d = 0; d < hd; d += 8) {
      const __m256 qv = _mm256_maskload_ps(q + d, first_lanes8(hd - d));
      for (int64_t j = 0; j < np; ++j) acc[j] = _mm256_fmadd_ps(qv, load_kv<kF16>(a.k, kv_off + (p + j) * hd + d, hd - d), acc[j]);
    }
    for (int64_t j = 0; j < np; ++j) a.scores[p + j] = hsum(acc[j]) * a.scale;
  }
  float max = -INFINITY;
  for (int64_t p = 0; p < n; ++p) max = a.scores[p] > max ? a.scores[p] : max;
  __m256 vsum = _mm256_setzero_ps();
  for (int64_t p = 0; p < n; p += 8) {
    const __m256i m = first_lanes8(n - p);
    const __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(_mm256_maskload_ps(a.scores + p, m), _mm256_set1_ps(max))),
                                   _mm256_castsi256_ps(m));
    vsum = _mm256_add_ps(vsum, e);
    _mm256_maskstore_ps(a.scores + p, m, e);
  }
  const __m256 sum = _mm256_set1_ps(hsum(vsum));
  for (int64_t p = 0; p < n; p += 8) {
    const __m256i m = first_lanes8(n - p);
    _mm256_maskstore_ps(a.scores + p, m, _mm256_div_ps(_mm256_maskload_ps(a.scores + p, m), sum));
  }
  constexpr int64_t kSlice = 64;
  for (int64_t d0 = 0; d0 < hd; d0 += kSlice) {
    const int64_t width = min64(kSlice, hd - d0);
    switch ((width + 7) / 8) {
      case 1: weighted_values<kF16, 1>(a, kv_off + d0, width, out + d0); break;
      case 2: weighted_values<kF16, 2>(a, kv_off + d0, width, out + d0); break;
      case 3: weighted_values<kF16, 3>(a, kv_off + d0, width, out + d0); break;
      case 4: weighted_values<kF16, 4>(a, kv_off + d0, width, out + d0); break;
      case 5: weighted_values<kF16, 5>(a, kv_off + d0, width, out + d0); break;
      case 6: weighted_values<kF16, 6>(a, kv_off + d0, width, out + d0); break;
      case 7: weighted_values<kF16, 7>(a, kv_off + d0, width, out + d0); break;
      default: weighted_values<kF16, 8>(a, kv_off + d0, width, out + d0); break;
    }
  }
}

}  // namespace

void attention(const AttentionArgs& a) {
  const int64_t group = a.n_head / a.n_kv_head;
  for (int64_t h = a.head0; h < a.head1; ++h) {
    const float* q = a.q + h * a.head_dim;
    float* out = a.out + h * a.head_dim;
    const int64_t kv_off = (h / group) * a.head_stride;
    if (a.n_kv <= 0) {
      for (int64_t d = 0; d < a.head_dim; ++d) out[d] = 0.0f;
      continue;
    }
    if (a.kv_type == DType::F16) one_head<true>(a, q, kv_off, out);
    else one_head<false>(a, q, kv_off, out);
  }
}

}  // namespace bwscope::kernels::avx2
