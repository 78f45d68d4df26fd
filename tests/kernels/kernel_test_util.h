// Shared pieces of the kernel tests: which tables to test, random inputs, weight matrices in
// every stored type, and the double-precision reference dot product.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/kernels/ops.h"

namespace bwscope::kernels::ktest {

// The SIMD tables every test runs on (each against the scalar reference).
inline const std::vector<std::string>& simd_isas() {
  static const std::vector<std::string> isas = {"avx2", "avx512"};
  return isas;
}

// The table named `isa`, or nullptr with the reason to skip.
inline const Ops* table_or_skip_reason(const std::string& isa, std::string* reason) {
  const Ops* ops = ops_by_name(isa);
  if (!ops)
    *reason = isa == "avx512" ? "avx512 kernels unavailable: this CPU lacks one of AVX-512 F/BW/VL/DQ/VNNI/BF16"
                              : "avx2 kernels unavailable: this CPU lacks one of AVX2/FMA/F16C";
  return ops;
}

#define BWSCOPE_TABLE_OR_SKIP(ops_var, isa)                          \
  std::string skip_reason_;                                          \
  const ::bwscope::kernels::Ops* ops_var =                           \
      ::bwscope::kernels::ktest::table_or_skip_reason(isa, &skip_reason_); \
  if (ops_var) {                                                     \
  } else                                                             \
    GTEST_SKIP() << skip_reason_

// Uniform in ±[lo, hi] with a random sign: never zero.
inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = 0.05f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mag(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = (rng() & 1 ? 1.0f : -1.0f) * mag(rng);
  return v;
}

inline size_t stored_row_bytes(DType type, int64_t cols) { return size_t(*row_bytes(type, uint64_t(cols))); }

// A weight matrix in `type`, rows quantized from random floats whose magnitude varies by
// row and by 32-column block (so block scales differ), plus its dequantized values.
struct TestMatrix {
  Matrix m;
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // dequantized, rows × cols
};

inline TestMatrix random_matrix(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  TestMatrix t;
  const size_t rb = stored_row_bytes(type, cols);
  t.bytes.assign(rb * size_t(rows), 0);
  t.values.resize(size_t(rows * cols));
  std::vector<float> src = random_floats(size_t(rows * cols), seed);
  for (int64_t i = 0; i < rows * cols; ++i) src[size_t(i)] *= 0.25f + float((i / 32) % 7);
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, src.data() + r * cols, t.bytes.data() + size_t(r) * rb, cols);
    dequantize_row(type, t.bytes.data() + size_t(r) * rb, t.values.data() + r * cols, cols);
  }
  t.m = Matrix{type, rows, cols, rb, t.bytes.data()};
  return t;
}

// Σ w·x and Σ |w·x| in double.
struct Dot {
  double value = 0, abs = 0;
};
inline Dot exact_dot(const float* w, const float* x, int64_t n) {
  Dot d;
  for (int64_t i = 0; i < n; ++i) {
    d.value += double(w[i]) * double(x[i]);
    d.abs += std::fabs(double(w[i]) * double(x[i]));
  }
  return d;
}

}  // namespace bwscope::kernels::ktest
