// Quantized weights against the F32 weights they were made from: greedy decoding picks the
// same token at (almost) every step, and the logits stay close. Teacher-forced: both models
// read the F32 model's own greedy continuation, so one early disagreement does not derail
// every later step. Prints agreement and logit error per type (the figures the fast-engine
// issue asks to report).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bwscope/engine/engine.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/config.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/quantize.h"
#include "bwscope/model/synth.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

// The tiny preset widened to 256 so every block type (K-quants: 256-value super-blocks) fits.
LlamaConfig agreement_config() {
  LlamaConfig c = preset("tiny");
  c.name = "agreement";
  c.n_embd = 256;
  c.n_head = 8;
  c.n_kv_head = 2;
  c.rope_dim = c.n_embd / c.n_head;
  c.n_ff = 512;
  return c;
}

struct Agreement {
  double top1 = 0;            // fraction of steps whose argmax equals the F32 model's
  double max_rel_error = 0;   // max over steps of max|q - f| / max|f|
};

int64_t argmax(std::span<const float> v) { return std::max_element(v.begin(), v.end()) - v.begin(); }

EngineOptions options(const kernels::Ops& ops) {
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = 128;
  o.n_seq = 1;
  o.ops = &ops;
  return o;
}

class QuantAgreement : public ::testing::Test {
 protected:
  static constexpr int kSteps = 96;
  void SetUp() override {
    SynthOptions s;
    s.config = agreement_config();
    s.type = DType::F32;
    s.seed = 11;
    s.threads = 1;
    f32_path_ = dir_.file("f32.gguf");
    write_synthetic_gguf(s, f32_path_);
    // The F32 model's greedy continuation of a short prompt, with its logits at every step.
    LlamaModel m = load_llama(f32_path_);
    Engine e(m, options(kernels::best_ops()));
    int32_t token = 1;
    for (int pos = 0; pos < kSteps; ++pos) {
      tokens_.push_back(token);
      BatchToken t{token, pos, 0, true};
      auto logits = e.forward(std::span(&t, 1));
      ref_.emplace_back(logits.begin(), logits.end());
      token = pos < 4 ? int32_t(7 * pos + 3) : int32_t(argmax(logits));  // a 4-token prompt, then greedy
    }
  }

  Agreement measure(const std::string& path, const kernels::Ops& ops) {
    LlamaModel m = load_llama(path);
    Engine e(m, options(ops));
    Agreement a;
    int same = 0;
    for (int pos = 0; pos < kSteps; ++pos) {
      BatchToken t{tokens_[size_t(pos)], pos, 0, true};
      auto logits = e.forward(std::span(&t, 1));
      const auto& f = ref_[size_t(pos)];
      double diff = 0, scale = 0;
      for (size_t i = 0; i < f.size(); ++i) {
        diff = std::max(diff, double(std::fabs(logits[i] - f[i])));
        scale = std::max(scale, double(std::fabs(f[i])));
      }
      a.max_rel_error = std::max(a.max_rel_error, diff / scale);
      same += argmax(logits) == argmax(f);
    }
    a.top1 = double(same) / kSteps;
    return a;
  }

  test_support::TempDir dir_;
  std::string f32_path_;
  std::vector<int32_t> tokens_;
  std::vector<std::vector<float>> ref_;
};

TEST_F(QuantAgreement, GreedyTop1AndLogitErrorPerType) {
  struct Case {
    DType type;
    double min_top1, max_error;
  };
  // Measured (seed 11, 96 steps, AVX-512 and scalar alike): top-1 100 % for F16/BF16/Q8_0,
  // 96 % Q6_K, 92-94 % Q5_K and Q4_K, 96 % Q4_0; max relative logit error 1.1e-3 F16, 1e-2
  // BF16, 2.7e-2 Q8_0, 6.8e-2 Q6_K, 0.13 Q5_K, 0.27 Q4_K, 0.29 Q4_0. The bounds leave room
  // for other seeds; a wrong scale, block layout or kernel gives chance agreement (1/512) and
  // errors near 100 %.
  const Case cases[] = {
      {DType::F16, 0.95, 5e-3}, {DType::BF16, 0.95, 0.03}, {DType::Q8_0, 0.95, 0.06}, {DType::Q6_K, 0.85, 0.15},
      {DType::Q5_K, 0.80, 0.3}, {DType::Q4_K, 0.75, 0.5},  {DType::Q4_0, 0.75, 0.5},
  };
  for (const Case& c : cases) {
    const std::string path = dir_.file(std::string(dtype_name(c.type)) + ".gguf");
    quantize_model(f32_path_, path, c.type, 1);
    for (const kernels::Ops* ops : {&kernels::best_ops(), &kernels::scalar_ops()}) {
      const Agreement a = measure(path, *ops);
      std::printf("%-5s %-7.*s top-1 agreement %5.1f %% over %d steps, max relative logit error %.2e\n",
                  std::string(dtype_name(c.type)).c_str(), int(ops->isa.size()), ops->isa.data(), 100 * a.top1, kSteps, a.max_rel_error);
      EXPECT_GE(a.top1, c.min_top1) << dtype_name(c.type) << " " << ops->isa;
      EXPECT_LE(a.max_rel_error, c.max_error) << dtype_name(c.type) << " " << ops->isa;
    }
  }
}

}  // namespace
}  // namespace bwscope
