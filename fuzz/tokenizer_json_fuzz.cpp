// Hugging Face tokenizer.json: the reader, the tokenizer's own validation of what it read, and
// a round trip through a tokenizer built from it.
#include "bwscope/base/error.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/model/tokenizer.h"
#include "fuzz_input.h"

using namespace bwscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::InputFile in(data, size);
  try {
    const TokenizerData vocab = read_tokenizer_json(in.path());
    std::string why;
    if (const auto tok = try_tokenizer(vocab, &why)) {
      const std::string text = "Hello, world! 123 <|eot_id|> \xff\xfe";
      const auto ids = tok->encode(text, false, true);
      if (tok->decode(ids) != text) std::abort();
    }
  } catch (const Error&) {
  }
  return 0;
}
