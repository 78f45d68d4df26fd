// Which type each 2-D weight gets when `quantize` or `synth` writes a model: one type for all,
// or a llama.cpp "_M" mix (Q4_K_M, Q5_K_M), laid out as llama.cpp's quantizer lays it out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bwscope/base/dtype.h"

namespace bwscope {

struct WeightPlan {
  std::string name;        // as on the command line: "q8_0", "q4_k_m"
  DType base = DType::F32; // the type of most weights
  bool k_mix = false;      // llama.cpp's _M rules on top of `base`
  uint32_t file_type = 0;  // general.file_type (llama_ftype)
};

// Every name parse_weight_plan takes, for messages and help.
inline constexpr const char* kWeightPlanNames = "f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m";

// "f32" ... "q6_k" (the types the engine computes with), "q4_k_m", "q5_k_m"; nullopt otherwise.
std::optional<WeightPlan> parse_weight_plan(std::string_view name);
// One type for every weight; throws Error for a type the engine cannot make.
WeightPlan single_type_plan(DType type);

// The type of 2-D tensor `tensor` (GGUF name) with rows of `cols` values, in a model of
// `n_layers` blocks that has (or, tied, has not) an output.weight. For a mix (llama.cpp's
// llama_tensor_get_type): output.weight, or token_embd.weight when tied, Q6_K; attn_v and
// ffn_down Q6_K in the layers use_more_bits picks (the first and last eighth, and every third
// in between); rows not a multiple of 256 fall back to Q8_0 (llama.cpp: Q5_0/Q5_1/Q8_0).
DType plan_tensor_type(const WeightPlan& plan, std::string_view tensor, int64_t n_layers, bool has_output, int64_t cols);

}  // namespace bwscope
