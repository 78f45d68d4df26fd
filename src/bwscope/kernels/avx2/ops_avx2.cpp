#include "bwscope/kernels/ops.h"
namespace bwscope::kernels {
const Ops* avx2_ops() { return nullptr; }  // SIMD table not written yet
}  // namespace bwscope::kernels
