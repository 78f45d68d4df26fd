// plan/cost: the bytes and FLOPs a token must move and compute, against values worked out by
// hand from the Llama 3.2 shapes (not from the code), and against the engine's own accounting.
#include <gtest/gtest.h>

#include "bwscope/base/error.h"
#include "bwscope/plan/cost.h"

namespace bwscope::plan {
namespace {

// Llama 3.2 1B: d 2048, 16 layers, 32 heads of 64, 8 KV heads, FFN 8192, vocab 128256, tied.
//   per layer: q 2048² + k, v 512×2048 each + o 2048² + gate, up, down 8192×2048 each
//            = 4,194,304 × 2 + 1,048,576 × 2 + 16,777,216 × 3 = 60,817,408
//   16 layers 973,078,528 + the tied output 128,256 × 2048 = 262,668,288 → 1,235,746,816
constexpr uint64_t k1bParams = 1'235'746'816;
// Llama 3.2 3B: d 3072, 28 layers, 24 heads of 128, 8 KV heads, FFN 8192.
//   per layer: 9,437,184 × 2 + 3,145,728 × 2 + 25,165,824 × 3 = 100,663,296; × 28 = 2,818,572,288
//   + output 128,256 × 3072 = 394,002,432 → 3,212,574,720
constexpr uint64_t k3bParams = 3'212'574'720;

TEST(PlanCost, MatmulParametersOfThePresetsMatchTheHandCount) {
  EXPECT_EQ(preset_shape("llama-3.2-1b", "f16").matmul_params(), k1bParams);
  EXPECT_EQ(preset_shape("llama-3.2-3b", "f16").matmul_params(), k3bParams);
}

TEST(PlanCost, DecodeBytesPerTokenOf1bByType) {
  // F16: 2 bytes per weight, the 33 RMSNorm vectors in F32 (2 per layer + the output norm:
  // 33 × 2048 × 4 = 270,336) and the one embedding row looked up (2048 × 2).
  const StepCost f16 = decode_step(preset_shape("llama-3.2-1b", "f16"), 1, 1);
  EXPECT_EQ(f16.weight_bytes, 2.0 * k1bParams + 270'336 + 4096);
  // Q8_0: 34 bytes per 32 weights; Q4_0: 18 per 32.
  EXPECT_EQ(decode_step(preset_shape("llama-3.2-1b", "q8_0"), 1, 1).weight_bytes, k1bParams / 32.0 * 34 + 270'336 + 2176);
  EXPECT_EQ(decode_step(preset_shape("llama-3.2-1b", "q4_0"), 1, 1).weight_bytes, k1bParams / 32.0 * 18 + 270'336 + 1152);
}

TEST(PlanCost, KvTrafficGrowsWithTheContextAndTheBatch) {
  const ModelShape m = preset_shape("llama-3.2-1b", "q8_0");
  // K and V of one position: 2 × 16 layers × 8 heads × 64 × 2 bytes (F16).
  EXPECT_EQ(m.kv_bytes_per_position(), 32'768u);
  const StepCost a = decode_step(m, 1, 100), b = decode_step(m, 4, 100);
  EXPECT_EQ(a.kv_read_bytes, 32'768.0 * 100);
  EXPECT_EQ(a.kv_write_bytes, 32'768.0);
  EXPECT_EQ(b.kv_read_bytes, 4 * a.kv_read_bytes);
  // The batch shares the weights: 3 more embedding rows, nothing else.
  EXPECT_EQ(b.weight_bytes - a.weight_bytes, 3.0 * 2176);
  const ModelShape m3 = preset_shape("llama-3.2-3b", "f16");
  EXPECT_EQ(m3.kv_bytes_per_position(), 2u * 28 * 8 * 128 * 2);
}

TEST(PlanCost, FlopsPerTokenAreTwicePerWeightPlusAttention) {
  const ModelShape m = preset_shape("llama-3.2-1b", "q4_0");
  const StepCost s = decode_step(m, 1, 512);
  EXPECT_EQ(s.matmul_flops, 2.0 * k1bParams);
  // Scores and the weighted sum: 2 × 2 FLOPs per head dimension per cached position per head.
  EXPECT_EQ(s.attention_flops, 4.0 * 16 * 32 * 64 * 512);
  const StepCost s3 = decode_step(preset_shape("llama-3.2-3b", "f16"), 2, 10);
  EXPECT_EQ(s3.matmul_flops, 2 * 2.0 * k3bParams);
  EXPECT_EQ(s3.attention_flops, 2 * 4.0 * 28 * 24 * 128 * 10);
}

TEST(PlanCost, MeanDecodeStepIsTheStepAtTheMeanContext) {
  const ModelShape m = preset_shape("llama-3.2-1b", "f16");
  // Steps attend 65 .. 128 positions after a 64-token prompt: mean 96.5.
  const StepCost mean = mean_decode_step(m, 1, 64, 64);
  double kv = 0;
  for (int k = 0; k < 64; ++k) kv += decode_step(m, 1, 64 + k + 1).kv_read_bytes;
  EXPECT_DOUBLE_EQ(mean.kv_read_bytes, kv / 64);
}

TEST(PlanCost, PrefillComputesTheOutputOnlyForTheLastTokenOfEachPrompt) {
  const ModelShape m = preset_shape("llama-3.2-1b", "f16");
  const StepCost p = prefill(m, 2, 10);
  const double output = 128'256.0 * 2048;
  EXPECT_EQ(p.matmul_flops, 2 * (20 * (k1bParams - output) + 2 * output));
  EXPECT_EQ(p.kv_write_bytes, 20 * 32'768.0);
}

TEST(PlanCost, AMixPlanTypesEachMatrixAsTheQuantizerWould) {
  // Q4_K_M: the tied embedding/output in Q6_K, so more bytes than all-Q4_K and fewer than Q8_0.
  const ModelShape mix = preset_shape("llama-3.2-1b", "q4_k_m"), q4k = preset_shape("llama-3.2-1b", "q4_k");
  EXPECT_GT(mix.matrix_bytes(), q4k.matrix_bytes());
  EXPECT_LT(mix.matrix_bytes(), preset_shape("llama-3.2-1b", "q8_0").matrix_bytes());
}

TEST(PlanCost, UnknownPresetOrTypeIsRefused) {
  EXPECT_THROW(preset_shape("llama-9b", "f16"), Error);
  EXPECT_THROW(preset_shape("llama-3.2-1b", "q3_x"), Error);
}

}  // namespace
}  // namespace bwscope::plan
