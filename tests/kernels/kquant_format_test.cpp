// K-quant reference conversions against the format definition (ggml-common.h's layouts):
// hand-built Q4_K, Q5_K, Q6_K blocks with known values, Q8_K activations, and the quantizers'
// round-trip error on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/kernel_test_util.h"

namespace bwscope::kernels {
namespace {

using ktest::random_floats;

constexpr uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800;  // 1.0 and 0.5 in IEEE half

// The 12 scale bytes for 6-bit scales sc[8] and mins m[8]: j < 4 in the low 6 bits of bytes
// j (sc) and j + 4 (m); j >= 4 low 4 bits in byte j + 4 (sc low nibble, m high nibble), high 2
// bits in the top 2 bits of bytes j - 4 (sc) and j (m).
void pack_scales(const int sc[8], const int m[8], uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = uint8_t(m[j] | ((m[j + 4] >> 4) << 6));
    s[j + 8] = uint8_t((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}

constexpr int kSc[8] = {1, 2, 3, 4, 17, 33, 50, 63}, kMin[8] = {0, 5, 10, 63, 16, 31, 48, 7};

TEST(KQuantFormat, Q4KDequantizesAsDefined) {
  BlockQ4_K b;
  b.d = kHalfOne, b.dmin = kHalfHalf;
  pack_scales(kSc, kMin, b.scales);
  for (int i = 0; i < 128; ++i) b.qs[i] = uint8_t(i * 37 + 11);
  float y[256];
  dequantize_row(DType::Q4_K, reinterpret_cast<const uint8_t*>(&b), y, 256);
  // value 64c + 32h + l: nibble h of qs[32c + l], sub-block 2c + h
  for (int i = 0; i < 256; ++i) {
    const int c = i / 64, h = (i / 32) % 2, l = i % 32, j = i / 32;
    const int q = (b.qs[32 * c + l] >> (4 * h)) & 15;
    ASSERT_EQ(y[i], float(kSc[j] * q) - 0.5f * float(kMin[j])) << "element " << i;
  }
  EXPECT_EQ(y[0], 11.0f);                    // qs[0] = 0x0b: low nibble 11, sc 1, m 0
  EXPECT_EQ(y[32], 2.0f * 0 - 0.5f * 5.0f);  // high nibble of 0x0b is 0, sub-block 1: sc 2, m 5
  EXPECT_EQ(y[255], 63.0f * float((b.qs[127] >> 4) & 15) - 0.5f * 7.0f);
}

TEST(KQuantFormat, Q5KTakesTheFifthBitFromQh) {
  BlockQ5_K b;
  b.d = kHalfOne, b.dmin = kHalfHalf;
  pack_scales(kSc, kMin, b.scales);
  for (int i = 0; i < 128; ++i) b.qs[i] = uint8_t(i * 53 + 7);
  for (int i = 0; i < 32; ++i) b.qh[i] = uint8_t(i * 97 + 3);
  float y[256];
  dequantize_row(DType::Q5_K, reinterpret_cast<const uint8_t*>(&b), y, 256);
  for (int i = 0; i < 256; ++i) {
    const int c = i / 64, h = (i / 32) % 2, l = i % 32, j = i / 32;
    const int q = ((b.qs[32 * c + l] >> (4 * h)) & 15) | (((b.qh[l] >> (2 * c + h)) & 1) << 4);
    ASSERT_EQ(y[i], float(kSc[j] * q) - 0.5f * float(kMin[j])) << "element " << i;
  }
  // element 0: low nibble of qs[0] = 7, bit 0 of qh[0] = 3 is set: q = 23, sc 1, m 0
  EXPECT_EQ(y[0], 23.0f);
}

TEST(KQuantFormat, Q6KDequantizesAsDefined) {
  BlockQ6_K b;
  for (int i = 0; i < 128; ++i) b.ql[i] = uint8_t(i * 29 + 5);
  for (int i = 0; i < 64; ++i) b.qh[i] = uint8_t(i * 71 + 1);
  for (int s = 0; s < 16; ++s) b.scales[s] = int8_t(s % 2 ? -3 * s : 7 * s - 128);
  b.d = kHalfHalf;
  float y[256];
  dequantize_row(DType::Q6_K, reinterpret_cast<const uint8_t*>(&b), y, 256);
  // value 128h + 32k + l: low 4 bits in ql[64h + l + 32 (k % 2)] (high nibble for k >= 2),
  // high 2 bits at bit 2k of qh[32h + l]; q - 32 times d · scales[i / 16]
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, k = (i % 128) / 32, l = i % 32;
    const int lo = (b.ql[64 * h + l + 32 * (k % 2)] >> (k >= 2 ? 4 : 0)) & 15;
    const int hi = (b.qh[32 * h + l] >> (2 * k)) & 3;
    ASSERT_EQ(y[i], 0.5f * float(b.scales[i / 16]) * float((lo | (hi << 4)) - 32)) << "element " << i;
  }
  // element 0: ql[0] = 5, qh[0] = 1 → q = 5 | 16 = 21, minus 32 = -11; scale -128, d 0.5
  EXPECT_EQ(y[0], 0.5f * -128.0f * -11.0f);
}

TEST(KQuantFormat, Q8KHasAmaxScaleAndSumsOf16) {
  auto x = random_floats(512, 3, 0.01f, 4.0f);
  x[7] = -9.0f;  // amax of block 0
  std::vector<uint8_t> q(2 * sizeof(BlockQ8_K));
  quantize_row(DType::Q8_K, x.data(), q.data(), 512);
  const auto* b = reinterpret_cast<const BlockQ8_K*>(q.data());
  EXPECT_EQ(b[0].d, 9.0f / 127.0f);
  EXPECT_EQ(b[0].qs[7], -127);
  for (int blk = 0; blk < 2; ++blk)
    for (int k = 0; k < 16; ++k) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) {
        const int v = b[blk].qs[16 * k + i];
        sum += v;
        ASSERT_EQ(v, int(std::lround(x[size_t(256 * blk + 16 * k + i)] / b[blk].d)));
      }
      EXPECT_EQ(b[blk].bsums[k], sum);
    }
}

// Quantizing random data and back: RMS error relative to the data's RMS within what the bits
// allow (uniform data, a step of range/nmax: RMS error step/√12), on blocks whose sub-blocks
// differ in magnitude by up to 64× so the 6-bit sub-block scales matter.
class KQuantRoundTrip : public ::testing::TestWithParam<std::tuple<DType, double>> {};

TEST_P(KQuantRoundTrip, ErrorIsWithinTheFormatsResolution) {
  const auto [type, max_rel_rms] = GetParam();
  const int64_t n = 256 * 64;
  auto x = random_floats(size_t(n), 5, 0.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] *= std::ldexp(1.0f, int((i / 32) % 7) - 3);
  std::vector<uint8_t> q(size_t(*row_bytes(type, uint64_t(n))));
  std::vector<float> back(static_cast<size_t>(n));
  quantize_row(type, x.data(), q.data(), n);
  dequantize_row(type, q.data(), back.data(), n);
  // per 32-value sub-block: error RMS relative to the sub-block's RMS
  double worst = 0, total_err = 0, total = 0;
  for (int64_t s = 0; s < n / 32; ++s) {
    double e = 0, v = 0;
    for (int64_t i = 32 * s; i < 32 * s + 32; ++i) {
      e += (back[size_t(i)] - x[size_t(i)]) * double(back[size_t(i)] - x[size_t(i)]);
      v += double(x[size_t(i)]) * x[size_t(i)];
    }
    worst = std::max(worst, std::sqrt(e / v));
    total_err += e, total += v;
  }
  EXPECT_LE(std::sqrt(total_err / total), max_rel_rms);
  // A sub-block 64× smaller than the largest of its super-block gets 6-bit scale and min steps
  // of about its own size: coarse, but bounded.
  EXPECT_LE(worst, 0.3);
}

INSTANTIATE_TEST_SUITE_P(KQuant, KQuantRoundTrip,
                         ::testing::Values(std::make_tuple(DType::Q4_K, 0.07), std::make_tuple(DType::Q5_K, 0.035),
                                           std::make_tuple(DType::Q6_K, 0.02)),
                         [](const auto& info) { return std::string(dtype_name(std::get<0>(info.param))); });

// The least-squares search does better than rounding with the plain min/max step.
TEST(KQuantRoundTrip, SearchBeatsMinMaxRounding) {
  const int64_t n = 256 * 32;
  const auto x = random_floats(size_t(n), 9, 0.0f, 1.0f);
  std::vector<uint8_t> q(size_t(*row_bytes(DType::Q4_K, uint64_t(n))));
  std::vector<float> back(static_cast<size_t>(n));
  quantize_row(DType::Q4_K, x.data(), q.data(), n);
  dequantize_row(DType::Q4_K, q.data(), back.data(), n);
  double err = 0, naive = 0;
  for (int64_t s = 0; s < n / 32; ++s) {
    float lo = 0, hi = 0;
    for (int64_t i = 32 * s; i < 32 * s + 32; ++i) lo = std::min(lo, x[size_t(i)]), hi = std::max(hi, x[size_t(i)]);
    const float step = (hi - lo) / 15;
    for (int64_t i = 32 * s; i < 32 * s + 32; ++i) {
      const float r = lo + step * std::round((x[size_t(i)] - lo) / step);
      naive += (r - x[size_t(i)]) * double(r - x[size_t(i)]);
      err += (back[size_t(i)] - x[size_t(i)]) * double(back[size_t(i)] - x[size_t(i)]);
    }
  }
  EXPECT_LT(err, naive);
}

}  // namespace
}  // namespace bwscope::kernels
