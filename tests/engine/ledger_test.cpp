// The engine's ledger records: one per op, on one clock, with the bytes each op must move.
#include <gtest/gtest.h>

#include "bwscope/engine/bench.h"
#include "bwscope/engine/engine.h"
#include "bwscope/model/llama_model.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

TEST(EngineLedger, RecordsEveryOpOfEveryLayerInOrder) {
  test_support::TempDir dir;
  LlamaModel model = load_llama(test_support::write_tiny_model(dir, DType::Q8_0));
  meter::Ledger ledger(4096, 7);
  EngineOptions o;
  o.n_ctx = 32;
  o.ledger = &ledger;
  Engine e(model, o);
  e.set_phase(meter::Phase::Prefill);
  std::vector<BatchToken> prompt{{1, 0, 0, false}, {2, 1, 0, false}, {3, 2, 0, true}};
  e.forward(prompt);
  const auto recs = ledger.records();
  // embed + 8 ops per layer (attn_norm, qkv, attention, attn_output, ffn_norm, gate_up, swiglu, down)
  // + output norm + output
  ASSERT_EQ(recs.size(), size_t(1 + 8 * model.config.n_layers + 2));
  EXPECT_EQ(recs.front().op, meter::Op::Embed);
  EXPECT_EQ(recs.back().op, meter::Op::Output);
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].instance, 7u);
    EXPECT_EQ(recs[i].phase, meter::Phase::Prefill);
    EXPECT_LE(recs[i].t_begin_ns, recs[i].t_end_ns);
    if (i) {
      EXPECT_LE(recs[i - 1].t_end_ns, recs[i].t_begin_ns);
    }
  }
  // Attention of 3 prompt tokens reads 1 + 2 + 3 cached positions and writes 3, per layer.
  const uint64_t pos_bytes = 2 * e.kv_cache().bytes_per_position();
  for (const auto& r : recs)
    if (r.op == meter::Op::Attention) {
      EXPECT_EQ(r.kv_read_bytes, 6 * pos_bytes);
      EXPECT_EQ(r.kv_write_bytes, 3 * pos_bytes);
    }
}

TEST(EngineLedger, DecodeStepWeightBytesEqualTheModelsWeights) {
  test_support::TempDir dir;
  LlamaModel model = load_llama(test_support::write_tiny_model(dir, DType::Q4_0));
  meter::Ledger ledger;
  EngineOptions o;
  o.n_ctx = 32;
  o.n_seq = 2;
  o.ledger = &ledger;
  Engine e(model, o);
  e.set_phase(meter::Phase::Decode);
  std::vector<BatchToken> step{{5, 0, 0, true}, {6, 0, 1, true}};
  e.forward(step);
  uint64_t weights = 0, kv_read = 0, kv_write = 0;
  for (const auto& r : ledger.records()) weights += r.weight_bytes, kv_read += r.kv_read_bytes, kv_write += r.kv_write_bytes;
  // The analytic per-step traffic used by `bench` (computed separately from the model's shapes).
  DecodeTraffic t = decode_traffic(e, 2, 0, 1);
  EXPECT_EQ(weights, t.weight_bytes_per_step);
  EXPECT_EQ(double(kv_read), t.kv_read_bytes_per_step);
  EXPECT_EQ(kv_write, t.kv_write_bytes_per_step);
}

TEST(EngineLedger, DisabledLedgerRecordsNothing) {
  test_support::TempDir dir;
  LlamaModel model = load_llama(test_support::write_tiny_model(dir, DType::F16));
  meter::Ledger ledger;
  ledger.set_enabled(false);
  EngineOptions o;
  o.n_ctx = 8;
  o.ledger = &ledger;
  Engine e(model, o);
  BatchToken t{1, 0, 0, true};
  e.forward(std::span(&t, 1));
  EXPECT_TRUE(ledger.records().empty());
}

}  // namespace
}  // namespace bwscope
