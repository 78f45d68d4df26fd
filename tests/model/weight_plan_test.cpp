// The Q4_K_M mix laid out as llama.cpp's quantizer lays it out (checked once against a file
// made by `llamacpp quantize … 15`: every tensor had the same type).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "bwscope/model/weight_plan.h"

namespace bwscope {
namespace {

TEST(WeightPlan, Q4KMGivesQ6KToOutputAndToAttnVAndFfnDownOfTheLayersUseMoreBitsPicks) {
  const auto plan = parse_weight_plan("Q4_K_M");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->file_type, 15u);
  const int64_t n_layers = 16;  // Llama 3.2 1B: layers 0, 1, 4, 7, 10, 13, 14, 15 get more bits
  const std::set<int64_t> more = {0, 1, 4, 7, 10, 13, 14, 15};
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    const DType want = more.count(l) ? DType::Q6_K : DType::Q4_K;
    EXPECT_EQ(plan_tensor_type(*plan, blk + "attn_v.weight", n_layers, false, 2048), want) << l;
    EXPECT_EQ(plan_tensor_type(*plan, blk + "ffn_down.weight", n_layers, false, 8192), want) << l;
    for (const char* t : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"})
      EXPECT_EQ(plan_tensor_type(*plan, blk + t + ".weight", n_layers, false, 2048), DType::Q4_K) << blk << t;
  }
  // tied: the embedding is the output projection; untied: only output.weight gets Q6_K
  EXPECT_EQ(plan_tensor_type(*plan, "token_embd.weight", n_layers, false, 2048), DType::Q6_K);
  EXPECT_EQ(plan_tensor_type(*plan, "token_embd.weight", n_layers, true, 2048), DType::Q4_K);
  EXPECT_EQ(plan_tensor_type(*plan, "output.weight", n_layers, true, 2048), DType::Q6_K);
  // rows that are not whole super-blocks fall back to Q8_0
  EXPECT_EQ(plan_tensor_type(*plan, "blk.2.attn_q.weight", n_layers, false, 64), DType::Q8_0);
}

TEST(WeightPlan, SingleTypesApplyToEveryTensorAndActivationTypesAreRefused) {
  const auto plan = parse_weight_plan("q6_k");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan_tensor_type(*plan, "blk.3.attn_v.weight", 16, false, 2048), DType::Q6_K);
  EXPECT_EQ(plan_tensor_type(*plan, "token_embd.weight", 16, false, 2048), DType::Q6_K);
  EXPECT_FALSE(parse_weight_plan("q8_k"));
  EXPECT_FALSE(parse_weight_plan("q3_k_m"));
}

}  // namespace
}  // namespace bwscope
