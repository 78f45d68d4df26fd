// The Llama 3 instruct chat format: exact ids of the documented template (checked against
// llama3-tokenizer-js on the rendered text), trimming, typed special tokens staying text, and a
// multi-turn chat session that keeps its KV cache between turns.
#include "bwscope/model/chat.h"

#include <gtest/gtest.h>

#include <set>

#include "bwscope/base/error.h"
#include "bwscope/engine/chat_session.h"
#include "bwscope/engine/generate.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/model/synth.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using Ids = std::vector<int32_t>;

class Llama3Chat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = default_tokenizer_json();
    if (!path.empty()) tok_ = new Tokenizer(read_tokenizer_json(path));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "no Llama 3 tokenizer.json in the cache (scripts/setup.sh fetches it)";
  }
  static const Tokenizer* tok_;
};
const Tokenizer* Llama3Chat::tok_ = nullptr;

TEST_F(Llama3Chat, DialogGivesTheDocumentedTemplateIds) {
  const Llama3ChatFormat format(*tok_);
  const std::vector<ChatMessage> dialog{{"system", "You are a helpful assistant."}, {"user", "What is memory bandwidth?"}};
  // <|begin_of_text|> <|start_header_id|> system <|end_header_id|> \n\n ... <|eot_id|>, as
  // llama3-tokenizer-js encodes the rendered template text.
  const Ids want{128000, 128006, 9125, 128007, 271, 2675, 527, 264, 11190, 18328, 13, 128009,
                 128006, 882, 128007, 271, 3923, 374, 5044, 34494, 30, 128009, 128006, 78191, 128007, 271};
  EXPECT_EQ(format.dialog(dialog, true), want);
  EXPECT_EQ(tok_->encode(llama3_chat_text(dialog, true), false, true), want);
  EXPECT_EQ(llama3_chat_text(dialog, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is memory bandwidth?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(format.message({"user", "Hi there"}), (Ids{128006, 882, 128007, 271, 13347, 1070, 128009}));
  EXPECT_EQ(format.dialog(dialog, false, false), Ids(want.begin() + 1, want.end() - 4));
}

TEST_F(Llama3Chat, ContentIsTrimmedAndTypedSpecialTokensStayText) {
  const Llama3ChatFormat format(*tok_);
  EXPECT_EQ(format.message({"user", "  \n Hi there \n"}), format.message({"user", "Hi there"}));
  const Ids ids = format.message({"user", "a<|eot_id|>b"});
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 128009), 1);  // only the real end of turn
  EXPECT_EQ(ids.back(), 128009);
  EXPECT_EQ(tok_->decode(ids), "<|start_header_id|>user<|end_header_id|>\n\na<|eot_id|>b<|eot_id|>");
}

TEST_F(Llama3Chat, StopsOnEndOfTurnAndEndOfText) {
  const Llama3ChatFormat format(*tok_);
  EXPECT_EQ(format.eot_id(), 128009);
  const auto& stop = format.stop_ids();
  EXPECT_NE(std::find(stop.begin(), stop.end(), 128009), stop.end());
  EXPECT_NE(std::find(stop.begin(), stop.end(), 128001), stop.end());
  // Llama 3.2's <|eom_id|>; Llama 3.0's tokenizer has a reserved token at that id instead.
  EXPECT_EQ(std::find(stop.begin(), stop.end(), 128008) != stop.end(), tok_->find("<|eom_id|>").has_value());
  EXPECT_EQ(std::set<int32_t>(stop.begin(), stop.end()).size(), stop.size());  // no id twice
}

TEST(Llama3ChatFormat, RefusesAVocabularyWithoutHeaderTokens) {
  TokenizerData d = byte_level_tokenizer(512);  // has <|eot_id|> but no header tokens
  const Tokenizer tok(d);
  try {
    Llama3ChatFormat format(tok);
    ADD_FAILURE() << "accepted a vocabulary without <|start_header_id|>";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<|start_header_id|>"), std::string::npos) << e.what();
  }
}

// A tiny model whose stand-in vocabulary gets the two header tokens, so the chat session runs.
TEST(ChatSession, TurnsContinueTheSameKvCacheAsOnePrompt) {
  test_support::TempDir dir;
  SynthOptions o;
  o.config = preset("tiny");
  o.type = DType::F32;
  o.threads = 1;
  write_synthetic_gguf(o, dir.file("m.gguf"));
  LlamaModel model = load_llama(dir.file("m.gguf"));
  TokenizerData data = *model.tokenizer;
  data.tokens[300] = "<|start_header_id|>";
  data.tokens[301] = "<|end_header_id|>";
  const Tokenizer tok(data);
  EngineOptions eo;
  eo.threads = 1;
  eo.n_ctx = 256;
  eo.kv_type = DType::F32;
  Engine engine(model, eo);
  Sampler sampler({0.0f, 0, 1.0f, 1});
  ChatSession chat(engine, tok, sampler, "Be brief.");
  const ChatReply first = chat.reply("Hi", 6);
  ASSERT_TRUE(first.ended_turn || first.tokens.size() == 6u);
  const Llama3ChatFormat format(tok);
  const Ids prompt1 = format.dialog(std::vector<ChatMessage>{{"system", "Be brief."}, {"user", "Hi"}}, true);
  EXPECT_EQ(first.n_prompt, int64_t(prompt1.size()));
  // The second turn samples at temperature 1, so its tokens follow the logits closely.
  sampler = Sampler({1.0f, 0, 1.0f, 7});
  const ChatReply second = chat.reply("More", 8);
  // It fed the end of the first reply, then the user turn and the assistant header.
  const Ids turn2 = format.message({"user", "More"});
  const Ids header = format.header("assistant");
  EXPECT_EQ(second.n_prompt, int64_t((first.ended_turn ? 1 : 2) + turn2.size() + header.size()));

  // One prompt holding the whole conversation, on a fresh engine, gives the same second reply.
  Ids whole = prompt1;
  whole.insert(whole.end(), first.tokens.begin(), first.tokens.end());
  whole.push_back(format.eot_id());
  whole.insert(whole.end(), turn2.begin(), turn2.end());
  whole.insert(whole.end(), header.begin(), header.end());
  Engine fresh(model, eo);
  Sampler same({1.0f, 0, 1.0f, 7});
  GenerateOptions go;
  go.n_gen = 8;
  go.stop_ids = format.stop_ids();
  Ids want = generate(fresh, whole, go, same).tokens;
  if (!want.empty() && std::find(go.stop_ids.begin(), go.stop_ids.end(), want.back()) != go.stop_ids.end()) want.pop_back();
  EXPECT_EQ(second.tokens, want);
  EXPECT_GE(std::set<int32_t>(want.begin(), want.end()).size(), 2u);  // varied tokens: the check can fail
  EXPECT_THROW(chat.reply(std::string(300, 'x'), 4), Error);  // past the context: a clear error
}

}  // namespace
}  // namespace bwscope
