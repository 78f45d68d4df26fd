// The child-to-parent result stream of process isolation: decode never throws and rejects
// anything but a whole message; what it accepts encodes back to bytes that decode the same.
#include <string>

#include "bwscope/meter/ledger.h"
#include "bwscope/runtime/colocate.h"
#include "bwscope/runtime/instance_run.h"

using namespace bwscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  InstanceResult r;
  if (!colo::decode_result(bytes, r)) return 0;
  for (const meter::Record& rec : r.records) (void)meter::op_name(rec.op), (void)meter::phase_name(rec.phase);
  const std::string again = colo::encode_result(r);
  InstanceResult r2;
  if (!colo::decode_result(again, r2) || colo::encode_result(r2) != again) std::abort();
  return 0;
}
