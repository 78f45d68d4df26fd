// Reference K-quants: unpacking super-blocks to plain integers (the definition every kernel is
// held to), the quantizers (a weighted least-squares search for each sub-block's scale, then
// 6- or 8-bit quantization of those scales) and the reference dot product with Q8_K.
#include "bwscope/kernels/scalar/kquant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bwscope/base/error.h"

namespace bwscope::kernels::kquant {
namespace {

int nearest(float x) { return int(std::lround(x)); }

// 6-bit scale and min of sub-block j from the 12 packed bytes (layout in dtype.h).
void scale_min(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void pack_scale_min(const int sc[8], const int m[8], uint8_t* s) {
  std::memset(s, 0, kKScaleBytes);
  for (int j = 0; j < 4; ++j) {
    s[j] = uint8_t(sc[j] & 63);
    s[j + 4] = uint8_t(m[j] & 63);
  }
  for (int j = 4; j < 8; ++j) {
    s[j + 4] = uint8_t((sc[j] & 0x0f) | ((m[j] & 0x0f) << 4));
    s[j - 4] |= uint8_t((sc[j] >> 4) << 6);
    s[j] |= uint8_t((m[j] >> 4) << 6);
  }
}

// Bit 4 of value 64c + 32h + l (Q5_K) is bit 2c + h of qh[l].
int q5_high_bit(const uint8_t* qh, int i) { return (qh[i % 32] >> (2 * (i / 64) + (i / 32) % 2)) & 1; }
// Low and high nibble byte of value i in a Q4_K/Q5_K block: qs[32c + l], low nibble for the
// first 32 of each 64.
int nibble_index(int i) { return 32 * (i / 64) + i % 32; }
bool nibble_high(int i) { return (i / 32) % 2 == 1; }

// Q6_K value 128h + 32k + l: low 4 bits in ql[64h + l + 32 (k & 1)] (high nibble when k >= 2),
// high 2 bits at bit 2k of qh[32h + l].
int q6_ql_index(int i) { return 64 * (i / 128) + i % 32 + 32 * ((i / 32) % 2); }
bool q6_ql_high(int i) { return (i % 128) / 64 == 1; }
int q6_qh_index(int i) { return 32 * (i / 128) + i % 32; }
int q6_qh_shift(int i) { return 2 * ((i % 128) / 32); }

// Best affine fit x ≈ scale · q - min (q in 0..nmax, min >= 0) of n values with weights w:
// tries a range of candidate steps around (max - min) / nmax, and for each the rounding it
// implies, then solves the weighted least-squares scale and offset for that rounding.
void fit_affine(const float* x, const float* w, int n, int nmax, float& scale, float& min) {
  float lo = *std::min_element(x, x + n), hi = *std::max_element(x, x + n);
  lo = std::min(lo, 0.0f);  // the offset is stored as a non-negative min
  scale = 0.0f;
  min = -lo;
  if (hi <= lo) return;
  float best_err = INFINITY;
  for (int step = -10; step <= 10; ++step) {
    const float iscale = (float(nmax) + 0.1f * float(step)) / (hi - lo);
    double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
    int q[32];
    for (int i = 0; i < n; ++i) {
      q[i] = std::clamp(nearest(iscale * (x[i] - lo)), 0, nmax);
      sw += w[i], sq += w[i] * q[i], sqq += w[i] * q[i] * q[i], sx += w[i] * x[i], sqx += w[i] * q[i] * x[i];
    }
    const double det = sw * sqq - sq * sq;
    if (det <= 0) continue;
    double a = (sw * sqx - sq * sx) / det, b = (sqq * sx - sq * sqx) / det;
    if (b > 0) b = 0, a = sqx / sqq;  // offset must not be positive
    if (a <= 0) continue;
    double err = 0;
    for (int i = 0; i < n; ++i) err += w[i] * (a * q[i] + b - x[i]) * (a * q[i] + b - x[i]);
    if (err < best_err) best_err = float(err), scale = float(a), min = float(-b);
  }
}

// Best symmetric fit x ≈ scale · q (q in -32..31) of 16 values with weights x²: candidate
// steps around max / -32 (the largest magnitude takes -32), least-squares scale for each.
float fit_symmetric(const float* x, int n) {
  float max = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(max)) max = x[i];
  if (max == 0.0f) return 0.0f;
  float best = 0.0f, best_score = -1.0f;
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(32.0f + 0.1f * float(step)) / max;
    double sqx = 0, sqq = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(nearest(iscale * x[i]), -32, 31);
      const double w = double(x[i]) * x[i];
      sqx += w * q * x[i], sqq += w * q * q;
    }
    // The weighted error is Σw x² - sqx² / sqq: maximise sqx² / sqq.
    if (sqq > 0 && sqx * sqx / sqq > best_score) best_score = float(sqx * sqx / sqq), best = float(sqx / sqq);
  }
  return best;
}

void quantize_q4k_q5k(DType type, const float* x, uint8_t* out) {
  const int nmax = type == DType::Q4_K ? 15 : 31;
  float sum_sq = 0.0f;
  for (int i = 0; i < kQK_K; ++i) sum_sq += x[i] * x[i];
  const float av = std::sqrt(sum_sq / kQK_K);
  float w[kQK_K], scale[8], min[8];
  for (int i = 0; i < kQK_K; ++i) w[i] = av + std::fabs(x[i]);  // larger values matter more
  for (int j = 0; j < 8; ++j) fit_affine(x + 32 * j, w + 32 * j, 32, nmax, scale[j], min[j]);
  const float max_scale = *std::max_element(scale, scale + 8), max_min = *std::max_element(min, min + 8);
  const uint16_t dh = f32_to_f16(max_scale / 63.0f), dminh = f32_to_f16(max_min / 63.0f);
  const float d = f16_to_f32(dh), dmin = f16_to_f32(dminh);
  int sc[8], m[8], q[kQK_K];
  for (int j = 0; j < 8; ++j) {
    sc[j] = d > 0 ? std::clamp(nearest(scale[j] / d), 0, 63) : 0;
    m[j] = dmin > 0 ? std::clamp(nearest(min[j] / dmin), 0, 63) : 0;
    const float step = d * float(sc[j]), offset = dmin * float(m[j]);
    for (int i = 32 * j; i < 32 * j + 32; ++i) q[i] = step > 0 ? std::clamp(nearest((x[i] + offset) / step), 0, nmax) : 0;
  }
  if (type == DType::Q4_K) {
    auto* b = reinterpret_cast<BlockQ4_K*>(out);
    b->d = dh, b->dmin = dminh;
    pack_scale_min(sc, m, b->scales);
    std::memset(b->qs, 0, sizeof(b->qs));
    for (int i = 0; i < kQK_K; ++i) b->qs[nibble_index(i)] |= uint8_t(q[i] << (nibble_high(i) ? 4 : 0));
  } else {
    auto* b = reinterpret_cast<BlockQ5_K*>(out);
    b->d = dh, b->dmin = dminh;
    pack_scale_min(sc, m, b->scales);
    std::memset(b->qs, 0, sizeof(b->qs));
    std::memset(b->qh, 0, sizeof(b->qh));
    for (int i = 0; i < kQK_K; ++i) {
      b->qs[nibble_index(i)] |= uint8_t((q[i] & 15) << (nibble_high(i) ? 4 : 0));
      b->qh[i % 32] |= uint8_t((q[i] >> 4) << (2 * (i / 64) + (i / 32) % 2));
    }
  }
}

void quantize_q6k(const float* x, uint8_t* out) {
  float scale[16];
  for (int s = 0; s < 16; ++s) scale[s] = fit_symmetric(x + 16 * s, 16);
  float max_scale = 0.0f;
  for (float s : scale)
    if (std::fabs(s) > std::fabs(max_scale)) max_scale = s;
  auto* b = reinterpret_cast<BlockQ6_K*>(out);
  std::memset(b, 0, sizeof(*b));
  // The largest scale in magnitude becomes -128 (int8's full range on the negative side).
  const uint16_t dh = f32_to_f16(max_scale / -128.0f);
  const float d = f16_to_f32(dh);
  b->d = dh;
  for (int s = 0; s < 16; ++s) {
    const int sc = d != 0.0f ? std::clamp(nearest(scale[s] / d), -128, 127) : 0;
    b->scales[s] = int8_t(sc);
    const float step = d * float(sc);
    for (int i = 16 * s; i < 16 * s + 16; ++i) {
      const int q = (step != 0.0f ? std::clamp(nearest(x[i] / step), -32, 31) : 0) + 32;
      b->ql[q6_ql_index(i)] |= uint8_t((q & 15) << (q6_ql_high(i) ? 4 : 0));
      b->qh[q6_qh_index(i)] |= uint8_t((q >> 4) << q6_qh_shift(i));
    }
  }
}

// d = amax / 127, q = lround(x / d), bsums of every 16.
void quantize_q8k(const float* x, uint8_t* out) {
  auto* b = reinterpret_cast<BlockQ8_K*>(out);
  float amax = 0.0f;
  for (int i = 0; i < kQK_K; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  b->d = d;
  for (int i = 0; i < kQK_K; ++i) b->qs[i] = int8_t(std::lround(x[i] * id));
  for (int k = 0; k < 16; ++k) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += b->qs[16 * k + i];
    b->bsums[k] = int16_t(sum);
  }
}

size_t block_bytes(DType type) { return dtype_info(type).block_bytes; }

}  // namespace

void unpack(DType type, const uint8_t* block, Unpacked& u) {
  std::memset(&u, 0, sizeof(u));
  switch (type) {
    case DType::Q4_K: {
      const auto* b = reinterpret_cast<const BlockQ4_K*>(block);
      u.d = f16_to_f32(b->d), u.dmin = f16_to_f32(b->dmin);
      for (int j = 0; j < 8; ++j) scale_min(b->scales, j, u.sc[j], u.m[j]);
      for (int i = 0; i < kQK_K; ++i) u.q[i] = (b->qs[nibble_index(i)] >> (nibble_high(i) ? 4 : 0)) & 15;
      return;
    }
    case DType::Q5_K: {
      const auto* b = reinterpret_cast<const BlockQ5_K*>(block);
      u.d = f16_to_f32(b->d), u.dmin = f16_to_f32(b->dmin);
      for (int j = 0; j < 8; ++j) scale_min(b->scales, j, u.sc[j], u.m[j]);
      for (int i = 0; i < kQK_K; ++i)
        u.q[i] = ((b->qs[nibble_index(i)] >> (nibble_high(i) ? 4 : 0)) & 15) | (q5_high_bit(b->qh, i) << 4);
      return;
    }
    case DType::Q6_K: {
      const auto* b = reinterpret_cast<const BlockQ6_K*>(block);
      u.d = f16_to_f32(b->d);
      for (int s = 0; s < 16; ++s) u.sc[s] = b->scales[s];
      for (int i = 0; i < kQK_K; ++i) {
        const int lo = (b->ql[q6_ql_index(i)] >> (q6_ql_high(i) ? 4 : 0)) & 15;
        const int hi = (b->qh[q6_qh_index(i)] >> q6_qh_shift(i)) & 3;
        u.q[i] = (lo | (hi << 4)) - 32;
      }
      return;
    }
    default:
      fail("K-quant unpack: {} is not a K-quant weight type", dtype_name(type));
  }
}

void dequantize(DType type, const uint8_t* src, float* dst, int64_t n) {
  const size_t bb = block_bytes(type);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk, src += bb, dst += kQK_K) {
    if (type == DType::Q8_K) {
      const auto* b = reinterpret_cast<const BlockQ8_K*>(src);
      for (int i = 0; i < kQK_K; ++i) dst[i] = b->d * float(b->qs[i]);
      continue;
    }
    Unpacked u;
    unpack(type, src, u);
    const int sub = type == DType::Q6_K ? 16 : 32;
    for (int i = 0; i < kQK_K; ++i) {
      const int j = i / sub;
      dst[i] = type == DType::Q6_K ? u.d * float(u.sc[j]) * float(u.q[i])
                                   : u.d * float(u.sc[j]) * float(u.q[i]) - u.dmin * float(u.m[j]);
    }
  }
}

void quantize(DType type, const float* src, uint8_t* dst, int64_t n) {
  const size_t bb = block_bytes(type);
  for (int64_t blk = 0; blk < n / kQK_K; ++blk, src += kQK_K, dst += bb) {
    switch (type) {
      case DType::Q4_K:
      case DType::Q5_K: quantize_q4k_q5k(type, src, dst); break;
      case DType::Q6_K: quantize_q6k(src, dst); break;
      case DType::Q8_K: quantize_q8k(src, dst); break;
      default: fail("K-quant quantize: {} is not a K-quant type", dtype_name(type));
    }
  }
}

float dot(DType type, const uint8_t* row, const uint8_t* act, int64_t n) {
  const size_t bb = block_bytes(type);
  const int sub = type == DType::Q6_K ? 16 : 32;
  float sum = 0.0f;
  for (int64_t blk = 0; blk < n / kQK_K; ++blk) {
    Unpacked u;
    unpack(type, row + blk * bb, u);
    const auto* x = reinterpret_cast<const BlockQ8_K*>(act + blk * sizeof(BlockQ8_K));
    int32_t scaled = 0, mins = 0;  // Σ_j sc_j Σ q·x and Σ_j m_j Σ x over the sub-blocks j
    for (int j = 0; j < kQK_K / sub; ++j) {
      int32_t qx = 0, xs = 0;
      for (int i = sub * j; i < sub * (j + 1); ++i) qx += u.q[i] * x->qs[i], xs += x->qs[i];
      scaled += u.sc[j] * qx;
      if (type != DType::Q6_K) mins += u.m[j] * xs;
    }
    sum += x->d * (u.d * float(scaled) - u.dmin * float(mins));
  }
  return sum;
}

}  // namespace bwscope::kernels::kquant
