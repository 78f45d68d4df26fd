// The Llama forward pass: a batch of (token, position, sequence) entries in, logits out.
// Prefill is a batch of one sequence's prompt tokens; decode is one token per sequence.
// Every op runs through the kernel table (kernels/ops.h); matmul rows are split over the pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "bwscope/engine/kv_cache.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/meter/ledger.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/base/thread_pool.h"

namespace bwscope {

struct EngineOptions {
  int threads = 1;
  std::vector<int> cpus;          // pin worker i to cpus[i] when non-empty
  int64_t n_ctx = 0;              // positions per sequence in the KV cache; 0: min(context_length, 4096)
  int64_t n_seq = 1;              // sequences that can be in flight at once
  int64_t max_batch = 512;        // most tokens one forward() call may carry
  DType kv_type = DType::F16;     // F16 (as llama.cpp) or F32
  const kernels::Ops* ops = nullptr;  // kernel table; nullptr: the best this CPU has
  meter::Ledger* ledger = nullptr;    // when set, every op appends one record (bytes, times)
  // This engine's part in a model split over ranks (parallel/split.h); all empty: the whole
  // model. Each call is one Op::Comm record.
  struct Split {
    // Tensor parallel: sums the partial [n_tok × n_embd] outputs of attn_output and of down
    // over the ranks, in place, before the residual add.
    std::function<void(float* data, int64_t n)> all_reduce;
    // ...and with the output head split by vocabulary, each rank's [rows × local] logits (its
    // share of the vocabulary, in rank order) become the whole [rows × n_vocab] on every rank,
    // in place.
    std::function<void(float* logits, int64_t rows, int64_t local)> gather_logits;
    // Pipeline parallel: the hidden state comes from the previous stage (instead of the
    // embedding) and goes to the next (instead of the output head)...
    std::function<void(float* data, int64_t n)> recv_hidden;
    std::function<void(const float* data, int64_t n)> send_hidden;
    // ...and the last stage's logits reach every stage, so each returns the same logits
    // (without this hook a stage before the last returns no logits).
    std::function<void(float* data, int64_t n)> share_logits;
  } split;
};

struct BatchToken {
  int32_t token = 0;
  int32_t pos = 0;
  int32_t seq = 0;
  bool logits = false;  // compute this entry's logits
};

// Memory an engine allocates beside the weights (which are mapped from the file).
struct EngineMemory {
  uint64_t kv_bytes = 0;       // the KV cache
  uint64_t scratch_bytes = 0;  // activation buffers for max_batch tokens
  uint64_t total() const { return kv_bytes + scratch_bytes; }
};
EngineMemory engine_memory(const LlamaConfig& config, const EngineOptions& options);

class Engine {
 public:
  // Throws Error on an impossible configuration (context larger than the model's, ...).
  Engine(const LlamaModel& model, EngineOptions options);
  ~Engine();

  // Runs the batch. Entries of one sequence must be in increasing position order; each
  // position may only see keys already written (the cache holds 0..pos-1 of its sequence).
  // Returns the logits of the entries with logits=true, in batch order, n_vocab floats each.
  // Valid until the next call.
  std::span<const float> forward(std::span<const BatchToken> batch);

  // Phase written into ledger records of the following forward() calls.
  void set_phase(meter::Phase phase) { phase_ = phase; }
  void set_ledger(meter::Ledger* ledger) { options_.ledger = ledger; }

  const LlamaModel& model() const { return model_; }
  const EngineOptions& options() const { return options_; }
  const kernels::Ops& ops() const { return *ops_; }
  int64_t n_ctx() const { return kv_.n_ctx(); }
  int64_t n_vocab() const { return model_.config.n_vocab; }
  const KvCache& kv_cache() const { return kv_; }
  ThreadPool& pool() { return *pool_; }

 private:
  struct Scratch;
  void check_batch(std::span<const BatchToken> batch) const;
  // y[n_tok × w.rows] = x · Wᵀ for up to three matrices sharing one input, in one parallel region.
  void matmuls(std::span<const kernels::Matrix* const> ws, const float* x, int64_t ldx, int64_t n_tok,
               std::span<float* const> ys);
  void attention(int64_t layer, std::span<const BatchToken> batch);
  // Appends a ledger record for an op that began at t0 (no-op without a ledger).
  void note(meter::Op op, int64_t layer, int64_t t0, const meter::Record& bytes);
  int parts_for(int64_t units) const;  // parts of a parallel region over `units` work units
  int64_t clock() const { return options_.ledger ? meter::now_ns() : 0; }

  const LlamaModel& model_;
  EngineOptions options_;
  const kernels::Ops* ops_;
  std::vector<float> inv_freq_;
  KvCache kv_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Scratch> s_;
  meter::Phase phase_ = meter::Phase::Other;
};

}  // namespace bwscope
