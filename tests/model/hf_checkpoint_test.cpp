// Hugging Face checkpoints: the same synthetic weights as safetensors, as GGUF via convert and
// as GGUF from synth give the same logits; an independent float64 forward pass with Hugging
// Face's rotate-half RoPE on the unpermuted HF tensors agrees with the engine (so the Q/K row
// permutation is right, not merely consistent); sharded checkpoints; bad configs and tensors.
#include "bwscope/model/hf_checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/engine/engine.h"
#include "bwscope/format/safetensors.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

namespace fs = std::filesystem;
using Vec = std::vector<double>;

SynthOptions tiny_options(DType type, uint64_t seed = 4, bool tied = true) {
  SynthOptions o;
  o.config = preset("tiny");
  o.config.tied_embeddings = tied;
  o.type = type;
  o.seed = seed;
  o.threads = 1;
  return o;
}

std::vector<int32_t> prompt() { return {256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 300, 7}; }

// Logits of every prompt position, F32 KV cache, scalar kernels.
std::vector<float> logits_of(const LlamaModel& model) {
  EngineOptions eo;
  eo.kv_type = DType::F32;
  eo.ops = &kernels::scalar_ops();
  eo.n_ctx = 32;
  Engine engine(model, eo);
  std::vector<BatchToken> batch;
  const auto tokens = prompt();
  for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int32_t(i), 0, true});
  std::span<const float> l = engine.forward(batch);
  return {l.begin(), l.end()};
}

// max |a - b| / max |b|.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
    ref = std::max(ref, std::fabs(double(b[i])));
  }
  return diff / ref;
}

double spread(const std::vector<float>& v) {  // the logits must not be trivially equal (zeros)
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return double(*hi) - double(*lo);
}

class HfCheckpoint : public ::testing::TestWithParam<DType> {};

TEST_P(HfCheckpoint, SafetensorsConvertedGgufAndSynthGgufGiveTheSameLogits) {
  test_support::TempDir dir;
  const SynthOptions o = tiny_options(GetParam());
  write_synthetic_hf(o, dir.file("hf"));
  convert_hf_to_gguf(dir.file("hf"), dir.file("converted.gguf"));
  write_synthetic_gguf(o, dir.file("synth.gguf"));

  const LlamaModel hf = load_llama(dir.file("hf"));  // a directory goes to the HF loader
  EXPECT_EQ(hf.file, nullptr);
  EXPECT_EQ(hf.layers[0].attn_q.type, GetParam());
  const std::vector<float> from_hf = logits_of(hf);
  const std::vector<float> converted = logits_of(load_llama(dir.file("converted.gguf")));
  const std::vector<float> synth = logits_of(load_llama(dir.file("synth.gguf")));
  ASSERT_GT(spread(from_hf), 0.1);
  std::printf("%s: relative error safetensors vs convert %.3g, vs synth GGUF %.3g\n", dtype_name(GetParam()).data(),
              relative_error(from_hf, converted), relative_error(from_hf, synth));
  EXPECT_LT(relative_error(from_hf, converted), 1e-5);
  EXPECT_LT(relative_error(from_hf, synth), 1e-5);
  // The converted file holds llama.cpp's layout: the same tensors, bytes and rope factors as synth's.
  const gguf::File a = gguf::File::open(dir.file("converted.gguf")), b = gguf::File::open(dir.file("synth.gguf"));
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const gguf::Tensor& t : b.tensors()) {
    const gguf::Tensor* u = a.find_tensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(u->type, t.type) << t.name;
    EXPECT_EQ(u->ne, t.ne) << t.name;
    EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), u->bytes.begin(), u->bytes.end())) << t.name;
  }
  // The comparison can fail: other weights give other logits.
  write_synthetic_gguf(tiny_options(GetParam(), 5), dir.file("other.gguf"));
  EXPECT_GT(relative_error(logits_of(load_llama(dir.file("other.gguf"))), from_hf), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(FloatWeights, HfCheckpoint, ::testing::Values(DType::F32, DType::BF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// ---- an independent forward pass with Hugging Face's semantics, on the HF tensors ----

struct HfReference {
  const safetensors::Checkpoint& ckpt;
  const nlohmann::json& config;
  int64_t d, n_head, n_kv, hd;
  Vec inv_freq;

  HfReference(const safetensors::Checkpoint& c, const nlohmann::json& j) : ckpt(c), config(j) {
    d = j["hidden_size"];
    n_head = j["num_attention_heads"];
    n_kv = j["num_key_value_heads"];
    hd = d / n_head;
    // transformers' llama3 rope: θ_i = base^(-2i/d), divided by `factor` for long wavelengths,
    // smoothly blended between the two wavelength bounds.
    const auto& s = j["rope_scaling"];
    const double base = j["rope_theta"], factor = s["factor"], low = s["low_freq_factor"], high = s["high_freq_factor"];
    const double original = s["original_max_position_embeddings"];
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double f = std::pow(base, -2.0 * double(i) / double(hd)), wavelen = 2 * M_PI / f;
      double scaled = f;
      if (wavelen > original / low) scaled = f / factor;
      else if (wavelen >= original / high) {
        const double smooth = (original / wavelen - low) / (high - low);
        scaled = (1 - smooth) * f / factor + smooth * f;
      }
      inv_freq.push_back(scaled);
    }
  }
  double at(const std::string& name, int64_t i) const {
    float v = 0;
    std::memcpy(&v, ckpt.find(name)->bytes.data() + 4 * i, 4);  // F32 checkpoints only
    return v;
  }
  Vec mul(const std::string& name, const Vec& x) const {  // torch Linear: y = W x, W [out, in]
    const auto& shape = ckpt.find(name)->shape;
    Vec y(static_cast<size_t>(shape[0]), 0.0);
    for (uint64_t r = 0; r < shape[0]; ++r)
      for (uint64_t c = 0; c < shape[1]; ++c) y[r] += at(name, int64_t(r * shape[1] + c)) * x[c];
    return y;
  }
  Vec rmsnorm(const Vec& x, const std::string& name) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / double(x.size()) + double(config["rms_norm_eps"]));
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * at(name, int64_t(i));
    return y;
  }
  // apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
  void rope(Vec& x, int64_t heads, int64_t pos) const {
    const int64_t half = hd / 2;
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double a = double(pos) * inv_freq[size_t(i)];
        double& x1 = x[size_t(h * hd + i)];
        double& x2 = x[size_t(h * hd + half + i)];
        const double x1_0 = x1, x2_0 = x2;
        x1 = x1_0 * std::cos(a) - x2_0 * std::sin(a);
        x2 = x2_0 * std::cos(a) + x1_0 * std::sin(a);
      }
  }
  std::vector<float> forward(const std::vector<int32_t>& tokens) const {
    const int64_t n_layers = config["num_hidden_layers"];
    std::vector<std::vector<Vec>> keys(static_cast<size_t>(n_layers)), values(static_cast<size_t>(n_layers));
    std::vector<float> logits;
    for (size_t p = 0; p < tokens.size(); ++p) {
      Vec x(static_cast<size_t>(d));
      for (int64_t i = 0; i < d; ++i) x[size_t(i)] = at("model.embed_tokens.weight", tokens[p] * d + i);
      for (int64_t l = 0; l < n_layers; ++l) {
        const std::string b = "model.layers." + std::to_string(l) + ".";
        Vec xn = rmsnorm(x, b + "input_layernorm.weight");
        Vec q = mul(b + "self_attn.q_proj.weight", xn), k = mul(b + "self_attn.k_proj.weight", xn);
        keys[size_t(l)].push_back({});
        rope(q, n_head, int64_t(p));
        rope(k, n_kv, int64_t(p));
        keys[size_t(l)].back() = k;
        values[size_t(l)].push_back(mul(b + "self_attn.v_proj.weight", xn));
        Vec att(static_cast<size_t>(d), 0.0);
        for (int64_t h = 0; h < n_head; ++h) {
          const int64_t kvh = h / (n_head / n_kv);
          Vec s(p + 1);
          double max = -1e300, sum = 0;
          for (size_t j = 0; j <= p; ++j) {
            double dot = 0;
            for (int64_t e = 0; e < hd; ++e) dot += q[size_t(h * hd + e)] * keys[size_t(l)][j][size_t(kvh * hd + e)];
            max = std::max(max, s[j] = dot / std::sqrt(double(hd)));
          }
          for (double& e : s) sum += (e = std::exp(e - max));
          for (size_t j = 0; j <= p; ++j)
            for (int64_t e = 0; e < hd; ++e) att[size_t(h * hd + e)] += s[j] / sum * values[size_t(l)][j][size_t(kvh * hd + e)];
        }
        const Vec o = mul(b + "self_attn.o_proj.weight", att);
        for (int64_t i = 0; i < d; ++i) x[size_t(i)] += o[size_t(i)];
        xn = rmsnorm(x, b + "post_attention_layernorm.weight");
        Vec g = mul(b + "mlp.gate_proj.weight", xn);
        const Vec u = mul(b + "mlp.up_proj.weight", xn);
        for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
        const Vec down = mul(b + "mlp.down_proj.weight", g);
        for (int64_t i = 0; i < d; ++i) x[size_t(i)] += down[size_t(i)];
      }
      const Vec out = mul(config["tie_word_embeddings"] ? "model.embed_tokens.weight" : "lm_head.weight", rmsnorm(x, "model.norm.weight"));
      logits.insert(logits.end(), out.begin(), out.end());
    }
    return logits;
  }
};

TEST(HfCheckpointSemantics, EngineMatchesRotateHalfReferenceOnHfTensors) {
  test_support::TempDir dir;
  for (bool tied : {true, false}) {
    const std::string path = dir.file(tied ? "tied" : "untied");
    write_synthetic_hf(tiny_options(DType::F32, 6, tied), path);
    const auto ckpt = safetensors::Checkpoint::open(path);
    const nlohmann::json config = nlohmann::json::parse(std::ifstream(path + "/config.json"));
    EXPECT_EQ(ckpt.find("lm_head.weight") != nullptr, !tied);
    const std::vector<float> want = HfReference(ckpt, config).forward(prompt());
    const std::vector<float> got = logits_of(load_llama(path));
    ASSERT_GT(spread(want), 0.1);
    std::printf("%s: relative error engine vs float64 rotate-half reference %.3g\n", tied ? "tied" : "untied", relative_error(got, want));
    EXPECT_LT(relative_error(got, want), 1e-4) << (tied ? "tied" : "untied");
    // The check can fail: the HF rows used as they are (no permutation) give other logits.
    LlamaModel unpermuted = load_llama(path);
    for (size_t i = 0; i < unpermuted.layers.size(); ++i) {
      const std::string b = "model.layers." + std::to_string(i) + ".self_attn.";
      unpermuted.layers[i].attn_q.data = ckpt.find(b + "q_proj.weight")->bytes.data();
      unpermuted.layers[i].attn_k.data = ckpt.find(b + "k_proj.weight")->bytes.data();
    }
    EXPECT_GT(relative_error(logits_of(unpermuted), want), 1e-3);
  }
}

TEST(HfCheckpointSemantics, PermutationMovesRowsAsLlamaCppConverter) {
  // One head of 4 rows (HF order r0 r1 | r2 r3: pairs (r0, r2), (r1, r3)) becomes r0 r2 r1 r3.
  const std::vector<uint8_t> hf = {0, 1, 2, 3, 10, 11, 12, 13};  // two heads, one byte per row
  std::vector<uint8_t> gguf(8), back(8);
  permute_rope_rows(hf, gguf, 2, 4, 1, true);
  EXPECT_EQ(gguf, (std::vector<uint8_t>{0, 2, 1, 3, 10, 12, 11, 13}));
  permute_rope_rows(gguf, back, 2, 4, 1, false);
  EXPECT_EQ(back, hf);
  EXPECT_THROW(permute_rope_rows(hf, gguf, 2, 3, 1, true), Error);
}

TEST(HfCheckpointLoad, ShardedCheckpointLoadsTheSameModel) {
  test_support::TempDir dir;
  write_synthetic_hf(tiny_options(DType::BF16), dir.file("one"));
  const auto single = safetensors::Checkpoint::open(dir.file("one"));
  // Re-shard: layer 0 and the embedding in the first file, the rest in the second.
  fs::create_directory(dir.file("two"));
  fs::copy_file(dir.file("one/config.json"), dir.file("two/config.json"));
  safetensors::Writer w[2];
  nlohmann::json index;
  for (const safetensors::Tensor* t : single.tensors()) {
    const int shard = t->name.find("layers.0.") != std::string::npos || t->name.find("embed") != std::string::npos ? 0 : 1;
    w[shard].add_tensor(t->name, *t->type, t->shape, [t](std::span<uint8_t> dst) { std::memcpy(dst.data(), t->bytes.data(), dst.size()); });
    index["weight_map"][t->name] = shard == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  w[0].write(dir.file("two/model-00001-of-00002.safetensors"));
  w[1].write(dir.file("two/model-00002-of-00002.safetensors"));
  std::ofstream(dir.file("two/model.safetensors.index.json")) << index.dump();
  const std::vector<float> a = logits_of(load_llama(dir.file("one"))), b = logits_of(load_llama(dir.file("two")));
  ASSERT_GT(spread(a), 0.1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(logits_of(load_llama(dir.file("two/model.safetensors.index.json"))), a);
  EXPECT_EQ(logits_of(load_llama(dir.file("one/model.safetensors"))), a);
}

void expect_load_error(const std::string& path, const std::string& must_contain) {
  try {
    load_llama(path);
    ADD_FAILURE() << "loaded; expected an error containing '" << must_contain << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(must_contain), std::string::npos) << e.what();
  }
}

TEST(HfCheckpointLoad, RejectsBadConfigsAndTensorsNamingTheFile) {
  test_support::TempDir dir;
  const std::string path = dir.file("m");
  write_synthetic_hf(tiny_options(DType::F32), path);
  const std::string config_path = path + "/config.json";
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(config_path));
  auto with_config = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    std::ofstream(config_path) << j.dump();
  };
  with_config([](auto& j) { j["rope_scaling"]["rope_type"] = "yarn"; });
  expect_load_error(path, "config.json: rope_scaling type 'yarn' is not supported");
  with_config([](auto& j) { j["attention_bias"] = true; });
  expect_load_error(path, "config.json: attention_bias");
  with_config([](auto& j) { j.erase("hidden_size"); });
  expect_load_error(path, "config.json: 'hidden_size' is missing");
  with_config([](auto& j) { j["num_key_value_heads"] = 3; });
  expect_load_error(path, "not a multiple of num_key_value_heads 3");
  with_config([](auto& j) { j["intermediate_size"] = 128; });
  expect_load_error(path, "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [160, 64], expected [128, 64]");
  with_config([](auto& j) { j["num_hidden_layers"] = 3; });
  expect_load_error(path, "tensor 'model.layers.2.input_layernorm.weight' is missing");
  with_config([](auto& j) { j["tie_word_embeddings"] = false; });
  expect_load_error(path, "tensor 'lm_head.weight' is missing");
  std::ofstream(config_path) << "{ not json";
  expect_load_error(path, "config.json: not valid JSON");
  fs::remove(config_path);
  expect_load_error(path, "no config.json");
}

}  // namespace
}  // namespace bwscope
