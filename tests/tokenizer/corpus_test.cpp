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
#include "bwscope/model/config.h"
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

// The tokenizer.json the setup script fetched into the cache under `folder` ("" when absent).
std::string cached_tokenizer(const std::string& folder) {
  fs::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) cache = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home) cache = fs::path(home) / ".cache";
  const fs::path path = cache / "bwscope" / folder / "tokenizer.json";
  return fs::exists(path) ? path.string() : std::string{};
}

// Llama 3.0's tokenizer.json and Llama 3.2's (other special-token names, the same vocabulary
// and merges, its merges written as pairs): the same ids for the same texts.
class TokenizerCorpus : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerCorpus, IdsMatchLlama3TokenizerJsAndRoundTrip) {
  const std::string node = find_on_path("node"), tokenizer_json = cached_tokenizer(GetParam());
  if (node.empty()) GTEST_SKIP() << "node is not installed (scripts/setup.sh installs it)";
  if (!fs::exists(js_tokenizer_package())) GTEST_SKIP() << "npm package llama3-tokenizer-js is not in " << js_tokenizer_package() << " (scripts/setup.sh installs it)";
  if (tokenizer_json.empty()) GTEST_SKIP() << "no " << GetParam() << "/tokenizer.json in the cache (scripts/setup.sh fetches it)";

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

INSTANTIATE_TEST_SUITE_P(CachedTokenizers, TokenizerCorpus, ::testing::Values("llama3-tokenizer", "llama3_2-tokenizer"),
                         [](const auto& info) { return info.param[6] == '_' ? std::string("llama3_2") : std::string("llama3"); });

// Llama 3.2's special tokens by the names its tokenizer.json gives them: every one of the 256
// maps to its own id with parse_special (and stays text without it), through the library and
// the CLI; and the default tokenizer synth embeds is this one, so a synthetic 3.2 model knows them.
TEST(Llama32Tokenizer, EverySpecialTokenMapsToItsIdAndSynthEmbedsThem) {
  const std::string path = cached_tokenizer("llama3_2-tokenizer");
  if (path.empty()) GTEST_SKIP() << "no llama3_2-tokenizer/tokenizer.json in the cache (scripts/setup.sh fetches it)";
  std::ifstream in(path);
  const nlohmann::json doc = nlohmann::json::parse(in);
  const Tokenizer tok(read_tokenizer_json(path));
  size_t specials = 0;
  std::string all;
  Ids all_ids;
  for (const auto& a : doc.at("added_tokens")) {
    if (!a.at("special").get<bool>()) continue;
    ++specials;
    const std::string text = a.at("content");
    const int32_t id = a.at("id");
    EXPECT_EQ(tok.encode(text, false, true), Ids{id}) << text;
    EXPECT_NE(tok.encode(text, false, false), Ids{id}) << text << " must stay text without parse_special";
    EXPECT_EQ(tok.decode(Ids{id}), text);
    all += text;
    all_ids.push_back(id);
  }
  EXPECT_EQ(specials, 256u);
  EXPECT_EQ(tok.encode(all, false, true), all_ids);
  // The names that differ from Llama 3.0's reserved ones.
  EXPECT_EQ(tok.encode("<|finetune_right_pad_id|>", false, true), Ids{128004});
  EXPECT_EQ(tok.encode("<|eom_id|>", false, true), Ids{128008});
  EXPECT_EQ(tok.encode("<|python_tag|>", false, true), Ids{128010});
  EXPECT_EQ(tok.encode("<|reserved_special_token_2|>", false, true), Ids{128005});

  const auto cli = test_support::run_cli({"tokenize", "--tokenizer", path, "--parse-special", "--text",
                                          "<|python_tag|>x<|eom_id|><|finetune_right_pad_id|>"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(nlohmann::json::parse(cli.out).get<Ids>(), (Ids{128010, tok.encode("x")[0], 128008, 128004}));

  // synth's default tokenizer, in a model with the full vocabulary (1 thin layer, so it is small).
  EXPECT_EQ(default_tokenizer_json(), path);
  test_support::TempDir dir;
  SynthOptions o;
  o.config = preset("tiny");
  o.config.n_layers = 1;
  o.config.n_vocab = 128256;
  o.type = DType::Q8_0;
  o.tokenizer_json = default_tokenizer_json();
  write_synthetic_gguf(o, dir.file("m.gguf"));
  const auto run = test_support::run_cli({"tokenize", "-m", dir.file("m.gguf"), "--parse-special", "--text", "<|python_tag|><|eom_id|>"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out).get<Ids>(), (Ids{128010, 128008}));
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
