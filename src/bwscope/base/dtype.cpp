#include "bwscope/base/dtype.h"

#include "bwscope/base/error.h"

#include <array>
#include <cctype>
#include <cmath>
#include <string>

namespace bwscope {
namespace {

// Q8_K is an activation format only: files holding Q8_K weights are read and reported, and get
// a clear "unsupported type" from the engine.
constexpr std::array<DTypeInfo, 9> kTypes{{
    {DType::F32, "f32", 1, 4, true},
    {DType::F16, "f16", 1, 2, true},
    {DType::Q4_0, "q4_0", kQK4_0, sizeof(BlockQ4_0), true},
    {DType::Q8_0, "q8_0", kQK8_0, sizeof(BlockQ8_0), true},
    {DType::Q4_K, "q4_k", kQK_K, sizeof(BlockQ4_K), true},
    {DType::Q5_K, "q5_k", kQK_K, sizeof(BlockQ5_K), true},
    {DType::Q6_K, "q6_k", kQK_K, sizeof(BlockQ6_K), true},
    {DType::Q8_K, "q8_k", kQK_K, sizeof(BlockQ8_K), false},
    {DType::BF16, "bf16", 1, 2, true},
}};

}  // namespace

const DTypeInfo* dtype_info(uint32_t ggml_id) {
  for (const auto& t : kTypes)
    if (uint32_t(t.type) == ggml_id) return &t;
  return nullptr;
}

const DTypeInfo& dtype_info(DType type) { return *dtype_info(uint32_t(type)); }

std::string_view dtype_name(DType type) { return dtype_info(type).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTypes)
    if (t.name == lower) return t.type;
  return std::nullopt;
}

DType parse_dtype_flag(std::string_view flag, std::string_view value) {
  const std::optional<DType> t = parse_dtype(value);
  if (!t) fail("{} {}: unknown type (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k)", flag, value);
  return *t;
}

std::optional<uint64_t> row_bytes(DType type, uint64_t n) {
  const DTypeInfo& info = dtype_info(type);
  if (n % info.block_elems != 0) return std::nullopt;
  uint64_t blocks = n / info.block_elems, bytes = 0;
  if (__builtin_mul_overflow(blocks, uint64_t(info.block_bytes), &bytes)) return std::nullopt;
  return bytes;
}

uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // overflow (after rounding) -> inf
  if (abs < 0x38800000u) {                                  // subnormal or zero in half
    // Add 0.5 (as a float) so the FPU rounds the mantissa to nearest even at 2^-24.
    float r = bits_f32(abs) + 0.5f;
    return uint16_t(sign | (f32_bits(r) - 0x3f000000u));
  }
  uint32_t mant_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return uint16_t(sign | (abs >> 13));
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float v = std::ldexp(float(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13));
  return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

}  // namespace bwscope
