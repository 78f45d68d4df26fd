// The reference conversions (quantize_row / dequantize_row and the f16/bf16 helpers) against
// the format definitions: Q8_0 and Q4_0 error bounds, IEEE half and bfloat16 rounding on
// known values including subnormals, infinities and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/kernel_test_util.h"

namespace bwscope::kernels {
namespace {

using ktest::random_floats;

// Rows whose blocks span magnitudes from 1e-6 to 1e4, one with a lone outlier.
std::vector<float> varied_row(int64_t n, uint32_t seed) {
  auto x = random_floats(size_t(n), seed);
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] *= std::pow(10.0f, float((i / 32) % 11) - 6.0f);
  x[40] = 3e3f;  // outlier in block 1
  return x;
}

// Largest error of storing d as f16: half an ulp, relative 2^-11 for normals, absolute 2^-25
// (half the smallest subnormal) below 2^-14.
double f16_rounding(double d) { return std::max(d * std::ldexp(1.0, -11), std::ldexp(1.0, -25)); }

TEST(QuantQ8_0, RoundTripIsWithinHalfAStepOfTheBlockScale) {
  const int64_t n = 4096;
  const auto x = varied_row(n, 1);
  std::vector<uint8_t> q(size_t(n / 32) * sizeof(BlockQ8_0));
  std::vector<float> back(static_cast<size_t>(n));
  quantize_row(DType::Q8_0, x.data(), q.data(), n);
  dequantize_row(DType::Q8_0, q.data(), back.data(), n);
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(q.data());
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[size_t(b * 32 + j)]));
    const double d = amax / 127.0;  // |x - q·d| <= d/2, and d is stored as f16, |q| <= 127
    const double bound = d / 2 + 127 * f16_rounding(d);
    int max_q = 0;
    for (int j = 0; j < 32; ++j) {
      const size_t i = size_t(b * 32 + j);
      ASSERT_LE(std::fabs(double(back[i]) - x[i]), bound) << "element " << i;
      max_q = std::max(max_q, std::abs(int(blocks[b].qs[j])));
    }
    EXPECT_EQ(max_q, 127) << "the largest element of block " << b << " uses the full range";
  }
}

TEST(QuantQ8_0, ZeroBlockHasZeroScaleAndQuants) {
  std::vector<float> x(32, 0.0f), back(32, 1.0f);
  BlockQ8_0 q;
  quantize_row(DType::Q8_0, x.data(), reinterpret_cast<uint8_t*>(&q), 32);
  EXPECT_EQ(q.d, 0);
  for (int8_t v : q.qs) EXPECT_EQ(v, 0);
  dequantize_row(DType::Q8_0, reinterpret_cast<uint8_t*>(&q), back.data(), 32);
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

// Q4_0: d = m / -8 for the element m of largest magnitude, q = min(15, floor(x/d + 8.5)),
// value (q - 8)·d: within d/2 of x, except x/d in [7.5, 8] which clamps to 7 (within d).
TEST(QuantQ4_0, RoundTripIsWithinTheFormatBound) {
  const int64_t n = 4096;
  auto x = varied_row(n, 2);
  x[64] = 5.0f, x[65] = -5.0f;  // block 2: x/d = 8 for the opposite of the largest, clamped
  std::vector<uint8_t> q(size_t(n / 32) * sizeof(BlockQ4_0));
  std::vector<float> back(static_cast<size_t>(n));
  quantize_row(DType::Q4_0, x.data(), q.data(), n);
  dequantize_row(DType::Q4_0, q.data(), back.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float m = 0;
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[size_t(b * 32 + j)]) > std::fabs(m)) m = x[size_t(b * 32 + j)];
    const double d = std::fabs(m / -8.0), f16 = 8 * f16_rounding(d);
    for (int j = 0; j < 32; ++j) {
      const size_t i = size_t(b * 32 + j);
      const double ratio = x[i] / (m / -8.0);
      const double bound = (ratio < 7.5 ? d / 2 : d) * (1 + 1e-6) + f16;
      ASSERT_LE(std::fabs(double(back[i]) - x[i]), bound) << "element " << i << " ratio " << ratio;
      if (x[i] == m) {
        EXPECT_NEAR(back[i], m, f16) << "the largest element is exact up to the f16 scale";
      }
    }
  }
}

struct F16Case {
  float f;
  uint16_t h;
};

TEST(QuantF16, RoundsToNearestEvenOnKnownValues) {
  const F16Case cases[] = {
      {1.0f, 0x3c00},
      {-2.0f, 0xc000},
      {65504.0f, 0x7bff},                        // largest finite
      {65519.0f, 0x7bff},                        // below the halfway point to 65536
      {65520.0f, 0x7c00},                        // halfway: rounds to even, which is inf
      {INFINITY, 0x7c00},
      {-INFINITY, 0xfc00},
      {-0.0f, 0x8000},
      {std::ldexp(1.0f, -14), 0x0400},           // smallest normal
      {std::ldexp(1.0f, -24), 0x0001},           // smallest subnormal
      {std::ldexp(1.0f, -25), 0x0000},           // tie between 0 and 2^-24: to even (0)
      {std::ldexp(3.0f, -26), 0x0001},           // above the tie
      {std::ldexp(3.0f, -25), 0x0002},           // tie between 1 and 2 ulps: to even (2)
      {1.0f + std::ldexp(1.0f, -11), 0x3c00},    // tie: to even
      {1.0f + std::ldexp(3.0f, -11), 0x3c02},    // tie: to even (up)
      {std::ldexp(1.0f, -30), 0x0000},           // underflow
  };
  for (const auto& c : cases) EXPECT_EQ(f32_to_f16(c.f), c.h) << c.f;
  const uint16_t nan = f32_to_f16(std::nanf(""));
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0) << "NaN stays NaN";
}

TEST(QuantF16, EveryHalfConvertsToFloatAndBackExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(uint16_t(h));
    if ((h & 0x7c00) == 0x7c00 && (h & 0x03ff)) {
      ASSERT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << "half " << h << " -> " << f;
  }
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
}

TEST(QuantBF16, RoundsToNearestEvenOnKnownValues) {
  const F16Case cases[] = {
      {1.0f, 0x3f80},
      {bits_f32(0x3f808000u), 0x3f80},  // tie: to even (down)
      {bits_f32(0x3f818000u), 0x3f82},  // tie: to even (up)
      {bits_f32(0x3f808001u), 0x3f81},  // above the tie
      {bits_f32(0x7f7fffffu), 0x7f80},  // largest float rounds to inf
      {INFINITY, 0x7f80},
      {-0.0f, 0x8000},
      {bits_f32(0x00010000u), 0x0001},  // subnormals are kept, not flushed
      {bits_f32(0x00008000u), 0x0000},  // subnormal tie: to even (0)
  };
  for (const auto& c : cases) EXPECT_EQ(f32_to_bf16(c.f), c.h) << c.f;
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(bits_f32(0x7f800001u))))) << "a NaN whose payload rounding would give inf";
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue;  // NaN
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(uint16_t(h))), h) << h;
  }
}

// quantize_row / dequantize_row of F16 and BF16 are the element conversions above.
TEST(QuantRow, FloatTypesConvertEachElement) {
  const auto x = random_floats(37, 5, 1e-5f, 1e5f);
  std::vector<uint16_t> h(37), b(37);
  quantize_row(DType::F16, x.data(), reinterpret_cast<uint8_t*>(h.data()), 37);
  quantize_row(DType::BF16, x.data(), reinterpret_cast<uint8_t*>(b.data()), 37);
  std::vector<float> hb(37), bb(37);
  dequantize_row(DType::F16, reinterpret_cast<uint8_t*>(h.data()), hb.data(), 37);
  dequantize_row(DType::BF16, reinterpret_cast<uint8_t*>(b.data()), bb.data(), 37);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i], f32_to_f16(x[i]));
    EXPECT_EQ(b[i], f32_to_bf16(x[i]));
    EXPECT_EQ(hb[i], f16_to_f32(h[i]));
    EXPECT_EQ(bb[i], bf16_to_f32(b[i]));
  }
}

}  // namespace
}  // namespace bwscope::kernels
