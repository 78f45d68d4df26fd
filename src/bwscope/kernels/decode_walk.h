// How decode kernels walk the rows [row0, row1) a thread computes: which rows each pass or
// tile takes. Shared by the kernels of every ISA; it holds no SIMD code, and the passes it
// calls are the caller's (lambdas, inlined into the caller's file and ISA).
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>

namespace bwscope::kernels {

struct GroupWalk {
  int64_t rows = 0;        // rows of a group
  size_t group_bytes = 0;  // bytes of a group; group g starts at data + g · group_bytes
  int wide = 1;            // groups of the wide pass, run while whole groups fill it
  int narrow = 1;          // groups of the narrow pass, run on whole groups left after it
  int64_t cut_ld = 0;      // floats per token that `cut` writes (at least `rows`)
};

// Rows in the interleaved layout (Matrix::interleaved), group by group. Walks rows
// [row0, row1) of `data`:
//  - wide(g, step, out, ldo) computes walk.wide groups: group q of the pass starts at
//    g + q · step · group_bytes and writes token t's result for its row i to
//    out[t · ldo + q · step · rows + i]. The wide passes take their groups from walk.wide equal
//    stretches of the range's whole groups (step = a stretch's length), so that each stretch
//    is read as one sequential stream: a group is only 9-17 KiB at Q4_0/Q8_0, and groups
//    taken side by side would restart every stream (and its prefetch) at each pass;
//  - narrow(g, 1, out, ldo) computes walk.narrow consecutive groups the same way, on the whole
//    groups the stretches leave over;
//  - cut(g, 1, out, ldo) computes the group at g alone; it runs for a group the range cuts and
//    for whole groups too few for the narrow pass, into a buffer whose rows in the range are
//    copied to y.
// y[t · ldy + r] receives token t's result for row r, for r in [row0, row1) and t < n_tok.
template <class Wide, class Narrow, class Cut>
inline void walk_groups(const GroupWalk& walk, const uint8_t* data, int64_t n_tok, float* y, int64_t ldy,
                        int64_t row0, int64_t row1, Wide&& wide, Narrow&& narrow, Cut&& cut) {
  constexpr int64_t kBuffer = 128;  // floats: 8 tokens × 16 rows
  assert(n_tok * walk.cut_ld <= kBuffer && walk.cut_ld >= walk.rows);
  const int64_t rows = walk.rows;
  const auto group = [&](int64_t g) { return data + size_t(g) * walk.group_bytes; };
  const auto cut_one = [&](int64_t g) {
    float part[kBuffer];
    cut(group(g), int64_t(1), part, walk.cut_ld);
    const int64_t r0 = std::max(g * rows, row0), r1 = std::min(g * rows + rows, row1);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = r0; r < r1; ++r) y[t * ldy + r] = part[t * walk.cut_ld + r - g * rows];
  };
  if (row0 >= row1) return;
  const int64_t first = (row0 + rows - 1) / rows, end = row1 / rows;  // whole groups [first, end)
  if (first > end) return cut_one(row0 / rows);                        // inside one group
  if (row0 % rows != 0) cut_one(row0 / rows);
  const int64_t stretch = (end - first) / walk.wide;
  for (int64_t i = 0; i < stretch; ++i) wide(group(first + i), stretch, y + (first + i) * rows, ldy);
  int64_t g = first + walk.wide * stretch;
  for (; g + walk.narrow <= end; g += walk.narrow) narrow(group(g), int64_t(1), y + g * rows, ldy);
  for (; g < end; ++g) cut_one(g);
  if (row1 % rows != 0) cut_one(end);
}

// Rows in the file's layout, `per` rows to a tile: tile(first, n, step) computes the n rows
// first, first + step, ... The tiles take their rows from `per` equal stretches of the range
// (step = the stretch's length), so that each stretch is read as one sequential stream and
// `per` are in flight; rows of 1-7 KiB taken a tile at a time in order would make one stream.
// The rows the stretches leave over follow, `per` at a time in order (step 1).
template <class Tile>
inline void walk_row_stretches(int64_t row0, int64_t row1, int64_t per, Tile&& tile) {
  const int64_t stretch = (row1 - row0) / per;
  for (int64_t i = 0; i < stretch; ++i) tile(row0 + i, per, stretch);
  for (int64_t r = row0 + per * stretch; r < row1; r += per) tile(r, std::min(per, row1 - r), int64_t(1));
}

}  // namespace bwscope::kernels
