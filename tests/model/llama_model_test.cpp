// Binding a GGUF file to a Llama model: what is read, and what is refused with which message.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/synth.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

// Copies a synthetic tiny model, letting the test drop or replace metadata and tensors.
std::string rewrite(const test_support::TempDir& dir, const std::string& src, const std::string& name,
                    const std::function<bool(const std::string& key)>& keep_key,
                    const std::function<bool(const gguf::Tensor& t, gguf::Writer& w)>& tensor_hook) {
  auto in = std::make_shared<const gguf::File>(gguf::File::open(src));
  gguf::Writer w(in->alignment());
  for (const auto& [k, v] : in->metadata())
    if (keep_key(k)) w.set(k, v);
  for (const auto& t : in->tensors())
    if (!tensor_hook(t, w)) w.add_tensor(t.name, t.type, t.ne, [in, &t](std::span<uint8_t> dst) { std::copy(t.bytes.begin(), t.bytes.end(), dst.begin()); });
  const std::string out = dir.file(name);
  w.write(out);
  return out;
}

std::string error_of(const std::string& path) {
  try {
    load_llama(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class LlamaModelTest : public ::testing::Test {
 protected:
  void SetUp() override { tiny_ = test_support::write_tiny_model(dir_, DType::F32); }
  test_support::TempDir dir_;
  std::string tiny_;
};

TEST_F(LlamaModelTest, ReadsConfigAndBindsEveryTensor) {
  LlamaModel m = load_llama(tiny_);
  LlamaConfig want = preset("tiny");
  EXPECT_EQ(m.config.n_layers, want.n_layers);
  EXPECT_EQ(m.config.n_embd, want.n_embd);
  EXPECT_EQ(m.config.n_kv_head, want.n_kv_head);
  EXPECT_EQ(m.config.n_vocab, want.n_vocab);
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.output.data, m.token_embd.data);
  EXPECT_TRUE(m.has_rope_freqs_tensor);
  EXPECT_EQ(m.rope_factors, llama3_rope_factors(want));
  EXPECT_EQ(m.n_params(), want.n_params());
  ASSERT_TRUE(m.tokenizer.has_value());
  EXPECT_EQ(int64_t(m.tokenizer->tokens.size()), want.n_vocab);
}

TEST_F(LlamaModelTest, TakesVocabFromEmbeddingWhenKeyIsAbsent) {
  auto path = rewrite(dir_, tiny_, "novocab.gguf", [](const std::string& k) { return k != "llama.vocab_size"; },
                      [](const gguf::Tensor&, gguf::Writer&) { return false; });
  EXPECT_EQ(load_llama(path).config.n_vocab, 512);
}

TEST_F(LlamaModelTest, UsesSeparateOutputWhenPresent) {
  auto path = rewrite(dir_, tiny_, "untied.gguf", [](const std::string&) { return true; },
                      [](const gguf::Tensor& t, gguf::Writer& w) {
                        if (t.name == "output_norm.weight") {  // add output.weight after it
                          std::vector<float> data(512 * 64);
                          for (size_t i = 0; i < data.size(); ++i) data[i] = synth_uniform(9, i);
                          w.add_tensor(t.name, t.type, t.ne, t.bytes);
                          w.add_tensor("output.weight", DType::F32, {64, 512}, [data](std::span<uint8_t> dst) {
                            std::memcpy(dst.data(), data.data(), data.size() * 4);
                          });
                          return true;
                        }
                        return false;
                      });
  LlamaModel m = load_llama(path);
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_NE(m.output.data, m.token_embd.data);
  EXPECT_EQ(m.n_params(), preset("tiny").n_params() + 512 * 64);
}

TEST_F(LlamaModelTest, MissingTensorIsNamed) {
  auto path = rewrite(dir_, tiny_, "missing.gguf", [](const std::string&) { return true; },
                      [](const gguf::Tensor& t, gguf::Writer&) { return t.name == "blk.1.ffn_up.weight"; });
  auto msg = error_of(path);
  EXPECT_NE(msg.find("missing.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'blk.1.ffn_up.weight' is missing"), std::string::npos) << msg;
}

TEST_F(LlamaModelTest, WrongShapeIsNamed) {
  auto path = rewrite(dir_, tiny_, "shape.gguf", [](const std::string&) { return true; },
                      [](const gguf::Tensor& t, gguf::Writer& w) {
                        if (t.name != "blk.0.attn_k.weight") return false;
                        std::vector<float> data(64 * 48, 0.5f);
                        w.add_tensor(t.name, DType::F32, {64, 48}, [data](std::span<uint8_t> dst) { std::memcpy(dst.data(), data.data(), dst.size()); });
                        return true;
                      });
  auto msg = error_of(path);
  EXPECT_NE(msg.find("'blk.0.attn_k.weight' has shape [64, 48], expected [64, 32]"), std::string::npos) << msg;
}

// llama.vocab_size against the embedding's rows, and the tokenizer against both.
TEST_F(LlamaModelTest, VocabularyAndEmbeddingThatDisagreeAreNamed) {
  for (const uint32_t vocab : {600u, 300u}) {
    auto path = rewrite(dir_, tiny_, "vocab.gguf", [](const std::string&) { return true; },
                        [vocab](const gguf::Tensor&, gguf::Writer& w) {
                          w.set("llama.vocab_size", gguf::Value::u32(vocab));
                          return false;
                        });
    const std::string msg = error_of(path);
    EXPECT_NE(msg.find("vocab.gguf: tensor 'token_embd.weight' has shape [64, 512], expected [64, " + std::to_string(vocab) + "]"),
              std::string::npos)
        << msg;
  }
}

TEST_F(LlamaModelTest, OtherArchitectureIsRefused) {
  auto path = rewrite(dir_, tiny_, "arch.gguf", [](const std::string& k) { return k != "general.architecture"; },
                      [](const gguf::Tensor&, gguf::Writer&) { return false; });
  EXPECT_NE(error_of(path).find("general.architecture"), std::string::npos);
}

TEST_F(LlamaModelTest, MissingCountKeyIsNamed) {
  auto path = rewrite(dir_, tiny_, "nolayers.gguf", [](const std::string& k) { return k != "llama.block_count"; },
                      [](const gguf::Tensor&, gguf::Writer&) { return false; });
  EXPECT_NE(error_of(path).find("'llama.block_count' is missing"), std::string::npos);
}

TEST_F(LlamaModelTest, NoRopeFreqsMeansUnscaled) {
  auto path = rewrite(dir_, tiny_, "norope.gguf", [](const std::string&) { return true; },
                      [](const gguf::Tensor& t, gguf::Writer&) { return t.name == "rope_freqs.weight"; });
  LlamaModel m = load_llama(path);
  EXPECT_FALSE(m.has_rope_freqs_tensor);
  for (float f : m.rope_factors) EXPECT_EQ(f, 1.0f);
}

}  // namespace
}  // namespace bwscope
