// config.json of a Hugging Face Llama checkpoint.
#include "bwscope/format/hf_config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/format/json_file.h"

namespace bwscope {
namespace {

using nlohmann::json;

struct Reader {
  const std::string& path;
  const json& j;

  const json* get(const char* key) const {
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  int64_t count(const char* key, int64_t fallback, int64_t max) const {
    const json* v = get(key);
    if (!v) {
      if (fallback < 0) fail("{}: '{}' is missing", path, key);
      return fallback;
    }
    if (!v->is_number_integer()) fail("{}: '{}' is not an integer", path, key);
    const int64_t x = v->get<int64_t>();
    if (x < 1 || x > max) fail("{}: '{}' = {} is out of range (1..{})", path, key, x, max);
    return x;
  }
  double number(const char* key, double fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_number()) fail("{}: '{}' is not a number", path, key);
    const double x = v->get<double>();
    if (!(x > 0)) fail("{}: '{}' = {} must be positive", path, key, x);
    return x;
  }
  bool flag(const char* key, bool fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail("{}: '{}' is not true or false", path, key);
    return v->get<bool>();
  }
  std::string text(const char* key, const std::string& fallback) const {
    const json* v = get(key);
    if (!v) return fallback;
    if (!v->is_string()) fail("{}: '{}' is not a string", path, key);
    return v->get<std::string>();
  }
};

}  // namespace

HfConfig read_hf_config(const std::string& path) {
  const json j = read_json_file(path);
  if (!j.is_object()) fail("{}: not a JSON object", path);
  const Reader r{path, j};
  HfConfig c;
  c.model_type = r.text("model_type", "");
  if (c.model_type != "llama") fail("{}: model_type is '{}', expected 'llama'", path, c.model_type);
  if (const json* a = r.get("architectures")) {
    if (!a->is_array()) fail("{}: 'architectures' is not a list", path);
    c.architectures.clear();
    for (const json& x : *a) {
      if (!x.is_string()) fail("{}: 'architectures' holds a non-string", path);
      c.architectures.push_back(x.get<std::string>());
    }
  }
  c.hidden_size = r.count("hidden_size", -1, 1 << 20);
  c.intermediate_size = r.count("intermediate_size", -1, 1 << 22);
  c.num_hidden_layers = r.count("num_hidden_layers", -1, 4096);
  c.num_attention_heads = r.count("num_attention_heads", -1, 1 << 14);
  c.num_key_value_heads = r.count("num_key_value_heads", c.num_attention_heads, 1 << 14);
  c.head_dim = r.get("head_dim") ? r.count("head_dim", -1, 1 << 16) : 0;
  c.vocab_size = r.count("vocab_size", -1, 1 << 24);
  c.max_position_embeddings = r.count("max_position_embeddings", 2048, int64_t(1) << 32);
  c.rms_norm_eps = r.number("rms_norm_eps", 1e-6);
  c.rope_theta = r.number("rope_theta", 10000.0);
  c.tie_word_embeddings = r.flag("tie_word_embeddings", false);
  c.attention_bias = r.flag("attention_bias", false);
  c.mlp_bias = r.flag("mlp_bias", false);
  c.hidden_act = r.text("hidden_act", "silu");
  c.torch_dtype = r.text("torch_dtype", "");
  if (const json* rs = r.get("rope_scaling")) {
    if (!rs->is_object()) fail("{}: 'rope_scaling' is not an object", path);
    const Reader s{path, *rs};
    // transformers reads "rope_type", and "type" in older files.
    c.rope_scaling.rope_type = s.text("rope_type", s.text("type", ""));
    c.rope_scaling.factor = s.number("factor", 1.0);
    c.rope_scaling.low_freq_factor = s.number("low_freq_factor", 1.0);
    c.rope_scaling.high_freq_factor = s.number("high_freq_factor", 4.0);
    c.rope_scaling.original_max_position_embeddings = s.count("original_max_position_embeddings", 8192, int64_t(1) << 32);
    if (c.rope_scaling.rope_type.empty()) fail("{}: 'rope_scaling' has no rope_type", path);
  }
  if (const json* b = r.get("bos_token_id")) {
    if (!b->is_number_integer()) fail("{}: 'bos_token_id' is not an integer", path);
    c.bos_token_id = b->get<int64_t>();
  }
  if (const json* e = r.get("eos_token_id")) {
    const std::vector<json> items = e->is_array() ? e->get<std::vector<json>>() : std::vector<json>{*e};
    for (const json& x : items) {
      if (!x.is_number_integer()) fail("{}: 'eos_token_id' is not an integer or a list of them", path);
      c.eos_token_ids.push_back(x.get<int64_t>());
    }
  }
  return c;
}

std::string hf_config_json(const HfConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = c.architectures;
  j["model_type"] = c.model_type;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  if (c.head_dim > 0) j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.rope_type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {{"rope_type", c.rope_scaling.rope_type},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = c.attention_bias;
  j["mlp_bias"] = c.mlp_bias;
  j["hidden_act"] = c.hidden_act;
  if (!c.torch_dtype.empty()) j["torch_dtype"] = c.torch_dtype;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
  return j.dump(2) + "\n";
}

}  // namespace bwscope
