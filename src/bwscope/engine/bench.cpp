#include "bwscope/engine/bench.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "bwscope/base/error.h"
#include "bwscope/engine/generate.h"

namespace bwscope {

double Samples::median() const {
  if (values.empty()) return 0;
  std::vector<double> v = values;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
double Samples::mean() const { return values.empty() ? 0 : std::accumulate(values.begin(), values.end(), 0.0) / double(values.size()); }
double Samples::stddev() const {
  if (values.size() < 2) return 0;
  double m = mean(), ss = 0;
  for (double v : values) ss += (v - m) * (v - m);
  return std::sqrt(ss / double(values.size() - 1));
}
double Samples::min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
double Samples::max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }

DecodeTraffic decode_traffic(const Engine& engine, int64_t n_seq, int64_t first_pos, int64_t n_steps) {
  const LlamaModel& m = engine.model();
  const LlamaConfig& c = m.config;
  DecodeTraffic t;
  // Every weight once per step; the embedding is only read for the B looked-up rows unless
  // it doubles as the output projection (then the whole matrix is streamed anyway).
  t.weight_bytes_per_step = m.weight_bytes();
  if (m.output.data != m.token_embd.data) t.weight_bytes_per_step -= m.token_embd.n_bytes();
  t.weight_bytes_per_step += uint64_t(n_seq) * m.token_embd.row_bytes;
  const uint64_t kv_row = uint64_t(c.n_layers) * 2 * engine.kv_cache().bytes_per_position();  // K and V, all layers
  t.kv_write_bytes_per_step = uint64_t(n_seq) * kv_row;
  // At position p attention reads p + 1 cached positions; average over the run.
  const double mean_positions = double(first_pos) + double(n_steps + 1) / 2.0;
  t.kv_read_bytes_per_step = double(n_seq) * double(kv_row) * mean_positions;
  return t;
}

namespace {

// A measured repetition: its span on the ledger's clock, and tokens/s from that same span.
void record(std::vector<BenchResult::RepSpan>& spans, Samples& tokens_per_s, int64_t t0_ns, int64_t tokens) {
  const int64_t t1_ns = std::max(meter::now_ns(), t0_ns + 1);
  spans.push_back({t0_ns, t1_ns});
  tokens_per_s.values.push_back(1e9 * double(tokens) / double(t1_ns - t0_ns));
}

}  // namespace

BenchResult run_bench(Engine& engine, const BenchOptions& o) {
  const int64_t n_seq = engine.options().n_seq;
  if (o.reps < 1) fail("-r must be at least 1");
  if (o.n_prompt > engine.n_ctx() || o.n_gen > engine.n_ctx())
    fail("-p {} / -n {} exceed the engine's context of {} tokens", o.n_prompt, o.n_gen, engine.n_ctx());
  std::mt19937_64 rng(o.seed);
  const int32_t lo = int32_t(std::min<int64_t>(1000, engine.n_vocab() / 2));
  std::uniform_int_distribution<int32_t> token(lo, int32_t(engine.n_vocab() - 1));
  BenchResult r;
  r.n_seq = n_seq;
  std::vector<BatchToken> batch;
  for (int64_t rep = -1; rep < o.reps; ++rep) {  // rep -1 warms up caches, pages and threads
    if (o.n_prompt > 0) {
      engine.set_phase(meter::Phase::Prefill);
      const int64_t span0 = meter::now_ns();
      for (int64_t start = 0; start < o.n_prompt; start += engine.options().max_batch) {
        batch.clear();
        const int64_t end = std::min(o.n_prompt, start + engine.options().max_batch);
        for (int64_t i = start; i < end; ++i) batch.push_back({token(rng), int32_t(i), 0, i == o.n_prompt - 1});
        engine.forward(batch);
      }
      if (rep >= 0) record(r.prefill_spans, r.prefill_tokens_per_s, span0, o.n_prompt);
    }
    if (o.n_gen > 0) {
      engine.set_phase(meter::Phase::Decode);
      const int64_t span0 = meter::now_ns();
      for (int64_t step = 0; step < o.n_gen; ++step) {
        batch.clear();
        for (int64_t s = 0; s < n_seq; ++s) batch.push_back({token(rng), int32_t(step), int32_t(s), true});
        engine.forward(batch);
      }
      if (rep >= 0) record(r.decode_spans, r.decode_tokens_per_s, span0, o.n_gen * n_seq);
    }
  }
  engine.set_phase(meter::Phase::Other);
  r.traffic = decode_traffic(engine, n_seq, 0, o.n_gen);
  return r;
}

}  // namespace bwscope
