// Internal to the co-location runner: the board the instances and the runner share (in memory
// shared across fork(), so it serves processes and threads alike), and one instance's run.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "bwscope/engine/engine.h"
#include "bwscope/runtime/colocate.h"

namespace bwscope::colo {

constexpr int kMaxInstances = 64;

// Ordered: every state from kDecode on means "past its prefill", from kDone on "finished".
enum SlotState : int32_t { kLoading, kReady, kWaiting, kPrefill, kDecode, kDone, kFailed, kStopped };
std::string_view slot_state_name(int32_t state);
inline bool finished(int32_t state) { return state >= kDone; }

// Lock-free 32/64-bit atomics are address-free, so they work in a MAP_SHARED page across processes.
struct alignas(64) Slot {
  std::atomic<int32_t> state{kLoading};
  std::atomic<int64_t> steps_done{0};
  std::atomic<uint64_t> bytes{0};  // ledger model-traffic bytes since the barrier, op by op
};

struct Board {
  std::atomic<int64_t> go_ns{0};   // the start barrier; 0 until every instance is ready
  std::atomic<int32_t> stop{0};    // set by the runner: stop after the current step
  std::atomic<int32_t> turn{0};    // time-sliced: the instance allowed to run
  // Set by the runner once it has measured every instance's memory: an instance that has
  // finished keeps its engine (weights, KV cache, activations) until then.
  std::atomic<int32_t> release{0};
  int32_t n = 0;
  Slot slots[kMaxInstances];
};

// A Board in anonymous shared memory (survives fork()); unmapped on destruction.
class SharedBoard {
 public:
  explicit SharedBoard(int n_instances);
  ~SharedBoard();
  SharedBoard(const SharedBoard&) = delete;
  SharedBoard& operator=(const SharedBoard&) = delete;
  Board& operator*() const { return *board_; }
  Board* operator->() const { return board_; }

 private:
  Board* board_ = nullptr;
};

// Time-sliced: hands the turn to the next unfinished instance after `from` (keeps it when none).
void pass_turn(Board& board, int from);

// One instance as the runner planned it.
struct InstancePlan {
  int index = 0;
  InstanceSpec spec;
  std::vector<uint64_t> seq_seeds;  // one prompt seed per sequence (spec.batch of them)
  int threads = 1;
  std::vector<int> cpus;            // pin to these; empty: not pinned
};

// Validates the specs and turns them into instances to start: --fused merges them into one;
// partition gives each its own pinned CPUs, share gives each all of them, unpinned.
std::vector<InstancePlan> plan_instances(const std::vector<InstanceSpec>& specs, const ColocateOptions& options);

// The engine an instance runs: threads and pinning from the plan, context prompt + generation.
EngineOptions engine_options_for(const InstancePlan& plan, const ColocateOptions& options);
// The kernel table of options.isa (the best this CPU has when empty); throws Error when the
// CPU lacks it.
const kernels::Ops& kernel_table(const ColocateOptions& options);

// Loads the model, warms up, waits at the barrier, runs prefill and decode under the schedule,
// and fills `out`. Never throws: a failure is written to out.error and the slot's state.
void run_instance(const InstancePlan& plan, const ColocateOptions& options, Board& board, InstanceResult& out);

// The result as bytes for the pipe from a child process, and back. decode() returns false on
// a truncated or malformed message (a child that died while writing).
std::string encode_result(const InstanceResult& r);
bool decode_result(const std::string& bytes, InstanceResult& out);

}  // namespace bwscope::colo
