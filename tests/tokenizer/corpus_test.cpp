// bwscope's Llama 3 tokenizer against llama3-tokenizer-js (npm), an independent implementation:
// tests/tokenizer/make_corpus.mjs writes a few thousand varied texts and the ids the JS tokenizer
// gives them; `bwscope tokenize --lines` must give the same ids, and decoding them must give
// back each text byte for byte. Where llama3-tokenizer-js departs from Hugging Face's semantics
// (its \s), the texts leave those characters out and the HF behaviour is pinned here instead.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "bwscope/format/tokenizer_json.h"
#include "bwscope/model/synth.h"
#include "bwscope/model/tokenizer.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return {};
  std::string dirs = path;
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / program;
    if (!candidate.parent_path().empty() && fs::exists(candidate)) return candidate.string();
    start = end + 1;
  }
  return {};
}

fs::path js_tokenizer_package() {
  if (const char* m = std::getenv("BWSCOPE_NODE_MODULES"); m && *m) return fs::path(m) / "llama3-tokenizer-js";
  fs::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) cache = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home) cache = fs::path(home) / ".cache";
  return cache / "bwscope" / "node" / "node_modules" / "llama3-tokenizer-js";
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(TokenizerCorpus, IdsMatchLlama3TokenizerJsAndRoundTrip) {
  const std::string node = find_on_path("node"), tokenizer_json = default_tokenizer_json();
  if (node.empty()) GTEST_SKIP() << "node is not installed (scripts/setup.sh installs it)";
  if (!fs::exists(js_tokenizer_package())) GTEST_SKIP() << "npm package llama3-tokenizer-js is not in " << js_tokenizer_package() << " (scripts/setup.sh installs it)";
  if (tokenizer_json.empty()) GTEST_SKIP() << "no Llama 3 tokenizer.json in the cache (scripts/setup.sh fetches it)";

  test_support::TempDir dir;
  const std::string script = std::string(BWSCOPE_SOURCE_DIR) + "/tests/tokenizer/make_corpus.mjs";
  const std::string command = "'" + node + "' '" + script + "' '" + dir.path().string() + "' 200 12345 > '" + dir.file("node.log") + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "make_corpus.mjs failed: " << command;
  const std::vector<std::string> corpus = read_lines(dir.file("corpus.jsonl"));
  const std::vector<std::string> reference = read_lines(dir.file("reference.jsonl"));
  ASSERT_GE(corpus.size(), 2000u);
  ASSERT_EQ(corpus.size(), reference.size());

  const auto r = test_support::run_cli({"tokenize", "--tokenizer", tokenizer_json, "--lines", dir.file("corpus.jsonl"),
                                        "--json-strings", "--parse-special"}, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> ours;
  for (size_t start = 0; start < r.out.size();) {
    const size_t end = r.out.find('\n', start);
    ours.push_back(r.out.substr(start, end - start));
    start = end == std::string::npos ? r.out.size() : end + 1;
  }
  ASSERT_EQ(ours.size(), corpus.size());

  const Tokenizer tok(read_tokenizer_json(tokenizer_json));
  size_t same_ids = 0, round_trips = 0, reported = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::string text = nlohmann::json::parse(corpus[i]).get<std::string>();
    const Ids want = nlohmann::json::parse(reference[i]).get<Ids>();
    const Ids got = nlohmann::json::parse(ours[i]).get<Ids>();
    if (got == want) ++same_ids;
    else if (reported++ < 10) ADD_FAILURE() << "text " << i << " " << corpus[i] << "\n  llama3-tokenizer-js " << reference[i] << "\n  bwscope             " << ours[i];
    if (tok.decode(got) == text) ++round_trips;
    else ADD_FAILURE() << "decode(encode(s)) != s for text " << i << " " << corpus[i];
  }
  EXPECT_EQ(same_ids, corpus.size());
  EXPECT_EQ(round_trips, corpus.size());
  std::printf("tokenizer corpus: %zu / %zu texts with identical ids, %zu round trips\n", same_ids, corpus.size(), round_trips);
}

class TokenizerHfWhitespace : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = default_tokenizer_json();
    if (path.empty()) GTEST_SKIP() << "no Llama 3 tokenizer.json in the cache (scripts/setup.sh fetches it)";
    tok_.emplace(read_tokenizer_json(path));
  }
  Ids join(std::initializer_list<const char*> pieces) const {
    Ids ids;
    for (const char* p : pieces) {
      const Ids part = tok_->encode(p);
      EXPECT_FALSE(part.empty()) << p;
      ids.insert(ids.end(), part.begin(), part.end());
    }
    return ids;
  }
  std::optional<Tokenizer> tok_;
};

// The split regex's \s is Unicode White_Space in Hugging Face tokenizers (Oniguruma) and tiktoken:
// NEL (U+0085) is a space there (JavaScript's \s says no), the BOM (U+FEFF) is not (JS says yes).
TEST_F(TokenizerHfWhitespace, NelIsWhitespace) {
  // "\t\t\x85" is one run of spaces: \s+(?!\S) takes "\t\t" and leaves NEL to prefix the word
  // ("\t" | "\t" | "\x85dog" if NEL were not a space).
  EXPECT_EQ(tok_->encode("\t\t\u0085dog"), join({"\t\t", "\u0085dog"}));
  EXPECT_NE(tok_->encode("\t\t\u0085dog"), join({"\t", "\t", "\u0085dog"}));
}

TEST_F(TokenizerHfWhitespace, BomIsNotWhitespace) {
  // " \xEF\xBB\xBF" is punctuation with its leading space (" ?[^\s\p{L}\p{N}]+"), then the word;
  // were the BOM a space, "  " would be a run and the BOM would prefix the word.
  EXPECT_EQ(tok_->encode("a  \ufeffword"), join({"a", " ", " \ufeff", "word"}));
  EXPECT_NE(tok_->encode("a  \ufeffword"), join({"a", "  ", "\ufeffword"}));
}

}  // namespace
}  // namespace bwscope
