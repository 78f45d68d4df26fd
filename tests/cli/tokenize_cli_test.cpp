// bwscope tokenize as a user meets it: the tokenizer of a GGUF file (the tiny model's byte-level
// stand-in, where ids are bytes) or of tokenizer.json; --text/--file/--lines, --bos, --decode,
// --parse-special, --stats, and one-line errors for bad flags.
#include <gtest/gtest.h>

#include <fstream>

#include "bwscope/model/synth.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using test_support::run_cli;

class TokenizeCli : public ::testing::Test {
 protected:
  void SetUp() override { model_ = test_support::write_tiny_model(dir_, DType::F32); }
  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir_.file(name), std::ios::binary) << content;
  }
  test_support::TempDir dir_;
  std::string model_;
};

// The tiny preset's stand-in (512 tokens): id == byte for 0..255, BOS 256, EOS 257, <|eot_id|> 265.
TEST_F(TokenizeCli, EncodesTextAsOneJsonArrayWithoutBosUnlessAsked) {
  auto r = run_cli({"tokenize", "--model", model_, "--text", "Hi!"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[72,105,33]\n");
  r = run_cli({"tokenize", "--model", model_, "--text", "Hi", "--bos"});
  EXPECT_EQ(r.out, "[256,72,105]\n");
  r = run_cli({"tokenize", "--model", model_, "--text", ""});
  EXPECT_EQ(r.out, "[]\n");
}

TEST_F(TokenizeCli, ParseSpecialTurnsWrittenControlTokensIntoIds) {
  auto plain = run_cli({"tokenize", "--model", model_, "--text", "a<|eot_id|>"});
  auto special = run_cli({"tokenize", "--model", model_, "--text", "a<|eot_id|>", "--parse-special"});
  ASSERT_EQ(special.exit_code, 0) << special.err;
  EXPECT_EQ(special.out, "[97,265]\n");
  EXPECT_EQ(plain.out, "[97,60,124,101,111,116,95,105,100,124,62]\n");
}

TEST_F(TokenizeCli, LinesGiveOneArrayPerLineAndFileTakesEverything) {
  write("lines.txt", "ab\n\nc");
  auto r = run_cli({"tokenize", "--model", model_, "--lines", dir_.file("lines.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,98]\n[]\n[99]\n");
  r = run_cli({"tokenize", "--model", model_, "--file", dir_.file("lines.txt")});
  EXPECT_EQ(r.out, "[97,98,10,10,99]\n");
  write("json.txt", "\"a\\nb\"\n\"\\t\"\n");
  r = run_cli({"tokenize", "--model", model_, "--lines", dir_.file("json.txt"), "--json-strings"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[97,10,98]\n[9]\n");
}

TEST_F(TokenizeCli, DecodePrintsTheExactText) {
  auto r = run_cli({"tokenize", "--model", model_, "--decode", "256,72,105,10,265"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|begin_of_text|>Hi\n<|eot_id|>\n");
  r = run_cli({"tokenize", "--model", model_, "--decode", "[72, 105]"});
  EXPECT_EQ(r.out, "Hi\n");
}

TEST_F(TokenizeCli, StatsReportEncodingSpeed) {
  auto r = run_cli({"tokenize", "--model", model_, "--text", "memory bandwidth", "--stats", "--repeat", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("encode: 16 bytes -> 16 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("MB/s median of 3 runs"), std::string::npos) << r.err;
}

TEST_F(TokenizeCli, BadInputGetsOneLineAndExitOne) {
  write("bad.jsonl", "\"ok\"\nnot json\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"tokenize", "--text", "x"}, "exactly one of --model or --tokenizer"},
      {{"tokenize", "--model", model_}, "exactly one of --text"},
      {{"tokenize", "--model", model_, "--text", "x", "--decode", "1"}, "exactly one of --text"},
      {{"tokenize", "--model", model_, "--decode", "1,x"}, "'x' is not a token id"},
      {{"tokenize", "--model", model_, "--decode", "99999"}, "outside the vocabulary"},
      {{"tokenize", "--model", model_, "--lines", dir_.file("bad.jsonl"), "--json-strings"}, "line 2 is not a JSON string"},
      {{"tokenize", "--model", dir_.file("missing.gguf"), "--text", "x"}, "missing.gguf"},
      {{"tokenize", "--tokenizer", dir_.file("missing.json"), "--text", "x"}, "missing.json"},
  };
  for (const auto& [args, message] : cases) {
    auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << args.back();
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
  }
}

TEST(TokenizeCliLlama3, TokenizerJsonGivesHuggingFaceIds) {
  const std::string json = default_tokenizer_json();
  if (json.empty()) GTEST_SKIP() << "no Llama 3 tokenizer.json in the cache (scripts/setup.sh fetches it)";
  auto r = run_cli({"tokenize", "--tokenizer", json, "--text", "Hello world!", "--bos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[128000,9906,1917,0]\n");
}

}  // namespace
}  // namespace bwscope
