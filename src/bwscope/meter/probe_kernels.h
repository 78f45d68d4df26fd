// The memory kernels `bwscope probe` times: one table per ISA (plain, AVX2, AVX-512), picked
// at run time like kernels/dispatch.cpp picks the compute kernels. Each call works on one
// thread's share; the caller splits the buffer and times the whole parallel region.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bwscope::meter {

// Streams are read in chunks of this many bytes (two cache lines), so every share handed to
// a kernel is a multiple of it.
constexpr size_t kProbeChunkBytes = 128;
// How far ahead of each stream software prefetch runs, when on.
constexpr size_t kProbePrefetchBytes = 1024;

struct ProbeKernels {
  const char* isa;  // "plain", "avx2", "avx512"
  // Reads `n_streams` (1, 2, 4, 8 or 16) consecutive ranges of `stream_bytes` each starting
  // at `p`, interleaved: chunk i of every stream before chunk i + 1 of any. Returns a value
  // folded from everything read, so the loads cannot be optimised away.
  uint64_t (*read)(const uint8_t* p, size_t stream_bytes, int n_streams, bool prefetch);
  // Fills `bytes` at p with a pattern, with normal or non-temporal (cache-bypassing) stores.
  void (*write)(uint8_t* p, size_t bytes, bool nontemporal);
  // dst[i] = src[i] over `bytes`.
  void (*copy)(uint8_t* dst, const uint8_t* src, size_t bytes);
  // a[i] = b[i] + s · c[i] over n floats (STREAM's triad).
  void (*triad)(float* a, const float* b, const float* c, float s, size_t n);
};

const ProbeKernels& probe_kernels_plain();
const ProbeKernels* probe_kernels_avx2();    // nullptr when the CPU lacks AVX2+FMA
const ProbeKernels* probe_kernels_avx512();  // nullptr when the CPU lacks AVX-512F
// The widest table this CPU runs (BWSCOPE_ISA=scalar|avx2|avx512 narrows it, as for kernels).
const ProbeKernels& best_probe_kernels();

}  // namespace bwscope::meter
