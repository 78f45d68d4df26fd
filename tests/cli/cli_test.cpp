// The CLI as a user meets it: synth → info → generate on a tiny model, and the bad-input
// contract (one line naming the file and the problem, exit code 1, no partial output file).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using test_support::count_lines;
using test_support::run_cli;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.file("tiny.gguf");
    auto r = run_cli({"synth", "--preset", "tiny", "--type", "f16", "--out", model_, "--seed", "3"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  test_support::TempDir dir_;
  std::string model_;
};

TEST_F(Cli, InfoJsonReportsShapesParametersAndBytes) {
  auto r = run_cli({"info", model_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // tiny: 2 layers, dim 64, ffn 160, 4 heads / 2 KV heads (kv dim 32), vocab 512.
  const uint64_t per_layer = 64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 160 + 2 * 64;
  EXPECT_EQ(j["n_params"].get<uint64_t>(), 2 * per_layer + 512 * 64 + 64);
  EXPECT_EQ(j["n_layers"], 2);
  EXPECT_EQ(j["n_embd"], 64);
  EXPECT_EQ(j["n_vocab"], 512);
  // 2-D weights in f16 (2 bytes), norms and rope factors (head 16 → 8 pairs) in f32.
  const uint64_t weights_2d = 2 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 160) + 512 * 64;
  EXPECT_EQ(j["bytes_by_type"]["f16"].get<uint64_t>(), 2 * weights_2d);
  EXPECT_EQ(j["bytes_by_type"]["f32"].get<uint64_t>(), 4 * (2 * 2 * 64 + 64 + 8));
  EXPECT_EQ(j["tensor_bytes"].get<uint64_t>(), 2 * weights_2d + 4 * (2 * 2 * 64 + 64 + 8));
  EXPECT_EQ(j["memory"]["instances"], 2);
}

TEST_F(Cli, GenerateFromTokenIdsPrintsIdsAndSpeed) {
  auto r = run_cli({"generate", model_, "--tokens", "1,2,3", "-n", "5", "--ids", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("prefill: 3 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode:  4 tokens"), std::string::npos) << r.out;
}

TEST_F(Cli, GenerateJsonIsDeterministicForASeed) {
  std::vector<std::string> args{"generate", model_, "--tokens", "7,8,9", "-n", "8", "--temperature", "0.9", "--seed", "5", "--json"};
  auto a = run_cli(args), b = run_cli(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(ja["ids"], jb["ids"]);
  EXPECT_EQ(ja["ids"].size(), 8u);
}

TEST_F(Cli, DumpLogitsWritesPromptTimesVocabFloats) {
  const std::string out = dir_.file("logits.f32");
  auto r = run_cli({"generate", model_, "--tokens", "1,2,3,4", "-n", "1", "--dump-logits", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::filesystem::file_size(out), 4u * 512u * sizeof(float));
}

TEST_F(Cli, GenerateWithPromptTextUsesTheEmbeddedTokenizer) {
  auto r = run_cli({"generate", model_, "--prompt", "hello", "-n", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["prompt_ids"].size(), 2u);  // BOS + at least one token for "hello"
}

void expect_one_line_error(const test_support::CliResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << r.err;
}

TEST_F(Cli, MissingFileIsOneLineNamingIt) {
  expect_one_line_error(run_cli({"info", dir_.file("nope.gguf")}), "nope.gguf");
}

TEST_F(Cli, NotAGgufFileIsOneLine) {
  const std::string bad = dir_.file("text.gguf");
  std::ofstream(bad) << "this is not a model file, just some text that is long enough";
  expect_one_line_error(run_cli({"info", bad}), "text.gguf");
}

TEST_F(Cli, FileTruncatedAnywhereIsOneLineAndExitOne) {
  const auto size = std::filesystem::file_size(model_);
  const std::string cut = dir_.file("cut.gguf");
  // Header, metadata, tensor infos and data: 40 cut points spread over the whole file.
  for (int i = 0; i < 40; ++i) {
    const auto keep = size * uint64_t(i) / 40 + uint64_t(i % 3);
    std::filesystem::copy_file(model_, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, keep);
    SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(size) + " bytes");
    expect_one_line_error(run_cli({"generate", cut, "--tokens", "1", "-n", "1"}), "cut.gguf");
  }
}

TEST_F(Cli, ErrorLeavesNoPartialLogitsFile) {
  const std::string out = dir_.file("logits.f32");
  auto r = run_cli({"generate", model_, "--tokens", "1,2,99999", "-n", "1", "--dump-logits", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(Cli, BadFlagsAreRefused) {
  EXPECT_NE(run_cli({"synth", "--preset", "llama-9b", "--out", dir_.file("x.gguf")}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.gguf")));
  expect_one_line_error(run_cli({"synth", "--preset", "tiny", "--type", "q9", "--out", dir_.file("y.gguf")}), "q9");
  EXPECT_NE(run_cli({"generate", model_, "--tokens", "1,x"}).exit_code, 0);
  EXPECT_NE(run_cli({"frobnicate"}).exit_code, 0);
}

TEST_F(Cli, NonsenseNumbersAreOneLineNamingTheFlagAndTheRange) {
  // Before: "--threads: Value 0 not in range 0.000000 to 1797693134862315...", a 309-digit bound.
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"bench", model_, "-t", "0"}, "--threads: 0 is not a whole number from 1 to 4096"},
      {{"generate", model_, "--tokens", "1", "-t", "-2"}, "--threads: -2 is not a whole number from 1 to 4096"},
      {{"compare", "-m", model_, "-t", "1.5"}, "--threads: 1.5 is not a whole number from 1 to 4096"},
      {{"probe", "-t", "0"}, "--threads: 0 is not a whole number from 1 to 4096"},
      {{"compare", "-m", model_, "--peak-bw", "0"}, "--peak-bw: 0 is not a number above 0"},
      {{"bench", model_, "-n", "-1"}, "--n-gen: -1 is not a whole number from 0 to 1000000"},
      {{"info", model_, "--batch", "0"}, "--batch: 0 is not a whole number from 1 to 65536"},
  };
  for (const auto& [args, words] : cases) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err, "bwscope: " + words + "\n");
  }
}

// Rows of docs/bad-input.md not covered above: each is one line naming the input, a non-zero
// exit and no output file; an unwritable output path is refused before anything is measured.
TEST_F(Cli, DirectoriesAndEmptyFilesAreOneLine) {
  const std::string empty_dir = dir_.file("empty-dir");
  std::filesystem::create_directory(empty_dir);
  const std::string empty = dir_.file("empty.gguf");
  std::ofstream{empty};
  expect_one_line_error(run_cli({"info", empty}), "empty.gguf: file of 0 bytes is too small to be GGUF");
  expect_one_line_error(run_cli({"generate", empty, "--tokens", "1"}), "empty.gguf");
  const auto r = run_cli({"info", empty_dir});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("empty-dir"), std::string::npos) << r.err;
}

TEST_F(Cli, UnwritableOutputsAreRefusedBeforeAnyWork) {
  const std::string nowhere = dir_.file("no-such-dir") + "/out";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"compare", "-m", model_, "--html", nowhere + ".html"}, "--html: " + nowhere + ".html: the directory"},
      {{"compare", "-m", model_, "--json-out", dir_.path().string()}, "is a directory, not a file"},
      {{"sweep", "-m", model_, "--results", nowhere + ".jsonl"}, "--results: " + nowhere + ".jsonl: the directory"},
      {{"plan", "--json-out", nowhere + ".json"}, "--json-out: " + nowhere + ".json: the directory"},
      {{"generate", model_, "--tokens", "1", "--dump-logits", nowhere + ".f32"}, "--dump-logits: " + nowhere + ".f32"},
  };
  for (const auto& [args, words] : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = run_cli(args);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_LT(seconds, 30) << "refused only after running: " << r.err;  // a bound, not a timing target
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.file("no-such-dir")));
  // A file that cannot be created where the directory exists is still one line, exit 1.
  expect_one_line_error(run_cli({"synth", "--preset", "tiny", "--out", nowhere + ".gguf"}), nowhere);
}

TEST_F(Cli, NonsenseModesAndCountsAreOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"compare", "-m", model_, "--window-ms", "0"}, "--window-ms: 0 is not a number from 0.01 to 100000"},
      {{"bench", model_, "--window-ms", "0"}, "--window-ms: 0 is not a number from 0.001 to 1e+06"},
      {{"compare", "-m", model_, "-N", "0"}, "--instances: 0 is not a whole number from 2 to 64"},
      {{"plan", "-N", "0"}, "--instances: 0 is not a whole number from 1 to 1024"},
      {{"compare", "-m", model_, "--isolation", "fork"}, "--isolation: fork not in {process,thread}"},
      {{"compare", "-m", model_, "--schedule", "random"}, "--schedule: random not in"},
      {{"compare", "-m", model_, "--threshold", "2"}, "--threshold: 2 is not a number from 0.01 to 1"},
  };
  for (const auto& [args, words] : cases) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("bwscope: " + words), std::string::npos) << r.err;
  }
  // The sweep's grid is checked as a whole, before any file is written: exit 1.
  expect_one_line_error(run_cli({"sweep", "--types", "q9", "--results", dir_.file("r.jsonl")}), "--types: unknown weight type 'q9'");
  EXPECT_FALSE(std::filesystem::exists(dir_.file("r.jsonl")));
}

}  // namespace
}  // namespace bwscope
