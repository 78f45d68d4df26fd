// Reads a Hugging Face tokenizer.json (byte-level BPE) into TokenizerData, checking every id.
#include "bwscope/format/tokenizer_json.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/format/json_file.h"

namespace bwscope {
namespace {

using nlohmann::json;

// The Llama 3 pre-tokenizer regex as tokenizer.json spells it.
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// bos_token / eos_token in tokenizer_config.json: a string, or {"content": string}, or null.
std::string config_token(const std::string& path, const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  fail("{}: '{}' is neither a string nor an object with a 'content' string", path, key);
}

// Collects the pre-tokenizer steps: a single one or the members of a Sequence.
void collect_steps(const json& p, std::vector<const json*>& steps) {
  if (!p.is_object()) return;
  if (p.value("type", "") == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
    for (const json& q : p["pretokenizers"]) collect_steps(q, steps);
  } else {
    steps.push_back(&p);
  }
}

// Names the pre-tokenizer as GGUF's tokenizer.ggml.pre does, from what tokenizer.json holds.
std::string pre_tokenizer_name(const std::string& path, const json& j, bool ignore_merges) {
  const auto it = j.find("pre_tokenizer");
  if (it == j.end() || it->is_null()) fail("{}: no 'pre_tokenizer': not a byte-level BPE tokenizer", path);
  std::vector<const json*> steps;
  collect_steps(*it, steps);
  bool llama3 = false, byte_level = false, gpt2_regex = false;
  for (const json* s : steps) {
    const std::string type = s->value("type", "");
    if (type == "Split") {
      const json* pattern = s->contains("pattern") ? &(*s)["pattern"] : nullptr;
      if (!pattern || !pattern->is_object() || !pattern->contains("Regex") || (*pattern)["Regex"] != kLlama3Regex)
        fail("{}: the pre-tokenizer Split pattern is not Llama 3's; only Llama 3 and GPT-2 byte-level BPE are supported", path);
      llama3 = true;
    } else if (type == "ByteLevel") {
      byte_level = true;
      gpt2_regex = gpt2_regex || s->value("use_regex", true);
    } else {
      fail("{}: pre-tokenizer step '{}' is not supported", path, type);
    }
  }
  if (!byte_level) fail("{}: no ByteLevel pre-tokenizer: not a byte-level BPE tokenizer", path);
  if (llama3 && !gpt2_regex) return ignore_merges ? "llama-bpe" : "smaug-bpe";  // llama.cpp's names
  if (!llama3 && gpt2_regex) return "gpt2";
  fail("{}: pre-tokenizer combination is not supported", path);
}

}  // namespace

TokenizerData read_tokenizer_json(const std::string& path) {
  const json j = read_json_file(path);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) fail("{}: no 'model' object", path);
  const json& model = j["model"];
  if (model.contains("type") && model["type"] != "BPE") fail("{}: model type {} is not BPE", path, model["type"].dump());
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail("{}: no 'model.vocab' object", path);
  const json& vocab = model["vocab"];
  const json empty = json::array();
  const json& added = j.contains("added_tokens") && !j["added_tokens"].is_null() ? j["added_tokens"] : empty;
  if (!added.is_array()) fail("{}: 'added_tokens' is not an array", path);

  // Every id must lie below the number of entries, which bounds what we allocate.
  const int64_t limit = int64_t(vocab.size() + added.size());
  TokenizerData t;
  std::vector<bool> seen;
  auto put = [&](const std::string& text, const json& id_json, int32_t type) {
    if (!id_json.is_number_integer()) fail("{}: token '{}' has id {}, not an integer", path, text, id_json.dump());
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= limit) fail("{}: token '{}' has id {}, out of range (0..{})", path, text, id, limit - 1);
    const auto i = size_t(id);
    if (i >= t.tokens.size()) t.tokens.resize(i + 1), t.token_types.resize(i + 1, 0), seen.resize(i + 1, false);
    if (seen[i] && t.tokens[i] != text) fail("{}: id {} is given to both '{}' and '{}'", path, id, t.tokens[i], text);
    t.tokens[i] = text;
    t.token_types[i] = type;
    seen[i] = true;
  };
  for (const auto& [text, id] : vocab.items()) put(text, id, 1);
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id"))
      fail("{}: an entry of 'added_tokens' lacks a 'content' string or an 'id'", path);
    const json& special = a.contains("special") ? a["special"] : json(false);
    if (!special.is_boolean()) fail("{}: added token '{}' has a non-boolean 'special'", path, a["content"].get<std::string>());
    // As llama.cpp's converter: special added tokens are control (3), the others user-defined (4).
    put(a["content"].get<std::string>(), a["id"], special.get<bool>() ? 3 : 4);
  }
  if (t.tokens.empty()) fail("{}: the vocabulary is empty", path);
  for (size_t i = 0; i < t.tokens.size(); ++i)
    if (!seen[i]) t.tokens[i] = "<|bwscope_unused_" + std::to_string(i) + "|>", t.token_types[i] = 5;  // a gap: unused

  if (model.contains("merges") && !model["merges"].is_null()) {
    const json& merges = model["merges"];
    if (!merges.is_array()) fail("{}: 'model.merges' is not an array", path);
    t.merges.reserve(merges.size());
    for (const json& m : merges) {
      if (m.is_string()) t.merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        t.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else fail("{}: merge {} is neither \"a b\" nor [\"a\", \"b\"]", path, t.merges.size());
    }
  }
  const json& ignore = model.contains("ignore_merges") ? model["ignore_merges"] : json(false);
  t.pre = pre_tokenizer_name(path, j, ignore.is_boolean() && ignore.get<bool>());

  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < t.tokens.size(); ++i) ids.emplace(t.tokens[i], int32_t(i));
  auto id_of = [&](const std::string& text) { return ids.contains(text) ? ids[text] : -1; };
  t.bos_id = id_of("<|begin_of_text|>");
  t.eos_id = id_of("<|end_of_text|>");
  t.eot_id = id_of("<|eot_id|>");
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::error_code ec; std::filesystem::exists(config_path, ec)) {
    const std::string cpath = config_path.string();
    const json config = read_json_file(cpath);
    if (!config.is_object()) fail("{}: not a JSON object", cpath);
    for (auto [key, id] : {std::pair{"bos_token", &t.bos_id}, {"eos_token", &t.eos_id}}) {
      const std::string text = config_token(cpath, config, key);
      if (text.empty()) continue;
      *id = id_of(text);
      if (*id < 0) fail("{}: {} '{}' is not a token of {}", cpath, key, text, path);
    }
  }
  return t;
}

}  // namespace bwscope
