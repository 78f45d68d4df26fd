// Rewrites a GGUF model with its 2-D weight tensors converted to another type (F32/F16/BF16 →
// Q8_0/Q4_0/Q4_K/Q5_K/Q6_K/F16/BF16/F32, or a K-quant mix such as Q4_K_M); 1-D tensors
// (norms, rope factors) and all metadata are carried over.
#pragma once

#include <string>

#include "bwscope/base/dtype.h"
#include "bwscope/model/weight_plan.h"

namespace bwscope {

struct QuantizeStats {
  uint64_t tensors_converted = 0, tensors_copied = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

// Throws Error naming the file for an unreadable input, a target type the engine cannot make,
// or a tensor whose row length is not a multiple of the target's block.
QuantizeStats quantize_model(const std::string& in_path, const std::string& out_path, DType type, int threads = 0);
// The same with a type per tensor (e.g. llama.cpp's Q4_K_M mix).
QuantizeStats quantize_model(const std::string& in_path, const std::string& out_path, const WeightPlan& plan, int threads = 0);

}  // namespace bwscope
