// CPU features the kernel tables need that compilers' __builtin_cpu_supports does not name
// alike (clang 14 knows no "f16c"): read from CPUID directly.
#pragma once

#include <cpuid.h>

namespace bwscope::kernels {

inline bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}

}  // namespace bwscope::kernels
