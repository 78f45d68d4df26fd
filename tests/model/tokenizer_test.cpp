// The byte-level BPE tokenizer: exact ids on a hand-made vocabulary (merge order, pre-token
// boundaries, special tokens), validation, round trips, and — when the setup script has fetched
// it — ids on the real Llama 3 tokenizer checked against Hugging Face tokenizers and
// llama3-tokenizer-js.
#include "bwscope/model/tokenizer.h"

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "bwscope/base/error.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/model/synth.h"

namespace bwscope {
namespace {

using Ids = std::vector<int32_t>;

// Ids 0..255 are the bytes (id == byte value), then one token per merge, in rank order:
//   256 Ġt  257 he  258 Ġthe  259 bc  260 ab  261 aa  262 N'  263 Tx  264 'T  265 12  266 34
//   267 ĠĠ  268 ĊĊ
// then 269 "xyz" (no merge makes it), 270 "<|eot|>" control, 271 "<tag>" user-defined,
// 272 "<|eot|>x" control, 273 "<|bos|>" control (bos).
// "N '", "T x" and "Ġ Ġ" would merge across pre-token boundaries if the pre-tokenizer put
// them wrongly, so the ids below show where the boundaries fell.
TokenizerData hand_vocab(const std::string& pre = "llama-bpe") {
  TokenizerData d;
  for (int b = 0; b < 256; ++b) d.tokens.push_back(byte_to_token_text(uint8_t(b)));
  d.token_types.assign(256, 1);
  for (const char* m : {"Ġ t", "h e", "Ġt he", "b c", "a b", "a a", "N '", "T x", "' T", "1 2", "3 4", "Ġ Ġ", "Ċ Ċ"}) {
    const std::string merge = m;
    const size_t space = merge.find(' ');
    d.merges.push_back(merge);
    d.tokens.push_back(merge.substr(0, space) + merge.substr(space + 1));
    d.token_types.push_back(1);
  }
  for (auto [text, type] : {std::pair{"xyz", 1}, {"<|eot|>", 3}, {"<tag>", 4}, {"<|eot|>x", 3}, {"<|bos|>", 3}}) {
    d.tokens.push_back(text);
    d.token_types.push_back(type);
  }
  d.bos_id = 273;
  d.eos_id = 270;
  d.pre = pre;
  return d;
}

TEST(Tokenizer, ByteToTokenTextIsGpt2Mapping) {
  EXPECT_EQ(byte_to_token_text(' '), "Ġ");
  EXPECT_EQ(byte_to_token_text('\n'), "Ċ");
  EXPECT_EQ(byte_to_token_text('a'), "a");
  EXPECT_EQ(byte_to_token_text(0x00), "Ā");  // U+0100
  EXPECT_EQ(byte_to_token_text(0xad), "Ń");  // U+0143, the last moved byte
  EXPECT_EQ(byte_to_token_text(0xe9), "é");  // printable Latin-1 stands for itself
  for (int b = 0; b < 256; ++b) EXPECT_EQ(token_text_to_bytes(byte_to_token_text(uint8_t(b))), std::string(1, char(b)));
  EXPECT_EQ(token_text_to_bytes("ĠtheĊ"), " the\n");
  EXPECT_FALSE(token_text_to_bytes("<|€|>").has_value());  // € is not in the mapping
}

TEST(Tokenizer, MergesLowestRankFirstNotLeftmostFirst) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.encode("abc"), (Ids{97, 259}));  // "b c" (rank 3) before "a b" (rank 4)
  EXPECT_EQ(tok.encode("ab"), (Ids{260}));
}

TEST(Tokenizer, EqualRanksMergeLeftmostFirst) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.encode("aaa"), (Ids{261, 97}));
  EXPECT_EQ(tok.encode("aaaa"), (Ids{261, 261}));
  EXPECT_EQ(tok.encode("aaaaa"), (Ids{261, 261, 97}));
}

TEST(Tokenizer, ChainedMergesBuildLongerTokens) {
  const Tokenizer tok(hand_vocab("gpt2"));  // no whole-piece shortcut: the merges must get there
  EXPECT_EQ(tok.encode(" the"), (Ids{258}));
  EXPECT_EQ(tok.encode("the the"), (Ids{116, 257, 258}));
}

TEST(Tokenizer, Llama3TakesAWholePieceThatIsAToken) {
  // HF "ignore_merges": true / tiktoken: "xyz" is in the vocabulary though no merge makes it.
  EXPECT_EQ(Tokenizer(hand_vocab()).encode("xyz"), (Ids{269}));
  EXPECT_EQ(Tokenizer(hand_vocab("gpt2")).encode("xyz"), (Ids{120, 121, 122}));
}

TEST(Tokenizer, PreTokenizerSplitsContractionsCaseInsensitively) {
  const Tokenizer tok(hand_vocab());
  // "DON" | "'T" | "x": neither "N '" nor "T x" may merge; "'T" is whole.
  EXPECT_EQ(tok.encode("DON'Tx"), (Ids{'D', 'O', 'N', 264, 'x'}));
}

TEST(Tokenizer, PreTokenizerSplitsNumbersInThrees) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.encode("12345"), (Ids{265, '3', '4', '5'}));  // "123" | "45": "3 4" must not merge
  EXPECT_EQ(tok.encode("x1234"), (Ids{'x', 265, '3', '4'}));
}

TEST(Tokenizer, PreTokenizerKeepsTheLastSpaceWithTheNextWord) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.encode("a  b"), (Ids{'a', ' ', ' ', 'b'}));      // "a" | " " | " b"
  EXPECT_EQ(tok.encode("a   b"), (Ids{'a', 267, ' ', 'b'}));     // "a" | "  " | " b"
  EXPECT_EQ(tok.encode("a \n\nb"), (Ids{'a', ' ', 268, 'b'}));   // "a" | " \n\n" | "b"
  EXPECT_EQ(tok.encode("a  "), (Ids{'a', 267}));                 // trailing spaces stay together
}

TEST(Tokenizer, SpecialTokensNeedParseSpecialButUserDefinedAlwaysMatch) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.encode("<|eot|>", false, true), (Ids{270}));
  const Ids plain = tok.encode("<|eot|>");
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 270), plain.end());
  EXPECT_EQ(tok.decode(plain), "<|eot|>");
  EXPECT_EQ(tok.encode("a<tag>b"), (Ids{'a', 271, 'b'}));
  EXPECT_EQ(tok.encode("a<tag>b", false, true), (Ids{'a', 271, 'b'}));
}

TEST(Tokenizer, SpecialTokensMatchLongestFirst) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.encode("<|eot|>xy<|eot|>", false, true), (Ids{272, 'y', 270}));
}

TEST(Tokenizer, AddBosPrependsBosAndFailsWithoutOne) {
  EXPECT_EQ(Tokenizer(hand_vocab()).encode("a", true), (Ids{273, 'a'}));
  TokenizerData d = hand_vocab();
  d.bos_id = -1;
  EXPECT_THROW(Tokenizer(d).encode("a", true), Error);
}

TEST(Tokenizer, DecodeGivesExactBytesAndSpecialText) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.decode(Ids{273, 'a', 258, 268, 270}), "<|bos|>a the\n\n<|eot|>");
  EXPECT_EQ(tok.token_bytes(' '), " ");
  EXPECT_EQ(tok.token_bytes(271), "<tag>");
  EXPECT_THROW(tok.token_bytes(274), Error);
  EXPECT_THROW(tok.decode(Ids{-1}), Error);
}

TEST(Tokenizer, FindLooksUpByteLevelText) {
  const Tokenizer tok(hand_vocab());
  EXPECT_EQ(tok.find("Ġthe"), 258);
  EXPECT_EQ(tok.find("<|eot|>"), 270);
  EXPECT_FALSE(tok.find(" the").has_value());
  EXPECT_EQ(tok.n_vocab(), 274);
  EXPECT_EQ(tok.bos_id(), 273);
  EXPECT_EQ(tok.eos_id(), 270);
  EXPECT_EQ(tok.eot_id(), -1);
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = char(rng() & 0xff);
  return s;
}

TEST(Tokenizer, AnyBytesRoundTripIncludingInvalidUtf8) {
  const Tokenizer tok(hand_vocab());
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    const std::string s = random_bytes(rng, rng() % 64);
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
    EXPECT_EQ(tok.decode(tok.encode(s, false, true)), s);
  }
  for (const char* s : {"\xff", "a\xc3", "\xe4\xb8", "ab\x80\x80 cd", "\xed\xa0\x80", "x\xf4\x90\x80\x80y", "1\xc0\xaf 2"})
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
}

TEST(Tokenizer, EncodeIsThreadSafe) {
  const Tokenizer tok(hand_vocab());
  const std::string text = "the the abc aaaa DON'Tx 12345 a \n\nb <tag> xyz ";
  const Ids want = tok.encode(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) ok[size_t(t)] += tok.encode(text) == want;
    });
  for (auto& th : threads) th.join();
  for (int n : ok) EXPECT_EQ(n, 200);
}

void expect_rejected(const TokenizerData& d, const std::string& must_contain) {
  try {
    Tokenizer tok(d);
    ADD_FAILURE() << "accepted; expected an error containing '" << must_contain << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(must_contain), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, RejectsInconsistentData) {
  TokenizerData d = hand_vocab();
  d.merges.push_back("a zz");
  expect_rejected(d, "'zz'");
  d = hand_vocab();
  d.merges.push_back("x y");  // "xy" is not a token
  expect_rejected(d, "makes 'xy'");
  d = hand_vocab();
  d.merges.push_back("ab");
  expect_rejected(d, "separated by one space");
  d = hand_vocab();
  d.token_types.pop_back();
  expect_rejected(d, "token types");
  d = hand_vocab();
  d.eos_id = 274;
  expect_rejected(d, "eos id 274");
  d = hand_vocab();
  d.pre = "qwen2";
  expect_rejected(d, "'qwen2'");
  d = hand_vocab();
  d.tokens['q'] = "<|not_q|>";
  expect_rejected(d, "byte 0x71");
  expect_rejected(TokenizerData{}, "empty");
}

TEST(Tokenizer, ByteLevelStandInPlacesSpecialsAsLlama3) {
  const TokenizerData d = byte_level_tokenizer(128256);
  EXPECT_EQ(d.tokens.size(), 128256u);
  EXPECT_EQ(d.bos_id, 128000);
  EXPECT_EQ(d.eos_id, 128001);
  EXPECT_EQ(d.eot_id, 128009);
  EXPECT_EQ(d.tokens[128009], "<|eot_id|>");
  EXPECT_EQ(d.tokens[300], "<|filler_300|>");
  EXPECT_EQ(d.token_types[300], 3);
  const TokenizerData small = byte_level_tokenizer(300);
  EXPECT_EQ(small.bos_id, 256);
  EXPECT_EQ(small.eos_id, 257);
  EXPECT_EQ(small.eot_id, 258);
  EXPECT_THROW(byte_level_tokenizer(258), Error);

  const Tokenizer tok(byte_level_tokenizer(512));
  EXPECT_EQ(tok.bos_id(), 256);
  EXPECT_EQ(tok.eot_id(), 265);
  EXPECT_EQ(tok.encode("hi", true), (Ids{256, 'h', 'i'}));
  EXPECT_EQ(tok.encode("<|eot_id|>", false, true), (Ids{265}));
  std::mt19937 rng(3);
  for (int i = 0; i < 50; ++i) {
    const std::string s = random_bytes(rng, rng() % 100);
    const Ids ids = tok.encode(s);
    EXPECT_EQ(ids.size(), s.size());  // no merges: one token per byte
    EXPECT_EQ(tok.decode(ids), s);
  }
}

// ---- the real Llama 3 tokenizer, when the setup script has fetched it ----

class TokenizerLlama3 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = default_tokenizer_json();
    if (!path.empty()) tok_ = new Tokenizer(read_tokenizer_json(path));
    llama32_ = path.find("/llama3_2-tokenizer/") != std::string::npos;
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "no Llama 3 tokenizer.json in the cache (scripts/setup.sh fetches it)";
  }
  static const Tokenizer* tok_;
  static bool llama32_;  // Llama 3.2's tokenizer.json (setup fetches both; synth prefers 3.2's)
};
const Tokenizer* TokenizerLlama3::tok_ = nullptr;
bool TokenizerLlama3::llama32_ = false;

TEST_F(TokenizerLlama3, MatchesHuggingFaceIds) {
  // Expected ids from Hugging Face tokenizers (Rust) and llama3-tokenizer-js, which agree here.
  const std::vector<std::pair<std::string, Ids>> cases = {
      {"Hello world! DON'T don't I'LL 12345", {9906, 1917, 0, 45373, 17773, 1541, 956, 358, 6, 4178, 220, 4513, 1774}},
      {"我们今天去公园散步，天气非常好。", {98739, 110916, 86436, 35417, 106143, 107471, 65782, 3922, 36827, 102146, 108008, 53901, 1811}},
      {"日本語のテキストです。", {102433, 102158, 16144, 57933, 62903, 71634, 38641, 1811}},
      {"مرحبا بالعالم", {101244, 30925, 103645, 100700, 24102, 101952}},
      {"emoji 😀 👍🏽 👨‍👩‍👧‍👦", {38623, 91416, 62904, 235, 9468, 237, 121, 62904, 101, 102470, 9468, 239, 102, 102470, 9468, 239, 100, 102470, 9468, 239, 99}},
      {"def foo(x):\n    return x * 2\n", {755, 15586, 2120, 997, 262, 471, 865, 353, 220, 17, 198}},
      {"1234567 3.14159", {4513, 10961, 22, 220, 18, 13, 9335, 2946}},
      {"tabs\tand  \n\n\n spaces   ", {32093, 53577, 80326, 12908, 262}},
      {"We'RE they've She'd it's", {1687, 95253, 814, 3077, 3005, 4265, 433, 596}},
      {"naïve café", {3458, 38672, 588, 53050}},
  };
  for (const auto& [text, ids] : cases) EXPECT_EQ(tok_->encode(text), ids) << text;
}

TEST_F(TokenizerLlama3, ParsesChatTemplateSpecialTokens) {
  EXPECT_EQ(tok_->bos_id(), 128000);
  // tokenizer_config.json's eos_token: <|end_of_text|> in 3.0's, <|eot_id|> in 3.2's.
  EXPECT_EQ(tok_->eos_id(), llama32_ ? 128009 : 128001);
  EXPECT_EQ(tok_->eot_id(), 128009);
  EXPECT_EQ(tok_->n_vocab(), 128256);
  const std::string chat = "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>";
  EXPECT_EQ(tok_->encode(chat, true, true), (Ids{128000, 128006, 882, 128007, 271, 9906, 128009}));
  const Ids plain = tok_->encode(chat);
  EXPECT_EQ(std::count_if(plain.begin(), plain.end(), [](int32_t id) { return id >= 128000; }), 0);
  EXPECT_EQ(tok_->decode(plain), chat);
  EXPECT_EQ(tok_->decode(Ids{128000, 9906}), "<|begin_of_text|>Hello");
}

// Random valid UTF-8 drawn from ASCII, whitespace, Latin, CJK and emoji.
std::string random_utf8(std::mt19937& rng, size_t n_chars) {
  static const char32_t ranges[][2] = {{0x20, 0x7e}, {0x09, 0x0d}, {0x20, 0x20}, {0xa0, 0x24f}, {0x400, 0x4ff},
                                       {0x600, 0x6ff}, {0x3040, 0x30ff}, {0x4e00, 0x9fff}, {0x1f300, 0x1f64f}};
  std::string s;
  for (size_t i = 0; i < n_chars; ++i) {
    const auto& r = ranges[rng() % std::size(ranges)];
    const char32_t c = r[0] + char32_t(rng() % (r[1] - r[0] + 1));
    if (c < 0x80) {
      s += char(c);
    } else if (c < 0x800) {
      s += char(0xc0 | (c >> 6)), s += char(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      s += char(0xe0 | (c >> 12)), s += char(0x80 | ((c >> 6) & 0x3f)), s += char(0x80 | (c & 0x3f));
    } else {
      s += char(0xf0 | (c >> 18)), s += char(0x80 | ((c >> 12) & 0x3f)), s += char(0x80 | ((c >> 6) & 0x3f));
      s += char(0x80 | (c & 0x3f));
    }
  }
  return s;
}

TEST_F(TokenizerLlama3, RoundTripsRandomTextAndBytes) {
  std::mt19937 rng(11);
  for (int i = 0; i < 500; ++i) {
    const std::string s = random_utf8(rng, rng() % 80);
    EXPECT_EQ(tok_->decode(tok_->encode(s)), s);
  }
  for (int i = 0; i < 500; ++i) {
    const std::string s = random_bytes(rng, rng() % 80);
    EXPECT_EQ(tok_->decode(tok_->encode(s, false, true)), s);
  }
}

}  // namespace
}  // namespace bwscope
