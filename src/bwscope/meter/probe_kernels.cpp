// The plain (no SIMD intrinsics) probe kernels, and the run-time choice among the tables.
#include "bwscope/meter/probe_kernels.h"

#include <cstdlib>
#include <string_view>

#include "bwscope/meter/probe_kernels_impl.h"

namespace bwscope::meter {
namespace {

// 64-bit words: the compiler may vectorise these loops with the baseline ISA, which is the point.
struct VPlain {
  using I = uint64_t;
  using F = float;
  static constexpr size_t kBytes = 8;
  static I zero() { return 0; }
  static I splat(uint64_t x) { return x; }
  static I load(const uint8_t* p) { return *reinterpret_cast<const uint64_t*>(p); }
  static I mix(I a, I b) { return a ^ b; }
  static void store(uint8_t* p, I v) { *reinterpret_cast<uint64_t*>(p) = v; }
  static void stream(uint8_t* p, I v) { store(p, v); }  // no portable non-temporal store
  static void fence() {}
  static uint64_t fold(I v) { return v; }
  static F splatf(float s) { return s; }
  static F loadf(const float* p) { return *p; }
  static void storef(float* p, F v) { *p = v; }
  static F fmadd(F a, F b, F c) { return a * b + c; }
};

}  // namespace

const ProbeKernels& probe_kernels_plain() {
  static const ProbeKernels table = make_probe_kernels<VPlain>("plain");
  return table;
}

const ProbeKernels& best_probe_kernels() {
  static const ProbeKernels* chosen = [] {
    // The same override as the compute kernels, so one variable narrows the whole program.
    const char* forced = std::getenv("BWSCOPE_ISA");
    const std::string_view isa = forced ? forced : "";
    if (isa == "scalar") return &probe_kernels_plain();
    if (isa != "avx2")
      if (const ProbeKernels* k = probe_kernels_avx512()) return k;
    if (const ProbeKernels* k = probe_kernels_avx2()) return k;
    return &probe_kernels_plain();
  }();
  return *chosen;
}

}  // namespace bwscope::meter
