// The probe cache (~/.cache/bwscope/probe-<key>.json): read back strictly; a file that does
// not hold a whole, sane probe is an Error (and bench/compare probe again).
#include "bwscope/base/error.h"
#include "bwscope/meter/probe.h"
#include "fuzz_input.h"

using namespace bwscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::InputFile in(data, size);
  try {
    (void)meter::read_probe_cache(in.path());
  } catch (const Error&) {
  }
  return 0;
}
