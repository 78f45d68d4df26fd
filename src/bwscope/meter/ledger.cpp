#include "bwscope/meter/ledger.h"

#include <time.h>

namespace bwscope::meter {

std::string_view phase_name(Phase p) {
  switch (p) {
    case Phase::Prefill: return "prefill";
    case Phase::Decode: return "decode";
    default: return "other";
  }
}

std::string_view op_name(Op op) {
  static constexpr std::string_view names[] = {"embed", "attn_norm", "qkv", "attention", "attn_output", "ffn_norm",
                                               "gate_up", "swiglu", "down", "output_norm", "output", "comm"};
  static_assert(std::size(names) == size_t(Op::kCount));
  return names[size_t(op)];
}

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Ledger::Ledger(size_t capacity, uint32_t instance) : records_(capacity), instance_(instance) {}

}  // namespace bwscope::meter
