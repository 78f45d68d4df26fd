// The per-phase figures a report prints from the ledger: bytes by class, bytes per token,
// average bandwidth, and the window statistics (peak, p50, p95 with their window width), over
// the measured repetitions of one phase.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "bwscope/meter/ledger.h"
#include "bwscope/meter/series.h"

namespace bwscope::meter {

struct PhaseFigures {
  Phase phase = Phase::Other;
  double seconds = 0;          // the spans' total wall time
  uint64_t tokens = 0;         // tokens those spans processed (given by the caller)
  double weight_bytes = 0, kv_read_bytes = 0, kv_write_bytes = 0, act_bytes = 0;
  double flops = 0;
  Stats windows;               // of the windows of every span, side by side (avg = bytes / seconds)
  size_t n_records = 0;

  double model_bytes() const { return weight_bytes + kv_read_bytes + kv_write_bytes; }  // kModelTraffic
  double bytes_per_token() const { return tokens ? model_bytes() / double(tokens) : 0; }
  double avg_gbs() const { return seconds > 0 ? model_bytes() / seconds * 1e-9 : 0; }
  double gflops() const { return seconds > 0 ? flops / seconds * 1e-9 : 0; }
};

// Records of `phase` that begin inside one of `spans` count; each span is cut into windows of
// `width_ns` (its last window may be shorter) and the statistics run over all those windows.
// Throws Error on width_ns <= 0 or a span that ends before it starts.
PhaseFigures phase_figures(std::span<const Record> records, Phase phase, std::span<const Span> spans, uint64_t tokens,
                           int64_t width_ns);

}  // namespace bwscope::meter
