// GGUF: header, metadata, tensor table — then what `info` and every loader do with an opened
// file: the model's config and tensor bindings, and the vocabulary.
#include <memory>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/tokenizer.h"
#include "fuzz_input.h"

using namespace bwscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::InputFile in(data, size);
  try {
    const auto file = std::make_shared<const gguf::File>(gguf::File::open(in.path()));
    std::string unusable, why;
    if (const auto vocab = read_gguf_tokenizer(*file, &unusable)) try_tokenizer(*vocab, &why);
    const LlamaModel model = load_llama(file);
    (void)model.weight_bytes();
  } catch (const Error&) {
  }
  return 0;
}
