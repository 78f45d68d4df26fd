// Internal to the co-location runner: the board the instances and the runner share (in memory
// shared across fork(), so it serves processes and threads alike), and one instance's run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
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
  std::atomic<int32_t> pid{0};     // a split run's rank: its process, for the memory measurement
};

struct Board {
  std::atomic<int64_t> go_ns{0};   // the start barrier; 0 until every instance is ready
  std::atomic<int32_t> stop{0};    // set by the runner: stop after the current step
  std::atomic<int32_t> turn{0};    // time-sliced: the instance allowed to run
  // Set by the runner once it has measured every instance's memory: an instance that has
  // finished keeps its engine (weights, KV cache, activations) until then.
  std::atomic<int32_t> release{0};
  // A split run's stop: the ranks call MPI together, so each stops before the same step (set by
  // the runner ahead of every rank's progress) rather than at once.
  std::atomic<int64_t> stop_at_step{0};
  int32_t n = 0;
  Slot slots[kMaxInstances];
};

// A Board in shared memory: anonymous (survives fork()), or in a file that the ranks of a split
// run, started by mpirun rather than forked, map by name. Unmapped (and the file removed by its
// maker) on destruction.
class SharedBoard {
 public:
  explicit SharedBoard(int n_instances, const std::string& file = "");
  // Maps the board another process made in `file`; throws Error naming it.
  static SharedBoard attach(const std::string& file);
  SharedBoard(SharedBoard&& other) noexcept : board_(std::exchange(other.board_, nullptr)), file_(std::move(other.file_)), owner_(other.owner_) {}
  ~SharedBoard();
  SharedBoard(const SharedBoard&) = delete;
  SharedBoard& operator=(const SharedBoard&) = delete;
  Board& operator*() const { return *board_; }
  Board* operator->() const { return board_; }

 private:
  SharedBoard() = default;
  Board* board_ = nullptr;
  std::string file_;
  bool owner_ = false;
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

// One prompt per seed: `n_prompt` random ids above the special-token range of `n_vocab`.
std::vector<std::vector<int32_t>> make_prompts(const std::vector<uint64_t>& seeds, int64_t n_prompt, int64_t n_vocab);

// The prompts as forward calls of at most `chunk` tokens, sequence after sequence; the last
// token of each sequence asks for logits.
std::vector<std::vector<BatchToken>> prompt_batches(const std::vector<std::vector<int32_t>>& prompts, int64_t chunk);
// next[seq] = the argmax of each entry of `batch` that asked for logits (rows of `n_vocab`).
void take_argmax(std::span<const float> logits, std::span<const BatchToken> batch, int64_t n_vocab, std::vector<int32_t>& next);

// Waits (sleeping) until the board's start barrier, then spins to it; returns it. Calls
// `check` while it sleeps (it throws to give up).
int64_t wait_for_go(const Board& board, const std::function<void()>& check);

// What an instance's result says before it has run: its plan's name, model, threads, CPUs,
// batch and lengths.
InstanceResult planned_result(const InstancePlan& plan);
// The end of a run (now) and what its ledger recorded so far (none without a ledger yet).
void take_records(const meter::Ledger* ledger, InstanceResult& out);

// Loads the model, warms up, waits at the barrier, runs prefill and decode under the schedule,
// and fills `out`. Never throws: a failure is written to out.error and the slot's state.
void run_instance(const InstancePlan& plan, const ColocateOptions& options, Board& board, InstanceResult& out);

// The result as bytes for the pipe from a child process, and back. decode() returns false on
// a truncated or malformed message (a child that died while writing).
std::string encode_result(const InstanceResult& r);
bool decode_result(const std::string& bytes, InstanceResult& out);

}  // namespace bwscope::colo
