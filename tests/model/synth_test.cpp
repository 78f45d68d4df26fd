#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "bwscope/format/gguf.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/synth.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

TEST(Synth, SameSeedSameFileOtherSeedOtherWeights) {
  test_support::TempDir dir;
  auto a = gguf::File::open(test_support::write_tiny_model(dir, DType::BF16, 4));
  auto b = gguf::File::open(test_support::write_tiny_model(dir, DType::BF16, 4, "tiny"));  // same name: rewritten
  auto c = gguf::File::open(test_support::write_tiny_model(dir, DType::BF16, 5));
  const auto* ta = a.find_tensor("blk.0.ffn_up.weight");
  const auto* tc = c.find_tensor("blk.0.ffn_up.weight");
  ASSERT_TRUE(ta && tc);
  EXPECT_TRUE(std::equal(ta->bytes.begin(), ta->bytes.end(), b.find_tensor("blk.0.ffn_up.weight")->bytes.begin()));
  EXPECT_FALSE(std::equal(ta->bytes.begin(), ta->bytes.end(), tc->bytes.begin()));
}

TEST(Synth, WeightsAreNeverARepeatedBlock) {
  // Page merging on VMs serves identical pages from cache: no two 4 KiB pages of weights may match.
  test_support::TempDir dir;
  auto f = gguf::File::open(test_support::write_tiny_model(dir, DType::F16));
  std::set<std::string> pages;
  size_t n = 0;
  for (const auto& t : f.tensors())
    for (size_t off = 0; off + 4096 <= t.bytes.size(); off += 4096, ++n)
      pages.emplace(reinterpret_cast<const char*>(t.bytes.data() + off), 4096);
  EXPECT_GT(n, 20u);
  EXPECT_EQ(pages.size(), n);
}

TEST(Synth, ValuesAreCenteredAndScaledByFanIn) {
  test_support::TempDir dir;
  auto f = gguf::File::open(test_support::write_tiny_model(dir, DType::F32));
  const auto* t = f.find_tensor("blk.0.ffn_down.weight");  // fan-in 160
  const float* w = reinterpret_cast<const float*>(t->bytes.data());
  const size_t n = t->n_elements;
  double sum = 0, sq = 0, max = 0;
  for (size_t i = 0; i < n; ++i) sum += w[i], sq += double(w[i]) * w[i], max = std::max(max, double(std::fabs(w[i])));
  const double a = std::sqrt(3.0 / 160.0);  // uniform(-a, a): variance a²/3 = 1/160
  EXPECT_NEAR(sum / double(n), 0.0, 0.01 * a);
  EXPECT_NEAR(sq / double(n), 1.0 / 160.0, 0.05 / 160.0);
  EXPECT_LE(max, a);
}

TEST(Synth, WritesLlamaCppMetadataTypes) {
  test_support::TempDir dir;
  auto f = gguf::File::open(test_support::write_tiny_model(dir, DType::Q8_0));
  EXPECT_EQ(f.find("llama.block_count")->type, gguf::Type::U32);
  EXPECT_EQ(f.find("llama.rope.freq_base")->type, gguf::Type::F32);
  EXPECT_EQ(f.find("general.alignment")->type, gguf::Type::U32);
  EXPECT_EQ(f.find("general.file_type")->as_uint(), 7u);
  EXPECT_EQ(f.find("tokenizer.ggml.model")->as_string()->c_str(), std::string("gpt2"));
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, DType::Q8_0);
  EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, DType::F32);
  EXPECT_EQ(f.find_tensor("rope_freqs.weight")->type, DType::F32);
}

TEST(Synth, FillIsIndependentOfThreadCount) {
  test_support::TempDir dir;
  SynthOptions o;
  o.config = preset("tiny");
  o.type = DType::Q4_0;
  o.threads = 1;
  write_synthetic_gguf(o, dir.file("one.gguf"));
  o.threads = 3;
  write_synthetic_gguf(o, dir.file("three.gguf"));
  auto a = gguf::File::open(dir.file("one.gguf")), b = gguf::File::open(dir.file("three.gguf"));
  ASSERT_EQ(a.file_size(), b.file_size());
  EXPECT_TRUE(std::equal(a.mapping().bytes().begin(), a.mapping().bytes().end(), b.mapping().bytes().begin()));
}

}  // namespace
}  // namespace bwscope
