// The traffic ledger: one record per engine op — which instance, phase and op, when it ran
// (system-wide monotonic clock), and the bytes it had to move by class. Appended on the
// instance's main thread into a preallocated buffer: no allocation, no lock, O(1) per op.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace bwscope::meter {

enum class Phase : uint8_t { Prefill = 0, Decode = 1, Other = 2 };
std::string_view phase_name(Phase p);

enum class Op : uint8_t {
  Embed,        // token embedding rows looked up
  AttnNorm,
  Qkv,          // the Q, K and V projections
  Attention,    // RoPE, KV cache write, attention over the cache
  AttnOutput,
  FfnNorm,
  GateUp,       // the gate and up projections
  SwiGLU,
  Down,
  OutputNorm,
  Output,       // the output (vocabulary) projection
  Comm,         // a split run's MPI call: all-reduce, hidden state to the next rank, logits
                // shared (act_bytes: the bytes the rank sent and received; no FLOPs)
  kCount
};
std::string_view op_name(Op op);

struct Record {
  int64_t t_begin_ns = 0;   // CLOCK_MONOTONIC, comparable across threads and processes
  int64_t t_end_ns = 0;
  uint64_t weight_bytes = 0;     // stored weight bytes read (scales included)
  uint64_t kv_read_bytes = 0;
  uint64_t kv_write_bytes = 0;
  uint64_t act_bytes = 0;        // activations read + written
  uint64_t flops = 0;            // multiply-adds × 2
  uint32_t instance = 0;
  int16_t layer = -1;            // -1 for ops outside the layers
  Phase phase = Phase::Other;
  Op op = Op::Embed;

  uint64_t bytes() const { return weight_bytes + kv_read_bytes + kv_write_bytes + act_bytes; }
};

int64_t now_ns();  // CLOCK_MONOTONIC in nanoseconds

class Ledger {
 public:
  explicit Ledger(size_t capacity = 1 << 20, uint32_t instance = 0);

  uint32_t instance() const { return instance_; }
  bool enabled() const { return enabled_; }
  void set_enabled(bool on) { enabled_ = on; }
  // When set, every enabled record adds its model traffic (weights + KV read + KV write) to
  // `counter`: a live byte count another thread or process can read while the run goes on.
  void set_live_counter(std::atomic<uint64_t>* counter) { live_ = counter; }
  // Appends when enabled; when full, counts the record as dropped instead.
  void record(const Record& r) {
    if (!enabled_) return;
    if (live_) live_->fetch_add(r.weight_bytes + r.kv_read_bytes + r.kv_write_bytes, std::memory_order_relaxed);
    if (size_ < records_.size()) {
      records_[size_] = r;
      records_[size_].instance = instance_;
      ++size_;
    } else {
      ++dropped_;
    }
  }
  std::span<const Record> records() const { return {records_.data(), size_}; }
  uint64_t dropped() const { return dropped_; }
  void clear() { size_ = 0, dropped_ = 0; }

 private:
  std::vector<Record> records_;
  size_t size_ = 0;
  uint64_t dropped_ = 0;
  uint32_t instance_;
  bool enabled_ = true;
  std::atomic<uint64_t>* live_ = nullptr;
};

}  // namespace bwscope::meter
