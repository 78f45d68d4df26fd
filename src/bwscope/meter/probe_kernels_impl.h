// The bodies of the probe's memory kernels, written once over a vector "traits" type V that
// each ISA file defines before including this header (probe_avx512.cpp, probe_avx2.cpp,
// probe_kernels.cpp). Everything here sits in an anonymous namespace: each ISA file compiles
// its own copy with its own flags.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bwscope/meter/probe_kernels.h"

namespace bwscope::meter {
namespace {

// Reads K streams interleaved, one chunk of each per iteration. XOR (one-cycle latency) into
// four accumulators keeps the loop limited by the loads, not by a dependency chain.
template <class V, int K, bool Prefetch>
uint64_t read_streams(const uint8_t* p, size_t stream_bytes) {
  constexpr size_t kVecs = kProbeChunkBytes / V::kBytes;
  typename V::I acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
  for (size_t off = 0; off < stream_bytes; off += kProbeChunkBytes) {
#pragma GCC unroll 16
    for (int k = 0; k < K; ++k) {
      const uint8_t* s = p + size_t(k) * stream_bytes + off;
      if constexpr (Prefetch) {
        // Past the end of a stream this touches the next stream (or the buffer's tail, which
        // the caller keeps mapped): prefetches never fault, so that is harmless.
        __builtin_prefetch(s + kProbePrefetchBytes, 0, 3);
        __builtin_prefetch(s + kProbePrefetchBytes + 64, 0, 3);
      }
#pragma GCC unroll 16
      for (size_t j = 0; j < kVecs; ++j) acc[j & 3] = V::mix(acc[j & 3], V::load(s + j * V::kBytes));
    }
  }
  return V::fold(V::mix(V::mix(acc[0], acc[1]), V::mix(acc[2], acc[3])));
}

template <class V, bool Prefetch>
uint64_t read_dispatch(const uint8_t* p, size_t stream_bytes, int n_streams) {
  switch (n_streams) {
    case 1: return read_streams<V, 1, Prefetch>(p, stream_bytes);
    case 2: return read_streams<V, 2, Prefetch>(p, stream_bytes);
    case 4: return read_streams<V, 4, Prefetch>(p, stream_bytes);
    case 8: return read_streams<V, 8, Prefetch>(p, stream_bytes);
    default: return read_streams<V, 16, Prefetch>(p, stream_bytes);
  }
}

template <class V>
uint64_t read_kernel(const uint8_t* p, size_t stream_bytes, int n_streams, bool prefetch) {
  return prefetch ? read_dispatch<V, true>(p, stream_bytes, n_streams) : read_dispatch<V, false>(p, stream_bytes, n_streams);
}

template <class V>
void write_kernel(uint8_t* p, size_t bytes, bool nontemporal) {
  const typename V::I v = V::splat(0x5bd1e9955bd1e995ull);
  if (nontemporal) {
    for (size_t off = 0; off < bytes; off += V::kBytes) V::stream(p + off, v);
    V::fence();  // non-temporal stores are weakly ordered: drain them inside the timed region
  } else {
    for (size_t off = 0; off < bytes; off += V::kBytes) V::store(p + off, v);
  }
}

template <class V>
void copy_kernel(uint8_t* dst, const uint8_t* src, size_t bytes) {
  for (size_t off = 0; off < bytes; off += V::kBytes) V::store(dst + off, V::load(src + off));
}

template <class V>
void triad_kernel(float* a, const float* b, const float* c, float s, size_t n) {
  constexpr size_t kLanes = sizeof(typename V::F) / sizeof(float);
  const typename V::F vs = V::splatf(s);
  for (size_t i = 0; i < n; i += kLanes) V::storef(a + i, V::fmadd(vs, V::loadf(c + i), V::loadf(b + i)));
}

template <class V>
ProbeKernels make_probe_kernels(const char* isa) {
  return {isa, &read_kernel<V>, &write_kernel<V>, &copy_kernel<V>, &triad_kernel<V>};
}

}  // namespace
}  // namespace bwscope::meter
