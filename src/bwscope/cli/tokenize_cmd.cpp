// bwscope tokenize: text -> Llama 3 token ids (and back) with the tokenizer of a model file or
// a Hugging Face tokenizer.json, plus the encoding speed on the given text.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/cli/commands.h"
#include "bwscope/engine/generate.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/tokenizer.h"

namespace bwscope::cli {
namespace {

std::string read_whole_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{} {}: cannot open", flag, path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("{} {}: read error", flag, path);
  return ss.str();
}

// The tokenizer of --model (GGUF metadata, or tokenizer.json inside a Hugging Face checkpoint
// directory) or of --tokenizer (a tokenizer.json).
TokenizerData load_tokenizer_data(const std::string& model, const std::string& tokenizer_json) {
  if (!tokenizer_json.empty()) return read_tokenizer_json(tokenizer_json);
  namespace fs = std::filesystem;
  if (fs::is_directory(model) || model.ends_with(".safetensors") || model.ends_with(".json")) {
    const fs::path dir = fs::is_directory(model) ? fs::path(model) : fs::path(model).parent_path();
    const fs::path json = dir / "tokenizer.json";
    if (!fs::exists(json)) fail("{}: no tokenizer.json in {}", model, dir.string());
    return read_tokenizer_json(json.string());
  }
  auto data = read_gguf_tokenizer(gguf::File::open(model));
  if (!data) fail("{}: the file holds no tokenizer (no tokenizer.ggml.tokens)", model);
  return std::move(*data);
}

std::vector<int32_t> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    item.erase(0, item.find_first_not_of(" []"));
    item.erase(item.find_last_not_of(" []") + 1);
    if (item.empty()) continue;
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || v < 0 || v > INT32_MAX) fail("--decode: '{}' is not a token id (expected e.g. 1,2,3)", item);
    ids.push_back(int32_t(v));
  }
  return ids;
}

// --lines: the texts, one per line ('\n' ends a line; a final line without it counts too). With
// json_strings every line is a JSON string literal, so texts may hold newlines themselves.
std::vector<std::string> split_lines(const std::string& path, const std::string& content, bool json_strings) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  if (!json_strings) return lines;
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[i]);
    } catch (const nlohmann::json::exception&) {  // parse_error, or out_of_range for 1e999
      fail("--lines {}: line {} is not a JSON string", path, i + 1);
    }
    if (!j.is_string()) fail("--lines {}: line {} is not a JSON string", path, i + 1);
    lines[i] = j.get<std::string>();
  }
  return lines;
}

// Encodes all texts `repeat` times and prints the median speed with min and max on stderr.
void print_speed(const Tokenizer& tok, const std::vector<std::string>& texts, bool bos, bool special, int repeat) {
  uint64_t bytes = 0, tokens = 0;
  for (const auto& t : texts) bytes += t.size();
  std::vector<double> mb_per_s;
  for (int r = 0; r < repeat; ++r) {
    tokens = 0;
    const double t0 = monotonic_seconds();
    for (const auto& t : texts) tokens += tok.encode(t, bos, special).size();
    const double seconds = monotonic_seconds() - t0;
    mb_per_s.push_back(seconds > 0 ? double(bytes) / 1e6 / seconds : 0.0);
  }
  std::sort(mb_per_s.begin(), mb_per_s.end());
  fmt::print(stderr, "encode: {} bytes -> {} tokens ({:.2f} bytes/token); {:.2f} MB/s median of {} runs (min {:.2f}, max {:.2f})\n",
             bytes, tokens, tokens ? double(bytes) / double(tokens) : 0.0, mb_per_s[mb_per_s.size() / 2], repeat,
             mb_per_s.front(), mb_per_s.back());
}

}  // namespace

void add_tokenize(CLI::App& app) {
  struct Options {
    std::string model, tokenizer, text, file, lines, decode;
    bool text_given = false, bos = false, parse_special = false, json_strings = false, stats = false;
    int repeat = 5;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("tokenize", "Turn text into Llama 3 token ids (one JSON array) or ids back into text");
  sub->add_option("--model,-m", o->model, "model whose tokenizer to use: GGUF file, or a Hugging Face checkpoint directory");
  sub->add_option("--tokenizer", o->tokenizer, "a Hugging Face tokenizer.json (tokenizer_config.json beside it gives BOS/EOS)");
  sub->add_option("--text", o->text, "text to encode");
  sub->add_option("--file", o->file, "encode the whole content of this file");
  sub->add_option("--lines", o->lines, "encode each line of this file on its own, printing one JSON array of ids per line");
  sub->add_flag("--json-strings", o->json_strings, "with --lines: every line is a JSON string literal (texts may hold newlines)");
  sub->add_option("--decode", o->decode, "ids to turn back into text, e.g. 128000,9906 (prints the exact bytes and a newline)");
  sub->add_flag("--bos", o->bos, "prepend the BOS token (not added by default)");
  sub->add_flag("--parse-special", o->parse_special, "control tokens written in the text (<|eot_id|>) become their ids");
  sub->add_flag("--stats", o->stats, "print the encoding speed (MB/s, median of --repeat runs) on stderr");
  sub->add_option("--repeat", o->repeat, "runs timed for --stats")->capture_default_str()->check(whole_range(1, 1000));
  sub->callback([o, sub] {
    o->text_given = sub->count("--text") > 0;
    if (o->model.empty() == o->tokenizer.empty()) fail("give exactly one of --model or --tokenizer");
    const int inputs = int(o->text_given) + int(!o->file.empty()) + int(!o->lines.empty()) + int(!o->decode.empty());
    if (inputs != 1) fail("give exactly one of --text, --file, --lines or --decode");
    if (o->json_strings && o->lines.empty()) fail("--json-strings only applies to --lines");
    const Tokenizer tok(load_tokenizer_data(o->model, o->tokenizer));

    if (!o->decode.empty()) {
      const std::string text = tok.decode(parse_id_list(o->decode));
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fputc('\n', stdout);
      return;
    }
    std::vector<std::string> texts;
    if (o->text_given) texts.push_back(o->text);
    else if (!o->file.empty()) texts.push_back(read_whole_file("--file", o->file));
    else texts = split_lines(o->lines, read_whole_file("--lines", o->lines), o->json_strings);

    std::string out;
    for (const auto& t : texts) out += fmt::format("[{}]\n", fmt::join(tok.encode(t, o->bos, o->parse_special), ","));
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (o->stats) print_speed(tok, texts, o->bos, o->parse_special, o->repeat);
  });
}

}  // namespace bwscope::cli
