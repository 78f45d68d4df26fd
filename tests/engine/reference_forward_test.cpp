// The engine against an independent, straightforward float64 forward pass
// (support/reference_forward.h): it reads tensors straight from the GGUF file, not through
// model/, and computes RoPE angles, norms, attention and SwiGLU in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bwscope/engine/engine.h"
#include "bwscope/format/gguf.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/llama_model.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using test_support::RefModel;
using test_support::relative_error;

std::vector<int32_t> prompt_tokens(int n, int32_t n_vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(int32_t((i * 7919 + 13) % n_vocab));
  return t;
}

class ReferenceForward : public ::testing::TestWithParam<DType> {};

TEST_P(ReferenceForward, LogitsMatchFloat64Reference) {
  test_support::TempDir dir;
  const std::string path = test_support::write_tiny_model(dir, GetParam());
  auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
  LlamaModel model = load_llama(file);
  EngineOptions eo;
  eo.kv_type = DType::F32;
  eo.ops = &kernels::scalar_ops();
  eo.n_ctx = 64;
  Engine engine(model, eo);
  const auto tokens = prompt_tokens(19, int32_t(model.config.n_vocab));
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int32_t(i), 0, true});
  std::span<const float> logits = engine.forward(batch);
  ASSERT_EQ(logits.size(), tokens.size() * size_t(model.config.n_vocab));

  const auto want = RefModel(*file).forward(tokens);
  const double err = relative_error(logits, want);
  EXPECT_LT(err, 1e-4) << "weights " << dtype_name(GetParam());
  // The comparison must be able to fail: a model with other weights is far off.
  const std::string other = test_support::write_tiny_model(dir, GetParam(), 2);
  auto other_file = gguf::File::open(other);
  EXPECT_GT(relative_error(logits, RefModel(other_file).forward(tokens)), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(FloatWeights, ReferenceForward, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace bwscope
