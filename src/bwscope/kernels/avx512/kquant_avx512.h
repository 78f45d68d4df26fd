// The AVX-512 K-quant kernels (Q4_K, Q5_K, Q6_K weights × Q8_K activations), declared apart
// from avx512_internal.h; included only by files under kernels/avx512/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bwscope/kernels/ops.h"

namespace bwscope::kernels::avx512 {

// Few tokens (decode) in matmul_kquant_avx512.cpp; more go to kquant_gemm
// (gemm_kquant_avx512.cpp).
void matmul_kquant(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                   int64_t row0, int64_t row1);
void kquant_gemm(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok, float* y, int64_t ldy,
                 int64_t row0, int64_t row1);
// Q8_K activations, byte for byte as the reference quantizer.
void quantize_q8_k(const float* x, uint8_t* out, int64_t n);

}  // namespace bwscope::kernels::avx512
