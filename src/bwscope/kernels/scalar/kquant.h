// Reference K-quant pieces (Q4_K, Q5_K, Q6_K weights, Q8_K activations) shared by the scalar
// table and the conversions in quant.cpp. The block layouts are described in base/dtype.h.
#pragma once

#include <cstdint>

#include "bwscope/base/dtype.h"

namespace bwscope::kernels::kquant {

// One super-block in plain form: 256 integer values and one integer scale per sub-block.
// Q4_K/Q5_K: value i = d · sc[i / 32] · q[i] - dmin · m[i / 32], q in 0..15 / 0..31.
// Q6_K: value i = d · sc[i / 16] · q[i], q in -32..31 (m unused, dmin = 0).
struct Unpacked {
  int q[kQK_K];
  int sc[16];
  int m[8];
  float d, dmin;
};

void unpack(DType type, const uint8_t* block, Unpacked& u);

// n values (a multiple of 256) to and from rows of `type` (Q4_K, Q5_K, Q6_K or Q8_K).
void dequantize(DType type, const uint8_t* src, float* dst, int64_t n);
void quantize(DType type, const float* src, uint8_t* dst, int64_t n);

// Dot product of a weight row of `type` with a Q8_K activation row, n values: exact integer
// sums per sub-block, scaled in float per super-block.
float dot(DType type, const uint8_t* row, const uint8_t* act, int64_t n);

}  // namespace bwscope::kernels::kquant
