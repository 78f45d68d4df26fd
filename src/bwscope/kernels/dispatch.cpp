// Chooses the kernel table once from CPUID (or BWSCOPE_ISA); the only global state of kernels/.
#include <cstdlib>
#include <string_view>

#include "bwscope/base/error.h"
#include "bwscope/kernels/ops.h"

namespace bwscope::kernels {

const Ops* ops_by_name(std::string_view isa) {
  if (isa == "scalar") return &scalar_ops();
  if (isa == "avx2") return avx2_ops();
  if (isa == "avx512") return avx512_ops();
  return nullptr;
}

const Ops& best_ops() {
  static const Ops* chosen = [] {
    if (const char* forced = std::getenv("BWSCOPE_ISA"); forced && *forced) {
      if (const Ops* ops = ops_by_name(forced)) return ops;
      fail("BWSCOPE_ISA={}: not available on this CPU (scalar, avx2, avx512)", forced);
    }
    if (const Ops* ops = avx512_ops()) return ops;
    if (const Ops* ops = avx2_ops()) return ops;
    return &scalar_ops();
  }();
  return *chosen;
}

}  // namespace bwscope::kernels
