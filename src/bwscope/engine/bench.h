// A llama-bench-like single-instance measurement: prefill of p prompt tokens into an empty
// cache, and decode of n tokens for b sequences at once (each step one token per sequence),
// repeated r times after a warm-up.
#pragma once

#include <cstdint>
#include <vector>

#include "bwscope/engine/engine.h"

namespace bwscope {

struct BenchOptions {
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t reps = 3;
  uint64_t seed = 1;  // prompt tokens are drawn from it
};

struct Samples {
  std::vector<double> values;
  double median() const;
  double mean() const;
  double stddev() const;
  double min() const;
  double max() const;
};

// Bytes a decode step must move through memory, from the model's shapes (weights as stored,
// KV cache read and written); the meter's per-op ledger records the same per op.
struct DecodeTraffic {
  uint64_t weight_bytes_per_step = 0;  // every matmul weight and norm once, plus the B embedding rows
  double kv_read_bytes_per_step = 0;   // averaged over the run's positions
  uint64_t kv_write_bytes_per_step = 0;
  double bytes_per_step() const { return double(weight_bytes_per_step) + kv_read_bytes_per_step + double(kv_write_bytes_per_step); }
};
DecodeTraffic decode_traffic(const Engine& engine, int64_t n_seq, int64_t first_pos, int64_t n_steps);

struct BenchResult {
  Samples prefill_tokens_per_s;  // empty when n_prompt == 0
  Samples decode_tokens_per_s;   // all sequences together; empty when n_gen == 0
  DecodeTraffic traffic;
  int64_t n_seq = 1;
  // [start, end) of each measured repetition on the ledger's clock (meter::now_ns), warm-up
  // excluded, so the meter can pick the ledger records that belong to the figures above.
  struct RepSpan {
    int64_t t0_ns = 0, t1_ns = 0;
  };
  std::vector<RepSpan> prefill_spans, decode_spans;
  double decode_bytes_per_token() const { return traffic.bytes_per_step() / double(n_seq); }
  // Median decode tokens/s × bytes per token.
  double decode_bandwidth_gbs() const { return decode_tokens_per_s.values.empty() ? 0 : decode_tokens_per_s.median() * decode_bytes_per_token() / 1e9; }
};

// The engine needs n_seq >= its batch and n_ctx >= max(n_prompt, n_gen). Throws Error otherwise.
BenchResult run_bench(Engine& engine, const BenchOptions& options);

}  // namespace bwscope
