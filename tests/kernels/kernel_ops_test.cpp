// rmsnorm, swiglu, rope, attention and store_kv of every SIMD table against the scalar
// reference (or a double-precision evaluation of the definition), on awkward sizes.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/kernel_test_util.h"

namespace bwscope::kernels {
namespace {

using ktest::random_floats;
using ktest::stored_row_bytes;

class KernelOps : public ::testing::TestWithParam<std::string> {};

const std::vector<int64_t> kLengths = {1, 7, 16, 31, 33, 2048, 4095};

TEST_P(KernelOps, RmsnormMatchesDefinitionInDouble) {
  BWSCOPE_TABLE_OR_SKIP(ops, GetParam());
  for (int64_t n : kLengths) {
    SCOPED_TRACE(testing::Message() << "n " << n);
    const auto x = random_floats(size_t(n), uint32_t(n), 0.01f, 3.0f), wt = random_floats(size_t(n), uint32_t(n) + 1);
    std::vector<float> out(size_t(n) + 1, -7.0f);
    const float eps = 1e-5f;
    ops->rmsnorm(x.data(), wt.data(), n, eps, out.data());
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double scale = 1.0 / std::sqrt(ss / double(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      const double want = x[size_t(i)] * scale * wt[size_t(i)];
      ASSERT_NEAR(out[size_t(i)], want, 1e-5 * std::fabs(want) + 1e-30) << "i " << i;
    }
    EXPECT_EQ(out[size_t(n)], -7.0f) << "wrote past n";
  }
}

TEST_P(KernelOps, SwigluMatchesDefinitionInDouble) {
  BWSCOPE_TABLE_OR_SKIP(ops, GetParam());
  for (int64_t n : kLengths) {
    SCOPED_TRACE(testing::Message() << "n " << n);
    auto gate = random_floats(size_t(n), uint32_t(n), 0.001f, 20.0f);
    const auto up = random_floats(size_t(n), uint32_t(n) + 2);
    if (n >= 7) gate[0] = 90.0f, gate[1] = -90.0f, gate[2] = 1e-30f, gate[3] = -87.0f, gate[4] = 88.0f, gate[5] = -0.0f;
    std::vector<float> out(size_t(n) + 1, -7.0f);
    ops->swiglu(gate.data(), up.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const double g = gate[size_t(i)], want = g / (1.0 + std::exp(-g)) * up[size_t(i)];
      ASSERT_NEAR(out[size_t(i)], want, 2e-6 * std::fabs(want) + 1e-37) << "gate " << g;
    }
    EXPECT_EQ(out[size_t(n)], -7.0f) << "wrote past n";
  }
}

TEST_P(KernelOps, RopeMatchesReference) {
  BWSCOPE_TABLE_OR_SKIP(ops, GetParam());
  for (int64_t head_dim : {2, 6, 14, 16, 64, 128})
    for (int64_t n_heads : {1, 3, 8})
      for (int64_t pos : {0, 1, 17, 1000, 131071}) {
        SCOPED_TRACE(testing::Message() << "head_dim " << head_dim << " heads " << n_heads << " pos " << pos);
        std::vector<float> inv_freq(size_t(head_dim / 2));
        for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = std::pow(500000.0f, -2.0f * float(i) / float(head_dim));
        const auto x = random_floats(size_t(n_heads * head_dim) + 1, uint32_t(pos + head_dim));
        auto got = x, want = x;
        ops->rope(got.data(), n_heads, head_dim, pos, inv_freq.data());
        scalar_ops().rope(want.data(), n_heads, head_dim, pos, inv_freq.data());
        for (size_t i = 0; i + 1 < x.size(); i += 2) {
          const float mag = std::fabs(x[i]) + std::fabs(x[i + 1]);
          ASSERT_NEAR(got[i], want[i], 1e-6f * mag) << "i " << i;
          ASSERT_NEAR(got[i + 1], want[i + 1], 1e-6f * mag) << "i " << i + 1;
        }
        EXPECT_EQ(got.back(), x.back()) << "wrote past the heads";
      }
}

TEST_P(KernelOps, StoreKvConvertsExactlyAsQuantizeRow) {
  BWSCOPE_TABLE_OR_SKIP(ops, GetParam());
  for (DType kv : {DType::F32, DType::F16})
    for (int64_t n : {1, 7, 33, 64, 130}) {
      SCOPED_TRACE(testing::Message() << dtype_name(kv) << " n " << n);
      auto x = random_floats(size_t(n), uint32_t(n), 1e-6f, 70000.0f);  // beyond f16's range too
      if (n >= 4) x[0] = 6e-8f, x[1] = 1.0f + std::ldexp(1.0f, -11), x[2] = -INFINITY, x[3] = 65519.0f;
      const size_t bytes = stored_row_bytes(kv, n);
      std::vector<uint8_t> got(bytes + 4, 0xab), want(bytes + 4, 0xab);
      ops->store_kv(x.data(), n, kv, got.data());
      quantize_row(kv, x.data(), want.data(), n);
      ASSERT_EQ(got, want);
    }
}

// Attention over F32 and F16 caches, GQA (4 query heads per KV head), a head range not
// starting at 0, padded head strides, head_dim below/at/above one vector and above 128.
TEST_P(KernelOps, AttentionMatchesReference) {
  BWSCOPE_TABLE_OR_SKIP(ops, GetParam());
  for (DType kv : {DType::F32, DType::F16})
    for (int64_t head_dim : {8, 24, 64, 160})
      for (int64_t n_kv : {1, 5, 33, 300}) {
        SCOPED_TRACE(testing::Message() << dtype_name(kv) << " head_dim " << head_dim << " n_kv " << n_kv);
        const int64_t n_head = 8, n_kv_head = 2, cap = n_kv + 3, head_stride = cap * head_dim;
        const auto q = random_floats(size_t(n_head * head_dim), uint32_t(n_kv), 0.1f, 2.0f);
        const size_t cache_bytes = stored_row_bytes(kv, n_kv_head * head_stride);
        std::vector<uint8_t> k(cache_bytes), v(cache_bytes);
        quantize_row(kv, random_floats(size_t(n_kv_head * head_stride), 3).data(), k.data(), n_kv_head * head_stride);
        quantize_row(kv, random_floats(size_t(n_kv_head * head_stride), 4).data(), v.data(), n_kv_head * head_stride);
        std::vector<float> got(size_t(n_head * head_dim), -7.0f), want = got;
        std::vector<float> scores(static_cast<size_t>(n_kv)), scores_ref(static_cast<size_t>(n_kv));
        AttentionArgs a;
        a.q = q.data();
        a.k = k.data();
        a.v = v.data();
        a.kv_type = kv;
        a.n_head = n_head;
        a.n_kv_head = n_kv_head;
        a.head_dim = head_dim;
        a.head_stride = head_stride;
        a.n_kv = n_kv;
        a.scale = 1.0f / std::sqrt(float(head_dim));
        a.head0 = 1;
        a.head1 = 7;
        a.scores = scores.data();
        a.out = got.data();
        ops->attention(a);
        a.scores = scores_ref.data();
        a.out = want.data();
        scalar_ops().attention(a);
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << "i " << i;  // |v| <= 1
        EXPECT_EQ(got[0], -7.0f) << "head 0 is outside the range";
        EXPECT_EQ(got.back(), -7.0f) << "head 7 is outside the range";
      }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelOps, ::testing::ValuesIn(ktest::simd_isas()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace bwscope::kernels
