// The tokenizer on arbitrary bytes, invalid UTF-8 included: encode never fails and
// decode(encode(s)) == s with or without special-token parsing; decode of arbitrary ids either
// gives bytes or an Error for an id outside the vocabulary.
//
// The vocabulary is the real Llama 3 one the setup script fetched (~/.cache/bwscope), else the
// byte-level stand-in.
#include <cstring>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/model/synth.h"
#include "bwscope/model/tokenizer.h"
#include "bwscope/format/tokenizer_json.h"

using namespace bwscope;

namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer tok = [] {
    const std::string path = default_tokenizer_json();
    return Tokenizer(path.empty() ? byte_level_tokenizer(128256) : read_tokenizer_json(path));
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Tokenizer& tok = tokenizer();
  const bool parse_special = data[0] & 1;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<int32_t> ids = tok.encode(text, false, parse_special);
  if (tok.decode(ids) != text) std::abort();
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab()) std::abort();

  std::vector<int32_t> raw((size - 1) / sizeof(int32_t));
  if (!raw.empty()) std::memcpy(raw.data(), data + 1, raw.size() * sizeof(int32_t));
  try {
    (void)tok.decode(raw);
  } catch (const Error&) {
  }
  return 0;
}
