#include "bwscope/model/chat.h"

#include <algorithm>

#include "bwscope/base/error.h"

namespace bwscope {
namespace {

std::string_view trim(std::string_view s) {
  // Python's str.strip() / Jinja's trim: ASCII whitespace at both ends.
  constexpr std::string_view ws = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(ws);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(ws) - begin + 1);
}

}  // namespace

Llama3ChatFormat::Llama3ChatFormat(const Tokenizer& tokenizer) : tok_(tokenizer) {
  auto special = [&](const char* text) {
    const auto id = tok_.find(text);
    if (!id) fail("tokenizer: no {} token: not a Llama 3 instruct vocabulary, so no chat format", text);
    return *id;
  };
  start_header_ = special("<|start_header_id|>");
  end_header_ = special("<|end_header_id|>");
  eot_ = tok_.eot_id() >= 0 ? tok_.eot_id() : special("<|eot_id|>");
  stop_.push_back(eot_);
  if (tok_.eos_id() >= 0 && tok_.eos_id() != eot_) stop_.push_back(tok_.eos_id());
  // Llama 3.1+'s tokenizer_config names <|eot_id|> as EOS; its generation config still stops on
  // <|end_of_text|> and on <|eom_id|> (the end of a tool-call message).
  for (const char* name : {"<|end_of_text|>", "<|eom_id|>"})
    if (const auto id = tok_.find(name); id && std::find(stop_.begin(), stop_.end(), *id) == stop_.end()) stop_.push_back(*id);
}

std::vector<int32_t> Llama3ChatFormat::header(const std::string& role) const {
  std::vector<int32_t> ids{start_header_};
  const auto r = tok_.encode(role);
  ids.insert(ids.end(), r.begin(), r.end());
  ids.push_back(end_header_);
  const auto nl = tok_.encode("\n\n");
  ids.insert(ids.end(), nl.begin(), nl.end());
  return ids;
}

std::vector<int32_t> Llama3ChatFormat::message(const ChatMessage& m) const {
  std::vector<int32_t> ids = header(m.role);
  const auto content = tok_.encode(trim(m.content));
  ids.insert(ids.end(), content.begin(), content.end());
  ids.push_back(eot_);
  return ids;
}

std::vector<int32_t> Llama3ChatFormat::dialog(std::span<const ChatMessage> messages, bool add_generation_prompt, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos) {
    if (tok_.bos_id() < 0) fail("tokenizer: no BOS token for the chat format");
    ids.push_back(tok_.bos_id());
  }
  for (const ChatMessage& m : messages) {
    const auto part = message(m);
    ids.insert(ids.end(), part.begin(), part.end());
  }
  if (add_generation_prompt) {
    const auto part = header("assistant");
    ids.insert(ids.end(), part.begin(), part.end());
  }
  return ids;
}

std::string llama3_chat_text(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string s = "<|begin_of_text|>";
  for (const ChatMessage& m : messages)
    s += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + std::string(trim(m.content)) + "<|eot_id|>";
  if (add_generation_prompt) s += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return s;
}

}  // namespace bwscope
