// AVX-512 memory kernels for the probe (compiled with -mavx512f; used only when the CPU has it).
#include <immintrin.h>

#include "bwscope/meter/probe_kernels_impl.h"

namespace bwscope::meter {
namespace {

struct V512 {
  using I = __m512i;
  using F = __m512;
  static constexpr size_t kBytes = 64;
  static I zero() { return _mm512_setzero_si512(); }
  static I splat(uint64_t x) { return _mm512_set1_epi64(int64_t(x)); }
  static I load(const uint8_t* p) { return _mm512_load_si512(p); }
  static I mix(I a, I b) { return _mm512_xor_si512(a, b); }
  static void store(uint8_t* p, I v) { _mm512_store_si512(p, v); }
  static void stream(uint8_t* p, I v) { _mm512_stream_si512(reinterpret_cast<__m512i*>(p), v); }
  static void fence() { _mm_sfence(); }
  static uint64_t fold(I v) {  // once per call: a plain loop over the lanes is fine
    alignas(64) uint64_t lanes[8];
    _mm512_store_si512(lanes, v);
    uint64_t f = 0;
    for (uint64_t l : lanes) f |= l;
    return f;
  }
  static F splatf(float s) { return _mm512_set1_ps(s); }
  static F loadf(const float* p) { return _mm512_load_ps(p); }
  static void storef(float* p, F v) { _mm512_store_ps(p, v); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
};

}  // namespace

const ProbeKernels* probe_kernels_avx512() {
  static const ProbeKernels table = make_probe_kernels<V512>("avx512");
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? &table : nullptr;
}

}  // namespace bwscope::meter
