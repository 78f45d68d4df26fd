// The CLI around Hugging Face checkpoints and chat: synth --format safetensors, convert, generate
// on a checkpoint directory, generate --system (one turn) and --chat (stdin lines).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bwscope/model/synth.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

namespace fs = std::filesystem;
using test_support::run_cli;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(HfCli, SynthSafetensorsConvertAndGenerateGiveTheSameLogits) {
  test_support::TempDir dir;
  const std::string hf = dir.file("hf"), gguf = dir.file("converted.gguf");
  auto r = run_cli({"synth", "--preset", "tiny", "--type", "f32", "--format", "safetensors", "--out", hf, "--seed", "9"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(hf + "/config.json"));
  EXPECT_TRUE(fs::exists(hf + "/model.safetensors"));
  r = run_cli({"convert", hf, gguf});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& model : {hf, gguf}) {
    r = run_cli({"generate", model, "--tokens", "1,2,3,4", "-n", "2", "-t", "1", "--kv-type", "f32", "--dump-logits", model + ".f32"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string a = slurp(hf + ".f32"), b = slurp(gguf + ".f32");
  EXPECT_EQ(a.size(), 4u * 512 * 4);
  EXPECT_EQ(a, b);
  r = run_cli({"info", gguf, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rope_freqs_tensor"], true);
}

// info takes a checkpoint directory as generate does: the same shape, parameters and weight
// bytes as the GGUF convert makes of it, and says it is a checkpoint (no GGUF metadata).
TEST(HfCli, InfoOnACheckpointDirectoryAgreesWithItsConvertedGguf) {
  test_support::TempDir dir;
  const std::string hf = dir.file("hf"), gguf = dir.file("m.gguf");
  ASSERT_EQ(run_cli({"synth", "--preset", "tiny", "--type", "bf16", "--format", "safetensors", "--out", hf}).exit_code, 0);
  ASSERT_EQ(run_cli({"convert", hf, gguf}).exit_code, 0);
  const auto a = run_cli({"info", hf, "--json"}), b = run_cli({"info", gguf, "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(ja["format"], "hf");
  EXPECT_EQ(jb["format"], "gguf");
  for (const char* key : {"n_params", "n_layers", "n_embd", "n_ff", "n_head", "n_kv_head", "n_vocab", "n_ctx_train",
                          "tied_embeddings", "weight_bytes"})
    EXPECT_EQ(ja[key], jb[key]) << key;
  // The matrices' bytes; the GGUF also stores rope_freqs.weight (f32), which a checkpoint derives from config.json.
  EXPECT_EQ(ja["bytes_by_type"]["bf16"], jb["bytes_by_type"]["bf16"]);
  EXPECT_EQ(ja["memory"]["kv_bytes_per_instance"], jb["memory"]["kv_bytes_per_instance"]);
  EXPECT_TRUE(ja["gguf_version"].is_null());
  const auto text = run_cli({"info", hf});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Hugging Face checkpoint"), std::string::npos) << text.out;
}

TEST(HfCli, BadCheckpointsGetOneLineAndNoOutputFile) {
  test_support::TempDir dir;
  const std::string hf = dir.file("hf"), out = dir.file("out.gguf");
  ASSERT_EQ(run_cli({"synth", "--preset", "tiny", "--type", "f32", "--format", "safetensors", "--out", hf}).exit_code, 0);
  {  // cut the weights file short
    const auto size = fs::file_size(hf + "/model.safetensors");
    fs::resize_file(hf + "/model.safetensors", size - 100);
  }
  auto r = run_cli({"convert", hf, out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.safetensors: tensor"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("past the end of the file"), std::string::npos) << r.err;
  EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
  r = run_cli({"synth", "--preset", "tiny", "--type", "q8_0", "--format", "safetensors", "--out", dir.file("q")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("f32, f16 or bf16"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("q")));
  r = run_cli({"synth", "--preset", "tiny", "--type", "f32", "--format", "safetensors", "--out", hf});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
}

// A model small enough for a test but with the real Llama 3 vocabulary (and tokenizer).
class ChatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string tokenizer = default_tokenizer_json();
    if (tokenizer.empty()) GTEST_SKIP() << "no Llama 3 tokenizer.json in the cache (scripts/setup.sh fetches it)";
    SynthOptions o;
    o.config = preset("tiny");
    o.config.n_vocab = 128256;
    o.type = DType::BF16;
    o.tokenizer_json = tokenizer;
    o.threads = 1;
    model_ = dir_.file("chat.gguf");
    write_synthetic_gguf(o, model_);
  }
  test_support::TempDir dir_;
  std::string model_;
};

TEST_F(ChatCli, SystemAndPromptMakeOneLlama3Turn) {
  auto r = run_cli({"generate", model_, "--system", "Be brief.", "--prompt", "Hi", "-n", "3", "-t", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ids = nlohmann::json::parse(r.out)["prompt_ids"].get<std::vector<int32_t>>();
  // <|begin_of_text|> system header "Be brief." <|eot_id|> user header "Hi" <|eot_id|> assistant header
  const std::vector<int32_t> want{128000, 128006, 9125, 128007, 271, 3513, 10015, 13, 128009,
                                  128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271};
  EXPECT_EQ(ids, want);
}

TEST_F(ChatCli, ChatReadsOneMessagePerLine) {
  std::ofstream(dir_.file("in.txt")) << "Hello\n\nHow are you?\n";
  const std::string command = std::string("'") + BWSCOPE_CLI_PATH + "' generate '" + model_ + "' --chat -n 4 -t 1 --system 'Be brief.' < '" +
                              dir_.file("in.txt") + "' > '" + dir_.file("out.txt") + "' 2> '" + dir_.file("err.txt") + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << slurp(dir_.file("err.txt"));
  const std::string err = slurp(dir_.file("err.txt"));
  EXPECT_EQ(test_support::count_lines(err), 2) << err;  // one line per turn: the blank line is no turn
  EXPECT_NE(err.find("prompt tokens"), std::string::npos) << err;
  EXPECT_EQ(test_support::count_lines(slurp(dir_.file("out.txt"))) >= 2, true);
}

}  // namespace
}  // namespace bwscope
