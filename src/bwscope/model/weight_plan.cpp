#include "bwscope/model/weight_plan.h"

#include <cctype>
#include <cstdlib>

#include "bwscope/base/error.h"
#include "bwscope/model/synth.h"

namespace bwscope {
namespace {

// llama.cpp's rule for the layers that get more bits in an _M mix.
bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// The N of "blk.N.…", or -1.
int64_t layer_of(std::string_view tensor) {
  if (tensor.substr(0, 4) != "blk.") return -1;
  int64_t n = 0;
  size_t i = 4;
  if (i >= tensor.size() || !std::isdigit(static_cast<unsigned char>(tensor[i]))) return -1;
  for (; i < tensor.size() && std::isdigit(static_cast<unsigned char>(tensor[i])); ++i) n = 10 * n + (tensor[i] - '0');
  return n;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

WeightPlan single_type_plan(DType type) { return {std::string(dtype_name(type)), type, false, gguf_file_type(type)}; }

std::optional<WeightPlan> parse_weight_plan(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "q4_k_m") return WeightPlan{lower, DType::Q4_K, true, 15};
  if (lower == "q5_k_m") return WeightPlan{lower, DType::Q5_K, true, 17};
  const auto type = parse_dtype(lower);
  if (!type || !dtype_info(*type).supported) return std::nullopt;
  return single_type_plan(*type);
}

DType plan_tensor_type(const WeightPlan& plan, std::string_view tensor, int64_t n_layers, bool has_output, int64_t cols) {
  DType t = plan.base;
  if (plan.k_mix) {
    const int64_t layer = layer_of(tensor);
    if (tensor == "output.weight" || (!has_output && tensor == "token_embd.weight")) t = DType::Q6_K;
    else if (layer >= 0 && (contains(tensor, ".attn_v.") || contains(tensor, ".ffn_down.")) && use_more_bits(layer, n_layers))
      t = DType::Q6_K;
    if (cols % kQK_K != 0) t = DType::Q8_0;
  }
  return t;
}

}  // namespace bwscope
