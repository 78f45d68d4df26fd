// AVX2 memory kernels for the probe (compiled with -mavx2 -mfma; used only when the CPU has them).
#include <immintrin.h>

#include "bwscope/meter/probe_kernels_impl.h"

namespace bwscope::meter {
namespace {

struct V256 {
  using I = __m256i;
  using F = __m256;
  static constexpr size_t kBytes = 32;
  static I zero() { return _mm256_setzero_si256(); }
  static I splat(uint64_t x) { return _mm256_set1_epi64x(int64_t(x)); }
  static I load(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static I mix(I a, I b) { return _mm256_xor_si256(a, b); }
  static void store(uint8_t* p, I v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
  static void stream(uint8_t* p, I v) { _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v); }
  static void fence() { _mm_sfence(); }
  static uint64_t fold(I v) {
    const __m128i x = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return uint64_t(_mm_cvtsi128_si64(x)) | uint64_t(_mm_extract_epi64(x, 1));
  }
  static F splatf(float s) { return _mm256_set1_ps(s); }
  static F loadf(const float* p) { return _mm256_load_ps(p); }
  static void storef(float* p, F v) { _mm256_store_ps(p, v); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
};

}  // namespace

const ProbeKernels* probe_kernels_avx2() {
  static const ProbeKernels table = make_probe_kernels<V256>("avx2");
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &table : nullptr;
}

}  // namespace bwscope::meter
