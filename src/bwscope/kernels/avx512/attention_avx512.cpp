// Attention of one query token over an F32 or F16 KV cache on AVX-512: scores q·k vectorized
// over head_dim, softmax with the vector exp, then the weighted sum of values, with the
// output kept in registers for head_dim up to 128 (per 128-column slice beyond that).
#include <math.h>

#include "bwscope/kernels/avx512/avx512_internal.h"

namespace bwscope::kernels::avx512 {
namespace {

template <bool kF16>
inline __m512 load_kv(const uint8_t* base, int64_t i, __mmask16 m) {
  if constexpr (kF16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(base) + i));
  else return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(base) + i);
}

// out[0..width) = sum over positions p of scores[p] · v[p][off .. off + width), in NV vectors.
template <bool kF16, int NV>
void weighted_values(const AttentionArgs& a, int64_t off, int64_t width, float* out) {
  __m512 o[NV];
  __mmask16 m[NV];
  for (int v = 0; v < NV; ++v) {
    o[v] = _mm512_setzero_ps();
    m[v] = first_lanes16(width - 16 * v);
  }
  for (int64_t p = 0; p < a.n_kv; ++p) {
    const __m512 wp = _mm512_set1_ps(a.scores[p]);
    const int64_t row = off + p * a.head_dim;
    for (int v = 0; v < NV; ++v) o[v] = _mm512_fmadd_ps(wp, load_kv<kF16>(a.v, row + 16 * v, m[v]), o[v]);
  }
  for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + 16 * v, m[v], o[v]);
}

template <bool kF16>
void one_head(const AttentionArgs& a, const float* q, int64_t kv_off, float* out) {
  const int64_t hd = a.head_dim, n = a.n_kv;
  constexpr int64_t kSlice = 128;  // 8 vectors of output in registers
  // Scores, 4 positions at a time so 4 independent sums are in flight.
  for (int64_t p = 0; p < n; p += 4) {
    const int64_t np = min64(4, n - p);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t d = 0; d < hd; d += 16) {
      const __mmask16 m = first_lanes16(hd - d);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
      for (int64_t j = 0; j < np; ++j) acc[j] = _mm512_fmadd_ps(qv, load_kv<kF16>(a.k, kv_off + (p + j) * hd + d, m), acc[j]);
    }
    for (int64_t j = 0; j < np; ++j) a.scores[p + j] = _mm512_reduce_add_ps(acc[j]) * a.scale;
  }
  // Softmax: max, e^(s - max), sum, then the weights s / sum.
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = first_lanes16(n - p);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, a.scores + p));
  }
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = first_lanes16(n - p);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a.scores + p), max));
    vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
    _mm512_mask_storeu_ps(a.scores + p, m, e);
  }
  const __m512 sum = _mm512_set1_ps(_mm512_reduce_add_ps(vsum));
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = first_lanes16(n - p);
    _mm512_mask_storeu_ps(a.scores + p, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, a.scores + p), sum));
  }
  // Weighted sum of values, one slice of up to 128 columns at a time.
  for (int64_t d0 = 0; d0 < hd; d0 += kSlice) {
    const int64_t width = min64(kSlice, hd - d0);
    switch ((width + 15) / 16) {
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

}  // namespace bwscope::kernels::avx512
