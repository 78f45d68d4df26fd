// Private weights for co-located instances: each instance reads its own copy of the weights
// instead of the one shared file mapping, which doubles the resident weights and takes away
// what a shared last-level cache could serve to two readers of the same bytes.
#pragma once

#include <cstdint>

#include "bwscope/model/llama_model.h"

namespace bwscope {

// Copies every weight matrix into one anonymous mapping owned by the model and points the
// matrices there; the file mapping's weight pages are no longer read. With `interleave_for`,
// matrices whose type that kernel table prefers interleaved (and whose shape allows it) are
// written in the interleaved layout instead (kernels::Matrix::interleaved): the same bytes,
// rearranged. Returns the bytes copied.
uint64_t make_weights_private(LlamaModel& model, const kernels::Ops* interleave_for = nullptr);

}  // namespace bwscope
