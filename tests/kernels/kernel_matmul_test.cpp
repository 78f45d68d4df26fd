// matmul and prepare_act of every SIMD table against the definitions: the dot product of the
// stored weights with the prepared activations (exact, in double), on awkward sizes.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "kernels/kernel_test_util.h"

namespace bwscope::kernels {
namespace {

using ktest::exact_dot;
using ktest::random_floats;
using ktest::random_matrix;
using ktest::stored_row_bytes;
using ktest::TestMatrix;

constexpr float kSentinel = 12345.0f;

bool is_kquant(DType t) { return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K; }
bool is_quant(DType t) { return t == DType::Q8_0 || t == DType::Q4_0 || is_kquant(t); }
std::vector<int64_t> cols_for(DType t) {
  if (is_kquant(t)) return {256, 512, 768, 4096 + 256};
  if (is_quant(t)) return {32, 64, 96, 4064, 4096 + 32};
  return {1, 7, 31, 33, 2048, 4095};
}

// Activations for `type` as table `ops` prepares them, rows act_stride bytes apart (not a
// multiple of 64, so no kernel may assume aligned activations), plus their float values.
struct Activations {
  std::vector<uint8_t> bytes;
  size_t stride = 0;
  std::vector<float> values;  // n_tok × cols
};
Activations prepare(const Ops& ops, DType type, const std::vector<float>& x, int64_t ldx, int64_t n_tok, int64_t cols) {
  Activations a;
  const DType at = ops.act_type(type);
  a.stride = stored_row_bytes(at, cols) + 24;
  a.bytes.assign(a.stride * size_t(n_tok), 0xcd);
  ops.prepare_act(type, x.data(), ldx, n_tok, cols, a.bytes.data(), a.stride);
  a.values.resize(size_t(n_tok * cols));
  for (int64_t t = 0; t < n_tok; ++t) dequantize_row(at, a.bytes.data() + t * a.stride, a.values.data() + t * cols, cols);
  return a;
}

// Outputs y[t·ldy + r] that are wrong: outside [row0, row1) anything but the sentinel, inside
// further from the exact dot than float accumulation allows (relative to Σ|w·x|). Reports the
// first few.
int bad_outputs(const std::vector<float>& y, int64_t ldy, int64_t n_tok, int64_t row0, int64_t row1, const TestMatrix& w,
                const Activations& a, int64_t cols) {
  int bad = 0;
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = 0; r < ldy; ++r) {
      const float got = y[size_t(t * ldy + r)];
      if (r < row0 || r >= row1) {
        if (got != kSentinel && ++bad < 5) ADD_FAILURE() << "wrote outside its rows: t " << t << " r " << r;
        continue;
      }
      const auto ref = exact_dot(w.values.data() + r * cols, a.values.data() + t * cols, cols);
      if (std::fabs(got - ref.value) > 2e-5 * ref.abs + 1e-30 && ++bad < 5)
        ADD_FAILURE() << "t " << t << " r " << r << ": got " << got << " want " << ref.value << " (Σ|w·x| " << ref.abs << ")";
    }
  return bad;
}

class KernelMatmul : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};
class KernelQuant8Matmul : public KernelMatmul {};  // Q8_0 and Q4_0 only

std::string isa_type_name(const testing::TestParamInfo<std::tuple<std::string, DType>>& info) {
  return std::get<0>(info.param) + "_" + std::string(dtype_name(std::get<1>(info.param)));
}

TEST_P(KernelMatmul, EqualsExactDotOfStoredWeightsAndPreparedActivations) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  uint32_t seed = 1;
  for (int64_t cols : cols_for(type))
    for (int64_t rows : {1, 3, 5, 17, 64})
      // From 8 tokens on, the packed kernels: 8, 13, 23, 40, 69 leave token tails of every
      // size 1..5 after AVX2's 6-token tiles.
      for (int64_t n_tok : {1, 2, 3, 4, 5, 8, 13, 23, 40, 69}) {
        SCOPED_TRACE(testing::Message() << "cols " << cols << " rows " << rows << " n_tok " << n_tok);
        const auto w = random_matrix(type, rows, cols, ++seed);
        const int64_t ldx = cols + 3, ldy = rows + 5;
        const auto x = random_floats(size_t(n_tok * ldx), ++seed);
        const Activations a = prepare(*ops, type, x, ldx, n_tok, cols);
        const int64_t row0 = rows / 3, row1 = rows > 4 ? rows - 1 : rows;  // a range not starting at 0
        std::vector<float> y(size_t(n_tok * ldy), kSentinel);
        ops->matmul(w.m, a.bytes.data(), a.stride, n_tok, y.data(), ldy, row0, row1);
        ASSERT_EQ(0, bad_outputs(y, ldy, n_tok, row0, row1, w, a, cols));
      }
}

// Extreme Q8_0/Q4_0 quants reach the largest pair and block sums the integer paths form:
// weights -128 and ±127 (Q4_0: nibbles 0 and 15) against activations ±127, of one sign over
// whole blocks or mixed. The sums must stay exact for few tokens (decode tiles) and many
// (packed panels; 70 tokens leave a partial token tile, 21 rows a partial row strip).
TEST_P(KernelQuant8Matmul, ExtremeQuantsStayExact) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  const bool q8 = type == DType::Q8_0;
  const int64_t rows = 21, cols = 96, nb = cols / kQK8_0;
  const size_t rb = stored_row_bytes(type, cols), block_bytes = q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
  std::vector<uint8_t> bytes(rb * size_t(rows));
  std::mt19937 rng(5);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* block = bytes.data() + size_t(r) * rb + size_t(b) * block_bytes;
      const uint16_t d = f32_to_f16(0.5f + 0.25f * float((r + b) % 3));
      std::memcpy(block, &d, 2);
      for (int j = 0; j < (q8 ? 32 : 16); ++j) {
        // rows by r % 4: the most negative weight everywhere, the most positive, alternating, random of those
        const int pick = r % 4 == 0 ? 0 : r % 4 == 1 ? 1 : r % 4 == 2 ? j % 2 : int(rng() % 2);
        block[2 + j] = q8 ? uint8_t(pick ? 127 : -128) : uint8_t(pick ? 0x00 : 0xff);
      }
    }
  std::vector<float> w_values(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(type, bytes.data() + size_t(r) * rb, w_values.data() + r * cols, cols);
  const Matrix w{type, rows, cols, rb, bytes.data()};
  for (int64_t n_tok : {3, 70}) {
    SCOPED_TRACE(testing::Message() << "n_tok " << n_tok);
    std::vector<float> x(size_t(n_tok * cols));  // ±1 in every block: quants ±127
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < cols; ++i)
        x[size_t(t * cols + i)] = (t % 4 == 0 ? true : t % 4 == 1 ? false : t % 4 == 2 ? i % 2 == 0 : rng() % 2 == 0) ? 1.0f : -1.0f;
    const Activations a = prepare(*ops, type, x, cols, n_tok, cols);
    std::vector<float> y(size_t(n_tok * rows));
    ops->matmul(w, a.bytes.data(), a.stride, n_tok, y.data(), rows, 0, rows);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const auto ref = exact_dot(w_values.data() + r * cols, a.values.data() + t * cols, cols);
        ASSERT_LE(std::fabs(y[size_t(t * rows + r)] - ref.value), 2e-5 * ref.abs) << "t " << t << " r " << r;
      }
  }
}

// Two threads on disjoint row ranges (as the engine's pool runs it) give what one call gives:
// the kernels' scratch is per thread.
void expect_two_threads_agree_with_one_call(const Ops& ops, const TestMatrix& w, int64_t split) {
  const int64_t rows = w.m.rows, cols = w.m.cols;
  for (int64_t n_tok : {1, 2, 7, 40}) {
    SCOPED_TRACE(testing::Message() << "n_tok " << n_tok << " split " << split);
    const auto x = random_floats(size_t(n_tok * cols), 8);
    const Activations a = prepare(ops, w.m.type, x, cols, n_tok, cols);
    std::vector<float> one(size_t(n_tok * rows)), two(size_t(n_tok * rows));
    ops.matmul(w.m, a.bytes.data(), a.stride, n_tok, one.data(), rows, 0, rows);
    for (int rep = 0; rep < 3; ++rep) {
      std::thread other([&] { ops.matmul(w.m, a.bytes.data(), a.stride, n_tok, two.data(), rows, split, rows); });
      ops.matmul(w.m, a.bytes.data(), a.stride, n_tok, two.data(), rows, 0, split);
      other.join();
      ASSERT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
    }
  }
}

TEST_P(KernelMatmul, TwoThreadsOnDisjointRowsAgreeWithOneCall) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  expect_two_threads_agree_with_one_call(*ops, random_matrix(type, 96, is_quant(type) ? 2048 : 2047, 7), 48);
}

// Against the float inputs before preparation, matmul is within the error the activation
// format allows: F32 none, BF16 2^-9 relative per element, Q8_0 d/2 + fp16 rounding of d
// per element (d = block amax / 127). The scalar table is held to the same bound.
TEST_P(KernelMatmul, StaysWithinActivationFormatErrorOfFloatInputs) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  for (const Ops* table : {&scalar_ops(), ops}) {
    for (int64_t cols : {is_kquant(type) ? int64_t(256) : is_quant(type) ? int64_t(32) : int64_t(33), int64_t(4096)})
      for (int64_t n_tok : {1, 8}) {
        SCOPED_TRACE(testing::Message() << table->isa << " cols " << cols << " n_tok " << n_tok);
        const int64_t rows = 17;
        const auto w = random_matrix(type, rows, cols, 11);
        const auto x = random_floats(size_t(n_tok * cols), 12);
        const Activations a = prepare(*table, type, x, cols, n_tok, cols);
        std::vector<float> y(size_t(n_tok * rows));
        table->matmul(w.m, a.bytes.data(), a.stride, n_tok, y.data(), rows, 0, rows);
        const DType at = table->act_type(type);
        for (int64_t t = 0; t < n_tok; ++t)
          for (int64_t r = 0; r < rows; ++r) {
            const float* wr = w.values.data() + r * cols;
            const float* xt = x.data() + t * cols;
            const auto ref = exact_dot(wr, xt, cols);
            double bound = 2e-5 * ref.abs;
            if (at == DType::BF16) bound += std::ldexp(1.0, -9) * ref.abs;
            if (at == DType::Q8_K)  // d/2 per element, d = amax / 127 of the 256-block, d kept in f32
              for (int64_t b = 0; b < cols; b += 256) {
                double amax = 0, wsum = 0;
                for (int j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(double(xt[b + j]))), wsum += std::fabs(double(wr[b + j]));
                bound += wsum * amax * (1.0 / 254 + 1e-6);
              }
            if (at == DType::Q8_0)
              for (int64_t b = 0; b < cols; b += 32) {
                double amax = 0, wsum = 0;
                for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(double(xt[b + j]))), wsum += std::fabs(double(wr[b + j]));
                bound += wsum * amax * (1.0 / 254 + 1.0 / 2048);
              }
            ASSERT_LE(std::fabs(y[size_t(t * rows + r)] - ref.value), bound) << "t " << t << " r " << r;
          }
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelMatmul,
                         ::testing::Combine(::testing::ValuesIn(ktest::simd_isas()),
                                            ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                                                              DType::Q4_K, DType::Q5_K, DType::Q6_K)),
                         isa_type_name);
INSTANTIATE_TEST_SUITE_P(Kernels, KernelQuant8Matmul,
                         ::testing::Combine(::testing::ValuesIn(ktest::simd_isas()), ::testing::Values(DType::Q8_0, DType::Q4_0)),
                         isa_type_name);

// The interleaved layouts (Matrix::interleaved) on every table, the reference included:
// groups of 8 rows for Q8_0/Q4_0, 16 for the float types.
class KernelInterleaved : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};
class KernelInterleavedQuant8 : public KernelInterleaved {};  // Q8_0 and Q4_0 only

TestMatrix interleaved_copy(const TestMatrix& plain) {
  TestMatrix t = plain;
  interleave_rows(plain.m, t.bytes.data());
  t.m.data = t.bytes.data();
  t.m.interleaved = true;
  return t;
}

TEST_P(KernelInterleaved, LayoutKeepsEveryRowAndItsSize) {
  const DType type = std::get<1>(GetParam());
  const int64_t g = interleave_group_rows(type);
  ASSERT_EQ(is_quant(type) ? 8 : 16, g);
  for (int64_t cols : is_quant(type) ? std::vector<int64_t>{32, 96, 2048} : std::vector<int64_t>{1, 33, 2047}) {
    const TestMatrix plain = random_matrix(type, 3 * g, cols, uint32_t(cols));
    ASSERT_TRUE(can_interleave(plain.m));
    const TestMatrix inter = interleaved_copy(plain);
    if (cols > 1) {  // (one column of 16 rows is stored the same either way)
      EXPECT_NE(0, std::memcmp(plain.bytes.data(), inter.bytes.data(), plain.bytes.size())) << "cols " << cols;
    }
    std::vector<uint8_t> row(plain.m.row_bytes);
    std::vector<float> got(static_cast<size_t>(cols)), want(static_cast<size_t>(cols));
    for (int64_t r = 0; r < plain.m.rows; ++r) {
      read_row(inter.m, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), plain.bytes.data() + size_t(r) * plain.m.row_bytes, row.size())) << "row " << r;
      dequantize_matrix_row(inter.m, r, got.data());
      dequantize_row(type, plain.bytes.data() + size_t(r) * plain.m.row_bytes, want.data(), cols);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float))) << "row " << r;
    }
  }
  EXPECT_FALSE(can_interleave(random_matrix(type, g + 4, 64, 3).m));  // rows not a multiple of the group
  EXPECT_FALSE(can_interleave(random_matrix(DType::Q4_K, 16, 256, 3).m));
}

TEST_P(KernelInterleaved, MatmulEqualsExactDotForEveryTokenCountAndRowRange) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  const int64_t g = interleave_group_rows(type);
  uint32_t seed = 100;
  for (int64_t cols : cols_for(type))
    // 96: passes of several groups after a cut one; 11 groups: wide passes over stretches of
    // 2-5 groups (step > 1), then the groups the stretches leave over (only the wide passes
    // of 1-4 tokens take stretches).
    for (int64_t rows : {g, 3 * g, int64_t(96), 11 * g})
      for (int64_t n_tok : {1, 2, 3, 4, 5, 6, 7, 8, 13, 40}) {
        if (rows == 11 * g && n_tok > 4) continue;
        const TestMatrix w = interleaved_copy(random_matrix(type, rows, cols, ++seed));
        const int64_t ldx = cols + 3, ldy = rows + 5;
        const auto x = random_floats(size_t(n_tok * ldx), ++seed);
        const Activations a = prepare(*ops, type, x, ldx, n_tok, cols);
        // Ranges that cut the first group, the last group, or only the last (a short packed panel).
        for (auto [row0, row1] : {std::pair<int64_t, int64_t>{0, rows}, {3, rows - 1}, {g, rows}, {0, rows - 3}, {g, rows - 1}}) {
          if (row1 < row0) continue;
          SCOPED_TRACE(testing::Message() << "cols " << cols << " rows " << rows << " n_tok " << n_tok << " range " << row0 << ".." << row1);
          std::vector<float> y(size_t(n_tok * ldy), kSentinel);
          ops->matmul(w.m, a.bytes.data(), a.stride, n_tok, y.data(), ldy, row0, row1);
          ASSERT_EQ(0, bad_outputs(y, ldy, n_tok, row0, row1, w, a, cols));
        }
      }
}

// The largest products the formats allow (Q8_0 weights -128 and 127, Q4_0 nibbles 0 and 15,
// activations ±127) fill the 16-bit pair sums to their bounds: no saturation may show, on any
// path (1 token: four groups at once; 3: two; 70: the packed GEMM).
TEST_P(KernelInterleavedQuant8, ExtremeQuantsDoNotSaturate) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  const int64_t rows = 64, cols = 128;
  TestMatrix w = random_matrix(type, rows, cols, 7);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / kQK8_0; ++b) {
      uint8_t* blk = w.bytes.data() + size_t(r) * w.m.row_bytes + size_t(b) * (type == DType::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
      const size_t n = type == DType::Q8_0 ? kQK8_0 : kQK8_0 / 2;
      for (size_t j = 0; j < n; ++j)
        blk[2 + j] = type == DType::Q8_0 ? uint8_t((r + b) % 2 ? 0x80 : 0x7f) : uint8_t((r + b) % 2 ? 0x00 : 0xff);
    }
  for (int64_t r = 0; r < rows; ++r) dequantize_row(type, w.bytes.data() + size_t(r) * w.m.row_bytes, w.values.data() + r * cols, cols);
  const TestMatrix inter = interleaved_copy(w);
  for (int64_t n_tok : {1, 3, 70}) {
    SCOPED_TRACE(testing::Message() << "n_tok " << n_tok);
    std::vector<float> x(size_t(n_tok * cols));
    for (int64_t i = 0; i < n_tok * cols; ++i) x[size_t(i)] = (i / cols) % 2 == 1 ? -1.0f : 1.0f;  // quantized to ±127
    const Activations a = prepare(*ops, type, x, cols, n_tok, cols);
    std::vector<float> y(size_t(n_tok * rows));
    ops->matmul(inter.m, a.bytes.data(), a.stride, n_tok, y.data(), rows, 0, rows);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const auto ref = exact_dot(w.values.data() + r * cols, a.values.data() + t * cols, cols);
        ASSERT_NEAR(y[size_t(t * rows + r)], ref.value, 2e-5 * ref.abs) << "t " << t << " r " << r;
      }
  }
}

// Two threads on interleaved weights, split after 48 rows (whole groups, and for Q8_0/Q4_0
// whole pairs of groups) and after 40 (a lone Q8_0 group at the seam; a float group cut in two).
TEST_P(KernelInterleaved, TwoThreadsOnDisjointRowsAgreeWithOneCall) {
  const auto& [isa, type] = GetParam();
  BWSCOPE_TABLE_OR_SKIP(ops, isa);
  const TestMatrix w = interleaved_copy(random_matrix(type, 96, is_quant(type) ? 2048 : 2047, 7));
  for (int64_t split : {48, 40}) expect_two_threads_agree_with_one_call(*ops, w, split);
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelInterleaved,
                         ::testing::Combine(::testing::Values("scalar", "avx2", "avx512"),
                                            ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0)),
                         isa_type_name);
INSTANTIATE_TEST_SUITE_P(Kernels, KernelInterleavedQuant8,
                         ::testing::Combine(::testing::Values("scalar", "avx2", "avx512"), ::testing::Values(DType::Q8_0, DType::Q4_0)),
                         isa_type_name);

class KernelPrepareAct : public ::testing::TestWithParam<std::string> {};

// Q8_0 and F32 activations are byte for byte the reference's; BF16 ones (AVX-512) are
// f32_to_bf16 of every element.
TEST_P(KernelPrepareAct, MatchesReferenceConversionByteForByte) {
  BWSCOPE_TABLE_OR_SKIP(ops, GetParam());
  for (DType w : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K})
    for (int64_t cols : is_kquant(w) ? std::vector<int64_t>{256, 768, 4352}
                        : is_quant(w) ? std::vector<int64_t>{32, 96, 4128} : std::vector<int64_t>{1, 17, 33, 4095}) {
      SCOPED_TRACE(testing::Message() << dtype_name(w) << " cols " << cols);
      const int64_t n_tok = 3, ldx = cols + 1;
      auto x = random_floats(size_t(n_tok * ldx), uint32_t(cols), 1e-3f, 50.0f);
      const DType at = ops->act_type(w);
      if (at == DType::Q8_0 || at == DType::Q8_K) {  // d = 1: 2.5 and -2.5 are ties, rounded away from zero
        x[0] = 127.0f, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.5f;
      } else if (cols >= 9) {  // NaN, inf, a subnormal, and bf16 ties to even (down, then up)
        x[4] = std::nanf(""), x[5] = -INFINITY, x[6] = 1e-40f, x[7] = bits_f32(0x3f808000u), x[8] = bits_f32(0x3f818000u);
      }
      const size_t rb = stored_row_bytes(at, cols), stride = rb + 8;
      std::vector<uint8_t> got(stride * n_tok, 0), want(stride * n_tok, 0);
      ops->prepare_act(w, x.data(), ldx, n_tok, cols, got.data(), stride);
      for (int64_t t = 0; t < n_tok; ++t) quantize_row(at, x.data() + t * ldx, want.data() + t * stride, cols);
      if (at != DType::BF16) {
        EXPECT_EQ(at, scalar_ops().act_type(w));
      }
      for (int64_t t = 0; t < n_tok; ++t) {
        ASSERT_EQ(0, std::memcmp(got.data() + t * stride, want.data() + t * stride, rb)) << "token " << t;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelPrepareAct, ::testing::ValuesIn(ktest::simd_isas()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace bwscope::kernels
