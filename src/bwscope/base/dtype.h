// Tensor element types with GGUF's numbering and block layouts, byte for byte, plus the
// scalar conversions (fp16, bf16) every layer of the code shares.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace bwscope {

// Values are ggml_type ids, as stored in GGUF tensor infos.
enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,  // activations only: what K-quant weights multiply against
  BF16 = 30,
};

struct DTypeInfo {
  DType type;
  std::string_view name;  // lower case, as on the command line ("bf16", "q8_0")
  uint32_t block_elems;   // elements per block (1 for plain floats)
  uint32_t block_bytes;   // bytes per block, scales included
  bool supported;         // the engine can compute with it now
};

// nullptr for an id bwscope does not know.
const DTypeInfo* dtype_info(uint32_t ggml_id);
const DTypeInfo& dtype_info(DType type);
std::string_view dtype_name(DType type);
// Accepts "f32", "F16", "q8_0", "Q4_K", ... Returns nullopt for unknown names.
std::optional<DType> parse_dtype(std::string_view name);
// parse_dtype for a flag's value; throws Error "<flag> <value>: unknown type (...)".
DType parse_dtype_flag(std::string_view flag, std::string_view value);

// Bytes taken by one row of n elements; n must be a multiple of the block size.
// Returns nullopt when it is not (or on overflow).
std::optional<uint64_t> row_bytes(DType type, uint64_t n);

// ---- Block layouts (identical to ggml's) ----------------------------------------------------
constexpr int kQK8_0 = 32;
struct BlockQ8_0 {
  uint16_t d;              // fp16 scale
  int8_t qs[kQK8_0];       // value = qs[i] * d
};
static_assert(sizeof(BlockQ8_0) == 34);

constexpr int kQK4_0 = 32;
struct BlockQ4_0 {
  uint16_t d;              // fp16 scale
  uint8_t qs[kQK4_0 / 2];  // element j in low nibble of qs[j], element j+16 in high nibble; value = (q - 8) * d
};
static_assert(sizeof(BlockQ4_0) == 18);

// K-quants: super-blocks of 256 values in sub-blocks of 32 (Q4_K, Q5_K) or 16 (Q6_K), each
// with its own small integer scale, as ggml-common.h defines them.
constexpr int kQK_K = 256;        // K-quant super-block
constexpr int kKScaleBytes = 12;  // 8 six-bit scales + 8 six-bit mins
// Sub-block j (32 values) = d * sc_j * q - dmin * m_j, q in 0..15. The 6-bit sc_j, m_j are
// packed in `scales`: j < 4: sc_j = scales[j] & 63, m_j = scales[j + 4] & 63; j >= 4: low 4
// bits in scales[j + 4] (sc: low nibble, m: high nibble), high 2 bits in the top bits of
// scales[j - 4] (sc) and scales[j] (m). Values 64c .. 64c + 31 are the low nibbles of
// qs[32c .. 32c + 31], values 64c + 32 .. 64c + 63 their high nibbles.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);
// As Q4_K with a fifth bit: q in 0..31; bit 4 of value 64c + l (l < 32) is bit 2c of qh[l],
// of value 64c + 32 + l bit 2c + 1 of qh[l].
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);
// Sub-block i (16 values) = d * scales[i] * (q - 32), q in 0..63. In each half h (128 values),
// value 128h + 32k + l (k < 4, l < 32) has low 4 bits in ql[64h + l + 32 (k & 1)] (low nibble
// for k < 2, high nibble for k >= 2) and high 2 bits at bit 2k of qh[32h + l].
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);
// Activations for K-quant weights: value = d * qs[i]; bsums[k] = Σ qs[16k .. 16k + 15].
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// ---- Scalar conversions ---------------------------------------------------------------------
inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// IEEE half precision, round to nearest even (as F16C's vcvtps2ph with rounding mode 0).
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

inline float bf16_to_f32(uint16_t h) { return bits_f32(uint32_t(h) << 16); }
// Round to nearest even; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

}  // namespace bwscope
