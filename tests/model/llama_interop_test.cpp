// Interop: a Llama file written by the independent byte-level builder of the tests (not by
// bwscope's Writer) — tensors in another order, another alignment, unknown keys, no
// llama.vocab_size, output.weight present or absent — loads and gives exactly the logits of
// bwscope's own file with the same weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "bwscope/engine/engine.h"
#include "bwscope/format/gguf.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/tokenizer.h"
#include "format/gguf_test_util.h"
#include "support/reference_forward.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using namespace gguf_test;

// The vocabulary a file carries: none, a gpt2-typed one of plain (not byte-level) token strings
// as some converters write, or a SentencePiece ("llama") one. bwscope can use neither, and the
// model must still load and run on token ids.
enum class Vocab { None, PlainGpt2, SentencePiece };

struct Variant {
  uint64_t alignment;
  bool separate_output;
  uint32_t shuffle_seed;
  Vocab vocab = Vocab::None;
};

// Re-encodes the tiny model's weights with the independent builder. Metadata is written from
// the spec's byte layout: u32 counts, f32 floats, a string architecture, plus unknown keys.
std::vector<uint8_t> rebuild(const gguf::File& src, const Variant& v) {
  const auto u = [&](const char* k) { return uint32_t(*src.find(k)->as_uint()); };
  const auto f = [&](const char* k) { return float(*src.find(k)->as_float()); };
  RawGguf g;
  g.alignment = v.alignment;
  g.kvs.push_back(kv_str("vendor.unknown.note", "keys bwscope does not know are ignored"));
  g.kvs.push_back(kv("vendor.unknown.list", kArray, Le().u32(kF64).u64(2).f64(1.5).f64(-2.0)));
  g.kvs.push_back(kv_str("general.architecture", "llama"));
  g.kvs.push_back(kv_u32("general.alignment", uint32_t(v.alignment)));
  for (const char* k : {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.context_length",
                        "llama.rope.dimension_count"})
    g.kvs.push_back(kv_u32(k, u(k)));
  for (const char* k : {"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon"})
    g.kvs.push_back(kv(k, kF32, Le().f32(f(k))));
  // llama.vocab_size left out on purpose: the vocabulary comes from token_embd's shape.
  if (v.vocab != Vocab::None) {
    const uint64_t n = src.find_tensor("token_embd.weight")->ne[1];
    g.kvs.push_back(kv_str("tokenizer.ggml.model", v.vocab == Vocab::PlainGpt2 ? "gpt2" : "llama"));
    Le tokens;
    tokens.u32(kString).u64(n);
    for (uint64_t i = 0; i < n; ++i) tokens.str(i == 0 ? "<unk>" : v.vocab == Vocab::SentencePiece ? "\u2581w" + std::to_string(i) : "w" + std::to_string(i));
    g.kvs.push_back(kv("tokenizer.ggml.tokens", kArray, tokens));
  }

  std::vector<const gguf::Tensor*> order;
  for (const auto& t : src.tensors()) order.push_back(&t);
  std::mt19937 rng(v.shuffle_seed);
  std::shuffle(order.begin(), order.end(), rng);
  uint64_t offset = 0;
  const auto add = [&](const std::string& name, const gguf::Tensor& t) {
    RawTensor r;
    r.name = name;
    r.ne.assign(t.ne.begin(), t.ne.end());
    r.type = uint32_t(t.type);
    r.offset = offset;
    r.data.assign(t.bytes.begin(), t.bytes.end());
    offset = (offset + r.data.size() + v.alignment - 1) / v.alignment * v.alignment;
    g.tensors.push_back(std::move(r));
  };
  for (const gguf::Tensor* t : order) add(t->name, *t);
  if (v.separate_output) add("output.weight", *src.find_tensor("token_embd.weight"));
  return g.bytes();
}

std::vector<float> logits_of(const LlamaModel& m, const std::vector<int32_t>& tokens) {
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = 32;
  o.kv_type = DType::F32;
  Engine e(m, o);
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int32_t(i), 0, true});
  auto l = e.forward(batch);
  return {l.begin(), l.end()};
}

TEST(LlamaInterop, IndependentlyWrittenFilesGiveTheSameLogits) {
  test_support::TempDir dir;
  const std::string own = test_support::write_tiny_model(dir, DType::F32);
  auto src = std::make_shared<const gguf::File>(gguf::File::open(own));
  const LlamaModel reference = load_llama(src);
  const std::vector<int32_t> tokens{3, 141, 59, 265, 358, 97, 9};
  const std::vector<float> expected = logits_of(reference, tokens);

  for (const Variant& v : {Variant{32, false, 1}, Variant{64, true, 2}, Variant{8, false, 3}, Variant{4096, true, 4},
                           Variant{32, false, 5, Vocab::PlainGpt2}, Variant{64, false, 6, Vocab::SentencePiece}}) {
    SCOPED_TRACE("alignment " + std::to_string(v.alignment) + (v.separate_output ? ", separate output" : ", tied"));
    const std::string path = dir.file("interop-" + std::to_string(v.alignment) + ".gguf");
    write_bytes(path, rebuild(*src, v));
    const LlamaModel m = load_llama(path);
    EXPECT_EQ(m.config.n_vocab, reference.config.n_vocab);
    EXPECT_EQ(m.config.n_layers, reference.config.n_layers);
    EXPECT_EQ(m.has_rope_freqs_tensor, reference.has_rope_freqs_tensor);
    EXPECT_EQ(m.output.data == m.token_embd.data, !v.separate_output);
    EXPECT_EQ(logits_of(m, tokens), expected);
    if (v.vocab == Vocab::PlainGpt2) {  // read, but not a byte-level BPE vocabulary
      ASSERT_TRUE(m.tokenizer.has_value());
      std::string why;
      EXPECT_FALSE(try_tokenizer(*m.tokenizer, &why).has_value());
      EXPECT_NE(why.find("not a byte-level BPE vocabulary"), std::string::npos) << why;
    }
    if (v.vocab == Vocab::SentencePiece) {
      EXPECT_FALSE(m.tokenizer.has_value());
      EXPECT_NE(m.tokenizer_problem.find("tokenizer.ggml.model 'llama' is not supported"), std::string::npos) << m.tokenizer_problem;
    }
  }
}

// The same files through the CLI: what needs no text works, what needs text says why in one line.
TEST(LlamaInterop, AVocabularyBwscopeCannotUseStillRunsOnTokenIds) {
  test_support::TempDir dir;
  const std::string own = test_support::write_tiny_model(dir, DType::F32);
  const gguf::File src = gguf::File::open(own);
  for (const Vocab vocab : {Vocab::PlainGpt2, Vocab::SentencePiece}) {
    const std::string path = dir.file(vocab == Vocab::PlainGpt2 ? "plain.gguf" : "spm.gguf");
    SCOPED_TRACE(path);
    write_bytes(path, rebuild(src, Variant{32, false, 7, vocab}));
    const std::string logits = dir.file("logits.f32");
    const auto gen = test_support::run_cli(
        {"generate", path, "--tokens", "3,141,59", "-n", "4", "--kv-type", "f32", "--dump-logits", logits});
    EXPECT_EQ(gen.exit_code, 0) << gen.err;
    // The prompt's logits, on the fast path, against the float64 reference read from this very
    // file (not from bwscope's own writer's).
    const size_t n_vocab = src.find_tensor("token_embd.weight")->ne[1];
    ASSERT_EQ(std::filesystem::file_size(logits), 3 * sizeof(float) * n_vocab);
    std::vector<float> got(3 * n_vocab);
    std::ifstream(logits, std::ios::binary).read(reinterpret_cast<char*>(got.data()), std::streamsize(got.size() * sizeof(float)));
    const gguf::File written = gguf::File::open(path);
    EXPECT_LT(test_support::relative_error(got, test_support::RefModel(written).forward({3, 141, 59})), 1e-4);
    const auto bench = test_support::run_cli({"bench", path, "-p", "8", "-n", "8", "-r", "1", "--probe", "none"});
    EXPECT_EQ(bench.exit_code, 0) << bench.err;
    const auto text = test_support::run_cli({"generate", path, "--prompt", "hello", "-n", "2"});
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_EQ(test_support::count_lines(text.err), 1) << text.err;
    EXPECT_NE(text.err.find(path + ": the model's tokenizer cannot be used"), std::string::npos) << text.err;
    EXPECT_NE(text.err.find("--tokens"), std::string::npos) << text.err;
    const auto info = test_support::run_cli({"info", path});
    EXPECT_EQ(info.exit_code, 0) << info.err;
    EXPECT_NE(info.out.find("not usable by bwscope"), std::string::npos) << info.out;
  }
}

}  // namespace
}  // namespace bwscope
