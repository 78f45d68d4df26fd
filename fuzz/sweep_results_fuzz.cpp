// The sweep's results file as `sweep --resume` reads it: the header, each point's line, a torn
// last line cut off.
#include "bwscope/base/error.h"
#include "bwscope/study/sweep.h"
#include "fuzz_input.h"

using namespace bwscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::InputFile in(data, size);
  try {
    (void)study::ResultsFile::resume(in.path());
  } catch (const Error&) {
  }
  return 0;
}
