// The interleaved weight layout (Matrix::interleaved), written and read in plain C++: the
// definition the SIMD kernels on that layout are held to.
//
// Group g (rows 8g..8g+7), block b: 8·block_bytes bytes at data + (g·nb + b)·8·block_bytes.
//   bytes 0..15:  the f16 scale of each of the 8 rows
//   bytes 16.. :  quant byte c of row i at 16 + 32·(c / 4) + 4·i + c % 4
// (Q8_0: 8 vectors of 32 bytes, c = element; Q4_0: 4 vectors, c = nibble byte, low nibble
// element c, high nibble element 16 + c.)
#include <cstring>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/kernels/ops.h"

namespace bwscope::kernels {
namespace {

constexpr int kGroup = 8;

// Where quant byte c (0 .. block_bytes - 3) of row i of a group sits within its group block
// (bytes c..c+3 stay together when c is a multiple of 4).
size_t quant_offset(int i, size_t c) { return 2 * kGroup + 32 * (c / 4) + 4 * size_t(i) + c % 4; }

}  // namespace

bool can_interleave(const Matrix& m) {
  return (m.type == DType::Q8_0 || m.type == DType::Q4_0) && m.rows % kGroup == 0 && m.cols % kQK8_0 == 0 &&
         m.rows > 0;
}

void interleave_rows8(const Matrix& m, uint8_t* dst) {
  if (!can_interleave(m) || m.interleaved) fail("interleave: a {} matrix of {} rows cannot be interleaved", dtype_name(m.type), m.rows);
  const size_t bb = dtype_info(m.type).block_bytes, nb = size_t(m.cols) / kQK8_0;
  for (int64_t g = 0; g < m.rows / kGroup; ++g)
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + (size_t(g) * nb + b) * kGroup * bb;
      for (int i = 0; i < kGroup; ++i) {
        const uint8_t* blk = m.data + size_t(g * kGroup + i) * m.row_bytes + b * bb;
        std::memcpy(out + 2 * i, blk, 2);
        for (size_t c = 0; c + 2 < bb; c += 4) std::memcpy(out + quant_offset(i, c), blk + 2 + c, 4);
      }
    }
}

void read_row(const Matrix& m, int64_t r, uint8_t* dst) {
  if (!m.interleaved) {
    std::memcpy(dst, m.data + size_t(r) * m.row_bytes, m.row_bytes);
    return;
  }
  const size_t bb = dtype_info(m.type).block_bytes, nb = size_t(m.cols) / kQK8_0;
  const int i = int(r % kGroup);
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* in = m.data + (size_t(r / kGroup) * nb + b) * kGroup * bb;
    uint8_t* blk = dst + b * bb;
    std::memcpy(blk, in + 2 * i, 2);
    for (size_t c = 0; c + 2 < bb; c += 4) std::memcpy(blk + 2 + c, in + quant_offset(i, c), 4);
  }
}

void dequantize_matrix_row(const Matrix& m, int64_t r, float* dst) {
  if (!m.interleaved) return dequantize_row(m.type, m.data + size_t(r) * m.row_bytes, dst, m.cols);
  std::vector<uint8_t> row(m.row_bytes);
  read_row(m, r, row.data());
  dequantize_row(m.type, row.data(), dst, m.cols);
}

}  // namespace bwscope::kernels
