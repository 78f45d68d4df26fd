// What the traffic ledger costs: the same decode with the ledger on and off, interleaved in one
// process (on/off, off/on, ... so drift on a shared host hits both alike), and the per-op cost
// of a record (two clock reads and an append) as a bound that does not depend on that noise.
//   DecodeLedgerOverhead: counters on_ms_per_token, off_ms_per_token, ratio (median over pairs
//     of on/off), overhead_pct = (ratio - 1) × 100, pairs, ratio_min/ratio_max.
//   LedgerRecordCost: ns per op recorded (now_ns at the start and end + Ledger::record).
// Model: $BWSCOPE_BENCH_MODEL, else the default synthetic Llama 3.2 1B Q8_0 (made on first use).
// Threads: $BWSCOPE_BENCH_THREADS (default 1). Pairs: $BWSCOPE_OVERHEAD_PAIRS (default 8),
// each block $BWSCOPE_OVERHEAD_TOKENS decode steps (default 8).
//   build/release/bwscope_bench --benchmark_filter='Ledger'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "bwscope/engine/engine.h"
#include "bwscope/meter/ledger.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/model_cache.h"

namespace bwscope {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::max(1, std::atoi(v)) : fallback;
}

double decode_block_seconds(Engine& engine, int tokens) {
  std::vector<BatchToken> batch(1);
  const int64_t t0 = meter::now_ns();
  for (int step = 0; step < tokens; ++step) {
    batch[0] = {int32_t(1000 + step), int32_t(step), 0, true};
    engine.forward(batch);
  }
  return double(meter::now_ns() - t0) * 1e-9;
}

void DecodeLedgerOverhead(benchmark::State& state) {
  const char* env_model = std::getenv("BWSCOPE_BENCH_MODEL");
  const std::string path = env_model && *env_model ? env_model : ensure_synthetic_model("llama-3.2-1b", single_type_plan(DType::Q8_0));
  const LlamaModel model = load_llama(path);
  const int tokens = env_int("BWSCOPE_OVERHEAD_TOKENS", 8), pairs = env_int("BWSCOPE_OVERHEAD_PAIRS", 8);
  EngineOptions eo;
  eo.threads = env_int("BWSCOPE_BENCH_THREADS", 1);
  eo.n_ctx = tokens;
  meter::Ledger ledger(size_t(tokens) * size_t(3 + 8 * model.config.n_layers) + 16);
  Engine engine(model, eo);
  engine.set_phase(meter::Phase::Decode);
  decode_block_seconds(engine, tokens);  // warm-up: pages, caches, threads

  std::vector<double> ratios;
  double on_total = 0, off_total = 0;
  for (auto _ : state) {
    ratios.clear();
    on_total = off_total = 0;
    for (int p = 0; p < pairs; ++p) {
      double on = 0, off = 0;
      for (int half = 0; half < 2; ++half) {
        const bool ledger_on = (p + half) % 2 == 0;  // alternate which goes first
        engine.set_ledger(ledger_on ? &ledger : nullptr);
        ledger.clear();
        (ledger_on ? on : off) = decode_block_seconds(engine, tokens);
      }
      ratios.push_back(on / off);
      on_total += on, off_total += off;
    }
  }
  std::sort(ratios.begin(), ratios.end());
  const double median = ratios.size() % 2 ? ratios[ratios.size() / 2] : (ratios[ratios.size() / 2 - 1] + ratios[ratios.size() / 2]) / 2;
  const double n_tok = double(pairs) * tokens;
  state.counters["on_ms_per_token"] = on_total / n_tok * 1e3;
  state.counters["off_ms_per_token"] = off_total / n_tok * 1e3;
  state.counters["ratio"] = median;
  state.counters["ratio_min"] = ratios.front();
  state.counters["ratio_max"] = ratios.back();
  state.counters["overhead_pct"] = (median - 1) * 100;
  state.counters["pairs"] = pairs;
  state.counters["records_per_token"] = double(3 + 8 * model.config.n_layers);
}
BENCHMARK(DecodeLedgerOverhead)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void LedgerRecordCost(benchmark::State& state) {
  meter::Ledger ledger(1 << 16);
  meter::Record r;
  r.weight_bytes = 1 << 20;
  for (auto _ : state) {
    // As Engine::note: a clock read at the op's start and end, then the append.
    r.t_begin_ns = meter::now_ns();
    r.t_end_ns = meter::now_ns();
    ledger.record(r);
    if (ledger.records().size() == (1 << 16)) ledger.clear();
    benchmark::DoNotOptimize(ledger.records().data());
  }
  state.counters["ns_per_op"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert) ;
}
BENCHMARK(LedgerRecordCost);

}  // namespace
}  // namespace bwscope
