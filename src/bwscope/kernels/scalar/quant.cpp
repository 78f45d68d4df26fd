// Reference conversions between f32 and every stored weight type: the definitions the SIMD
// kernels and the quantizer are held to.
#include <algorithm>
#include <cmath>

#include "bwscope/base/error.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/kernels/scalar/kquant.h"

namespace bwscope::kernels {

void dequantize_row(DType type, const uint8_t* src, float* dst, int64_t n) {
  switch (type) {
    case DType::F32:
      std::copy_n(reinterpret_cast<const float*>(src), n, dst);
      return;
    case DType::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(h[i]);
      return;
    }
    case DType::BF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return;
    }
    case DType::Q8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < n / kQK8_0; ++i) {
        float d = f16_to_f32(b[i].d);
        for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = float(b[i].qs[j]) * d;
      }
      return;
    }
    case DType::Q4_0: {
      const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < n / kQK4_0; ++i) {
        float d = f16_to_f32(b[i].d);
        for (int j = 0; j < kQK4_0 / 2; ++j) {
          dst[i * kQK4_0 + j] = float((b[i].qs[j] & 0x0f) - 8) * d;
          dst[i * kQK4_0 + j + kQK4_0 / 2] = float((b[i].qs[j] >> 4) - 8) * d;
        }
      }
      return;
    }
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_K:
      return kquant::dequantize(type, src, dst, n);
    default:
      fail("dequantize: type {} is not supported yet", dtype_name(type));
  }
}

void quantize_row(DType type, const float* src, uint8_t* dst, int64_t n) {
  switch (type) {
    case DType::F32:
      std::copy_n(src, n, reinterpret_cast<float*>(dst));
      return;
    case DType::F16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::BF16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::Q8_0: {  // d = max|x| / 127, q = round(x / d)
      auto* b = reinterpret_cast<BlockQ8_0*>(dst);
      for (int64_t i = 0; i < n / kQK8_0; ++i) {
        const float* x = src + i * kQK8_0;
        float amax = 0.0f;
        for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < kQK8_0; ++j) b[i].qs[j] = int8_t(std::lround(x[j] * id));
      }
      return;
    }
    case DType::Q4_0: {  // d = (signed value of largest magnitude) / -8, q = clamp(x/d + 8.5)
      auto* b = reinterpret_cast<BlockQ4_0*>(dst);
      for (int64_t i = 0; i < n / kQK4_0; ++i) {
        const float* x = src + i * kQK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < kQK4_0; ++j)
          if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
        float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = f32_to_f16(d);
        for (int j = 0; j < kQK4_0 / 2; ++j) {
          auto q0 = uint8_t(std::min(15, int(x[j] * id + 8.5f)));
          auto q1 = uint8_t(std::min(15, int(x[j + kQK4_0 / 2] * id + 8.5f)));
          b[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
      }
      return;
    }
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q8_K:
      return kquant::quantize(type, src, dst, n);
    default:
      fail("quantize: type {} is not supported yet", dtype_name(type));
  }
}

}  // namespace bwscope::kernels
