// The interleaved weight layouts (Matrix::interleaved), written and read in plain C++: the
// definitions the SIMD kernels on them are held to.
//
// Q8_0 / Q4_0, groups of 8 rows. Group g (rows 8g..8g+7), block b: 8·block_bytes bytes at
// data + (g·nb + b)·8·block_bytes.
//   bytes 0..15:  the f16 scale of each of the 8 rows
//   bytes 16.. :  quant byte c of row i at 16 + 32·(c / 4) + 4·i + c % 4
// (Q8_0: 8 vectors of 32 bytes, c = element; Q4_0: 4 vectors, c = nibble byte, low nibble
// element c, high nibble element 16 + c.)
//
// F32 / F16 / BF16, groups of 16 rows. Group g (rows 16g..16g+15) is 16·row_bytes bytes at
// data + g·16·row_bytes, column by column: element c of row i at index 16·c + i (each column
// one vector of 16 rows).
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/kernels/ops.h"

namespace bwscope::kernels {
namespace {

// Where quant byte c (0 .. block_bytes - 3) of row i of a group sits within its group block
// (bytes c..c+3 stay together when c is a multiple of 4).
size_t quant_offset(int i, size_t c) { return 2 * 8 + 32 * (c / 4) + 4 * size_t(i) + c % 4; }

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

using Two = std::integral_constant<size_t, 2>;
using Four = std::integral_constant<size_t, 4>;

// The float runs of row i for columns [c0, c1): one element each.
template <class F>
void for_each_float_run(size_t element_bytes, size_t c0, size_t c1, int i, F&& f) {
  for (size_t c = c0; c < c1; ++c) {
    if (element_bytes == 2) f((16 * c + size_t(i)) * 2, c * 2, Two{});
    else f((16 * c + size_t(i)) * 4, c * 4, Four{});
  }
}

// Calls f(group_offset, row_offset, n) for each run of n bytes that row i of a group keeps
// together: group_offset within the group's interleaved bytes, row_offset within the row as
// the row layout stores it. n is a compile-time constant, so the copies inline (a 1B model's
// F16 weights are 1.2 billion runs).
template <class F>
void for_each_run(DType type, int64_t cols, int i, F&& f) {
  const size_t bb = dtype_info(type).block_bytes;
  if (is_float(type)) return for_each_float_run(bb, 0, size_t(cols), i, f);
  for (size_t b = 0; b < size_t(cols) / kQK8_0; ++b) {
    f(b * 8 * bb + 2 * size_t(i), b * bb, Two{});
    for (size_t c = 0; c + 2 < bb; c += 4) f(b * 8 * bb + quant_offset(i, c), b * bb + 2 + c, Four{});
  }
}

}  // namespace

int interleave_group_rows(DType type) {
  if (type == DType::Q8_0 || type == DType::Q4_0) return 8;
  return is_float(type) ? 16 : 0;
}

bool can_interleave(const Matrix& m) {
  const int g = interleave_group_rows(m.type);
  return g > 0 && m.rows > 0 && m.rows % g == 0 && (is_float(m.type) || m.cols % kQK8_0 == 0);
}

void interleave_rows(const Matrix& m, uint8_t* dst) {
  if (!can_interleave(m) || m.interleaved) fail("interleave: a {} matrix of {} rows cannot be interleaved", dtype_name(m.type), m.rows);
  const int g = interleave_group_rows(m.type);
  if (is_float(m.type)) {
    // A float group's 16 rows a tile of columns at a time, so that the writes stay within a
    // few KiB: row by row, each row's writes stride the whole group (64-256 KiB at the model's
    // widths, past L1), which took about 2 s of loading 1B F16.
    constexpr size_t kTile = 256;
    const size_t es = dtype_info(m.type).block_bytes;
    for (int64_t r0 = 0; r0 < m.rows; r0 += g) {
      uint8_t* group = dst + size_t(r0) * m.row_bytes;
      for (size_t c0 = 0; c0 < size_t(m.cols); c0 += kTile)
        for (int i = 0; i < g; ++i) {
          const uint8_t* row = m.data + size_t(r0 + i) * m.row_bytes;
          for_each_float_run(es, c0, std::min(size_t(m.cols), c0 + kTile), i,
                             [&](size_t go, size_t ro, auto n) { std::memcpy(group + go, row + ro, n); });
        }
    }
    return;
  }
  for (int64_t r = 0; r < m.rows; ++r) {
    uint8_t* group = dst + size_t(r / g) * g * m.row_bytes;
    const uint8_t* row = m.data + size_t(r) * m.row_bytes;
    for_each_run(m.type, m.cols, int(r % g), [&](size_t go, size_t ro, auto n) { std::memcpy(group + go, row + ro, n); });
  }
}

void read_row(const Matrix& m, int64_t r, uint8_t* dst) {
  if (!m.interleaved) {
    std::memcpy(dst, m.data + size_t(r) * m.row_bytes, m.row_bytes);
    return;
  }
  const int g = interleave_group_rows(m.type);
  const uint8_t* group = m.data + size_t(r / g) * g * m.row_bytes;
  for_each_run(m.type, m.cols, int(r % g), [&](size_t go, size_t ro, auto n) { std::memcpy(dst + ro, group + go, n); });
}

void read_column(const Matrix& m, int64_t r0, int n, int64_t c, float* dst) {
  if (!is_float(m.type)) fail("read_column: {} is not a float type", dtype_name(m.type));
  const size_t es = dtype_info(m.type).block_bytes;
  for (int i = 0; i < n; ++i) {
    const int64_t r = r0 + i;
    const uint8_t* p = m.interleaved ? m.data + size_t(r / 16) * 16 * m.row_bytes + (16 * size_t(c) + size_t(r % 16)) * es
                                     : m.data + size_t(r) * m.row_bytes + size_t(c) * es;
    dequantize_row(m.type, p, dst + i, 1);
  }
}

void dequantize_matrix_row(const Matrix& m, int64_t r, float* dst) {
  if (!m.interleaved) return dequantize_row(m.type, m.data + size_t(r) * m.row_bytes, dst, m.cols);
  std::vector<uint8_t> row(m.row_bytes);
  read_row(m, r, row.data());
  dequantize_row(m.type, row.data(), dst, m.cols);
}

}  // namespace bwscope::kernels
