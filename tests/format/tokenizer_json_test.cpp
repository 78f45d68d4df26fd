// Reading Hugging Face tokenizer.json (+ tokenizer_config.json): small files written here, and the
// real Llama 3 file when the setup script has fetched it.
#include "bwscope/format/tokenizer_json.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using nlohmann::json;

const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// A small Llama 3 style tokenizer.json: 5 vocab entries, 2 merges, 3 added tokens.
json small_tokenizer() {
  json j;
  j["model"] = {{"type", "BPE"},
                {"ignore_merges", true},
                {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"Ġ", 3}, {"Ġab", 4}}},
                {"merges", {"a b", "Ġ ab"}}};
  j["added_tokens"] = {{{"id", 5}, {"content", "<|begin_of_text|>"}, {"special", true}},
                       {{"id", 6}, {"content", "<|end_of_text|>"}, {"special", true}},
                       {{"id", 7}, {"content", "<mine>"}, {"special", false}}};
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Regex}}}, {"behavior", "Isolated"}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  return j;
}

class TokenizerJson : public ::testing::Test {
 protected:
  std::string write(const json& j, const std::string& name = "tokenizer.json") {
    const std::string path = dir_.file(name);
    std::ofstream(path) << j.dump();
    return path;
  }
  void expect_error(const std::string& path, const std::string& must_contain) {
    try {
      read_tokenizer_json(path);
      ADD_FAILURE() << "accepted; expected an error containing '" << must_contain << "'";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(must_contain), std::string::npos) << what;
      EXPECT_NE(what.find(path), std::string::npos) << "the message should name the file: " << what;
    }
  }
  test_support::TempDir dir_;
};

TEST_F(TokenizerJson, ReadsVocabMergesAddedTokensAndPre) {
  const TokenizerData t = read_tokenizer_json(write(small_tokenizer()));
  EXPECT_EQ(t.tokens, (std::vector<std::string>{"a", "b", "ab", "Ġ", "Ġab", "<|begin_of_text|>", "<|end_of_text|>", "<mine>"}));
  EXPECT_EQ(t.token_types, (std::vector<int32_t>{1, 1, 1, 1, 1, 3, 3, 4}));
  EXPECT_EQ(t.merges, (std::vector<std::string>{"a b", "Ġ ab"}));
  EXPECT_EQ(t.pre, "llama-bpe");
  EXPECT_EQ(t.bos_id, 5);
  EXPECT_EQ(t.eos_id, 6);
  EXPECT_EQ(t.eot_id, -1);
}

TEST_F(TokenizerJson, ReadsMergesGivenAsPairs) {
  json j = small_tokenizer();
  j["model"]["merges"] = json::array({json::array({"a", "b"}), json::array({"Ġ", "ab"})});
  EXPECT_EQ(read_tokenizer_json(write(j)).merges, (std::vector<std::string>{"a b", "Ġ ab"}));
}

TEST_F(TokenizerJson, ConfigBesideItNamesBosAndEos) {
  const std::string path = write(small_tokenizer());
  write({{"bos_token", "<mine>"}, {"eos_token", {{"content", "<|begin_of_text|>"}, {"lstrip", false}}}}, "tokenizer_config.json");
  const TokenizerData t = read_tokenizer_json(path);
  EXPECT_EQ(t.bos_id, 7);
  EXPECT_EQ(t.eos_id, 5);
}

TEST_F(TokenizerJson, ConfigNamingAnUnknownTokenIsAnError) {
  const std::string path = write(small_tokenizer());
  const std::string config = write({{"eos_token", "<|eot_id|>"}}, "tokenizer_config.json");
  try {
    read_tokenizer_json(path);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(config), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("<|eot_id|>"), std::string::npos) << e.what();
  }
}

TEST_F(TokenizerJson, PlainByteLevelPreTokenizerIsGpt2) {
  json j = small_tokenizer();
  j["model"]["ignore_merges"] = false;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(read_tokenizer_json(write(j)).pre, "gpt2");
}

TEST_F(TokenizerJson, GapsInIdsBecomeUnusedPlaceholders) {
  json j = small_tokenizer();
  j["added_tokens"][2]["id"] = 8;  // -> id 7 is named by nothing
  j["added_tokens"].push_back({{"id", 4}, {"content", "Ġab"}, {"special", false}});  // repeats a vocab entry
  const TokenizerData t = read_tokenizer_json(write(j));
  ASSERT_EQ(t.tokens.size(), 9u);
  EXPECT_EQ(t.token_types[7], 5);
  EXPECT_EQ(t.tokens[8], "<mine>");
}

TEST_F(TokenizerJson, RejectsMalformedFiles) {
  expect_error(dir_.file("missing.json"), "cannot open");
  {
    const std::string path = dir_.file("bad.json");
    std::ofstream(path) << "{\"model\": {\"vocab\": {\"a\": 0,}}";
    expect_error(path, "not valid JSON");
  }
  json j = small_tokenizer();
  j["model"].erase("vocab");
  expect_error(write(j), "model.vocab");

  j = small_tokenizer();
  j["model"]["vocab"]["b"] = 1000;
  expect_error(write(j), "out of range");

  j = small_tokenizer();
  j["model"]["vocab"]["b"] = -1;
  expect_error(write(j), "out of range");

  j = small_tokenizer();
  j["model"]["vocab"]["b"] = "1";
  expect_error(write(j), "not an integer");

  j = small_tokenizer();
  j["added_tokens"][0]["id"] = 2;  // already "ab"
  expect_error(write(j), "id 2 is given to both");

  j = small_tokenizer();
  j["model"]["merges"] = json::array({json::array({"a", "b", "c"})});
  expect_error(write(j), "merge 0");

  j = small_tokenizer();
  j["model"]["type"] = "WordPiece";
  expect_error(write(j), "not BPE");

  j = small_tokenizer();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  expect_error(write(j), "not Llama 3's");

  j = small_tokenizer();
  j["added_tokens"][1].erase("content");
  expect_error(write(j), "added_tokens");
}

TEST(TokenizerJsonReal, ReadsTheLlama3Tokenizer) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path cache = xdg && *xdg ? std::filesystem::path(xdg) : std::filesystem::path(home ? home : "") / ".cache";
  const std::filesystem::path path = cache / "bwscope" / "llama3-tokenizer" / "tokenizer.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (scripts/setup.sh fetches it)";
  const TokenizerData t = read_tokenizer_json(path.string());
  EXPECT_EQ(t.tokens.size(), 128256u);
  EXPECT_EQ(t.merges.size(), 280147u);
  EXPECT_EQ(t.pre, "llama-bpe");
  EXPECT_EQ(t.bos_id, 128000);
  EXPECT_EQ(t.eos_id, 128001);
  EXPECT_EQ(t.eot_id, 128009);
  EXPECT_EQ(t.tokens[128009], "<|eot_id|>");
  EXPECT_EQ(t.token_types[128009], 3);
  EXPECT_EQ(t.token_types[9906], 1);
  EXPECT_EQ(t.tokens[9906], "Hello");
  EXPECT_EQ(t.merges[0], "Ġ Ġ");
}

}  // namespace
}  // namespace bwscope
