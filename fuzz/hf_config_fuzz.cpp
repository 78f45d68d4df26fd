// Hugging Face config.json: the reader, then what the engine derives from it.
#include "bwscope/base/error.h"
#include "bwscope/format/hf_config.h"
#include "bwscope/model/hf_checkpoint.h"
#include "fuzz_input.h"

using namespace bwscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::InputFile in(data, size);
  try {
    const HfConfig hf = read_hf_config(in.path());
    (void)llama_config_from_hf(hf, in.path());
  } catch (const Error&) {
  }
  return 0;
}
