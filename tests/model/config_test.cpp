#include <gtest/gtest.h>

#include "bwscope/base/error.h"
#include "bwscope/model/config.h"

namespace bwscope {
namespace {

TEST(Config, Llama32PresetsHaveTheirPublishedParameterCounts) {
  // Figures as published for Meta's checkpoints (tied embeddings counted once).
  EXPECT_EQ(preset("llama-3.2-1b").n_params(), 1'235'814'400u);
  EXPECT_EQ(preset("llama-3.2-3b").n_params(), 3'212'749'824u);
}

TEST(Config, Llama32Shapes) {
  LlamaConfig c = preset("llama-3.2-3b");
  EXPECT_EQ(c.n_layers, 28);
  EXPECT_EQ(c.n_embd, 3072);
  EXPECT_EQ(c.head_dim(), 128);
  EXPECT_EQ(c.kv_dim(), 1024);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
}

TEST(Config, UnknownPresetNamesTheKnownOnes) {
  try {
    preset("llama-9b");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama-3.2-1b"), std::string::npos);
  }
}

TEST(Config, Llama3RopeFactorsFollowTheWavelengthBands) {
  // head_dim 64, theta 5e5, original context 8192, low 1, high 4: wavelengths below 2048
  // (pairs 0..14) are unscaled, above 8192 (pairs 18..31) divided by 32, 15..17 in between.
  auto f = llama3_rope_factors(preset("llama-3.2-1b"));
  ASSERT_EQ(f.size(), 32u);
  for (int i = 0; i <= 14; ++i) EXPECT_FLOAT_EQ(f[size_t(i)], 1.0f) << i;
  for (int i = 18; i < 32; ++i) EXPECT_FLOAT_EQ(f[size_t(i)], 32.0f) << i;
  for (int i = 15; i <= 17; ++i) {
    EXPECT_GT(f[size_t(i)], 1.0f);
    EXPECT_LT(f[size_t(i)], 32.0f);
    EXPECT_GT(f[size_t(i)], f[size_t(i - 1)]);
  }
}

TEST(Config, InvFreqDividesByTheFactors) {
  auto inv = rope_inv_freq(8, 10000.0f, {1.0f, 2.0f, 4.0f, 8.0f});
  ASSERT_EQ(inv.size(), 4u);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.1f / 2.0f);
  EXPECT_FLOAT_EQ(inv[2], 0.01f / 4.0f);
  EXPECT_FLOAT_EQ(inv[3], 0.001f / 8.0f);
}

}  // namespace
}  // namespace bwscope
