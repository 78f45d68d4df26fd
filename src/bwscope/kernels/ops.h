// One signature per op. Each ISA (scalar/, avx2/, avx512/) fills an Ops table; dispatch.cpp
// picks the best the CPU has, once, at start-up. The scalar table is the reference every fast
// kernel is tested against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bwscope/base/dtype.h"

namespace bwscope::kernels {

// A weight matrix as stored: `rows` rows of `cols` elements; row r starts at data + r * row_bytes.
// (In GGUF terms cols = ne[0], rows = ne[1].)
struct Matrix {
  DType type = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;
  // Rows stored in groups, interleaved so that a vector's lanes are rows: a kernel needs no
  // horizontal sums and reads each group as one sequential stream. The same bytes in all as
  // the row layout (see kernels/layout.cpp):
  //  - Q8_0 and Q4_0, groups of 8 rows, block by block: for group g and block b, at
  //    data + (g·nb + b)·8·block_bytes, the 8 rows' f16 scales, then their quant bytes as
  //    32-byte vectors each holding 4 consecutive bytes of every row;
  //  - F32, F16 and BF16, groups of 16 rows, column by column: element c of row 16g + i at
  //    index 16·c + i of the group, which starts at data + g·16·row_bytes.
  bool interleaved = false;

  size_t n_bytes() const { return size_t(rows) * row_bytes; }
};

// Attention of one query token over the cached keys/values of its sequence, for query heads
// [head0, head1). GQA: query head h reads KV head h / (n_head / n_kv_head).
struct AttentionArgs {
  const float* q = nullptr;     // [n_head × head_dim]
  const uint8_t* k = nullptr;   // cache of this layer and sequence: KV head j, position p at
  const uint8_t* v = nullptr;   //   element (j * head_stride + p * head_dim), in kv_type
  DType kv_type = DType::F32;   // F32 or F16
  int64_t n_head = 0, n_kv_head = 0, head_dim = 0;
  int64_t head_stride = 0;      // elements between consecutive KV heads
  int64_t n_kv = 0;             // attend to positions 0 .. n_kv-1
  float scale = 1.0f;           // 1/sqrt(head_dim)
  float* scores = nullptr;      // scratch, at least n_kv floats per call
  float* out = nullptr;         // [n_head × head_dim]
  int64_t head0 = 0, head1 = 0;
};

struct Ops {
  std::string_view isa;  // "scalar", "avx2", "avx512"

  // The activation format that weight type `w` multiplies against (F32 for float weights,
  // Q8_0 for Q8_0/Q4_0, Q8_K for the K-quants: activations quantized on the fly).
  DType (*act_type)(DType w);
  // Converts n_tok rows of `cols` floats (row stride ldx floats) into act_type(w) rows,
  // `out_stride` bytes apart.
  void (*prepare_act)(DType w, const float* x, int64_t ldx, int64_t n_tok, int64_t cols,
                      uint8_t* out, size_t out_stride);
  // y[t * ldy + r] = dot(W row r, x_t) for r in [row0, row1), t in [0, n_tok).
  void (*matmul)(const Matrix& w, const uint8_t* act, size_t act_stride, int64_t n_tok,
                 float* y, int64_t ldy, int64_t row0, int64_t row1);

  // out = x / sqrt(mean(x²) + eps) * weight
  void (*rmsnorm)(const float* x, const float* weight, int64_t n, float eps, float* out);
  // out = silu(gate) * up
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);
  // Rotates adjacent pairs (x[2i], x[2i+1]) of each head by pos * inv_freq[i] (GGUF layout).
  void (*rope)(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const float* inv_freq);
  void (*attention)(const AttentionArgs& args);
  // Stores n floats into a KV cache row of type F32 or F16.
  void (*store_kv)(const float* x, int64_t n, DType kv_type, uint8_t* dst);
  // Whether matmul runs faster on weights of type `w` in the interleaved layout (Matrix::interleaved).
  // Every table computes with either layout.
  bool (*prefers_interleaved)(DType w);
};

const Ops& scalar_ops();
const Ops* avx2_ops();    // nullptr when the CPU (or the build) lacks AVX2+FMA+F16C
const Ops* avx512_ops();  // nullptr when the CPU lacks AVX-512 F/BW/VL/DQ/VNNI/BF16
// The best table for this CPU, chosen once; BWSCOPE_ISA=scalar|avx2|avx512 overrides it.
const Ops& best_ops();
// Looks a table up by name ("scalar", "avx2", "avx512"); nullptr when unavailable here.
const Ops* ops_by_name(std::string_view isa);

// Plain reference conversions, for every type in the dtype table that the engine supports.
void dequantize_row(DType type, const uint8_t* src, float* dst, int64_t n);
// F32, F16, BF16, Q8_0, Q4_0 (rounding as ggml's reference quantizers); Q4_K, Q5_K, Q6_K
// (a least-squares search for each sub-block's scale) and Q8_K (d = amax / 127).
void quantize_row(DType type, const float* src, uint8_t* dst, int64_t n);

// The interleaved layouts (see Matrix::interleaved): rows per group of type `type` (8 for
// Q8_0/Q4_0, 16 for F32/F16/BF16, 0 for a type without one), whether `m` can take its layout,
// a copy of its bytes in it (n_bytes() at dst), and row r of either layout as the row layout
// stores it.
int interleave_group_rows(DType type);
bool can_interleave(const Matrix& m);
void interleave_rows(const Matrix& m, uint8_t* dst);
void read_row(const Matrix& m, int64_t r, uint8_t* dst);
// Elements c of rows [r0, r0 + n) of a float matrix in either layout, as f32 (the slow path
// of the packed kernels for row ranges that do not start on a group).
void read_column(const Matrix& m, int64_t r0, int n, int64_t c, float* dst);
// Row r of either layout as floats.
void dequantize_matrix_row(const Matrix& m, int64_t r, float* dst);

}  // namespace bwscope::kernels
