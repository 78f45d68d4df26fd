#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/quantize.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

TEST(Quantize, ConvertsTwoDimensionalWeightsAndKeepsTheRest) {
  test_support::TempDir dir;
  const std::string in = test_support::write_tiny_model(dir, DType::F32), out = dir.file("q8.gguf");
  QuantizeStats s = quantize_model(in, out, DType::Q8_0, 2);
  EXPECT_EQ(s.tensors_converted, 1u + 2u * 7u);  // embedding + 7 matrices per layer
  auto a = gguf::File::open(in), b = gguf::File::open(out);
  EXPECT_EQ(b.find("general.file_type")->as_uint(), 7u);
  EXPECT_EQ(b.find("llama.block_count")->as_uint(), a.find("llama.block_count")->as_uint());
  EXPECT_EQ(*b.find("tokenizer.ggml.tokens")->as_strings(), *a.find("tokenizer.ggml.tokens")->as_strings());
  EXPECT_EQ(b.find_tensor("blk.0.attn_norm.weight")->type, DType::F32);
  const auto* src = a.find_tensor("blk.1.ffn_gate.weight");
  const auto* q = b.find_tensor("blk.1.ffn_gate.weight");
  ASSERT_EQ(q->type, DType::Q8_0);
  // Every value within half a quantization step of the original.
  const int64_t cols = int64_t(src->ne[0]);
  std::vector<float> back(static_cast<size_t>(cols));
  const float* orig = reinterpret_cast<const float*>(src->bytes.data());
  for (int64_t r = 0; r < int64_t(src->ne[1]); ++r) {
    kernels::dequantize_row(DType::Q8_0, q->bytes.data() + r * (cols / 32) * 34, back.data(), cols);
    for (int64_t b0 = 0; b0 < cols; b0 += 32) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(orig[r * cols + b0 + j]));
      // Half a step, plus the f16 rounding of the scale itself (relative 2^-11, times |q| <= 127).
      const float d = amax / 127;
      for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(back[size_t(b0 + j)] - orig[r * cols + b0 + j]), d * (0.5f + 127.0f / 2048.0f) + 1e-7f);
    }
  }
  EXPECT_NO_THROW(load_llama(out));
}

TEST(Quantize, RefusesTypesItCannotMake) {
  test_support::TempDir dir;
  const std::string in = test_support::write_tiny_model(dir, DType::F32);
  EXPECT_THROW(quantize_model(in, dir.file("k.gguf"), DType::Q8_K), Error);  // activations only
  EXPECT_FALSE(std::filesystem::exists(dir.file("k.gguf")));
}

}  // namespace
}  // namespace bwscope
