// The co-location runner: N inference instances on one device at once — as child processes or
// as threads, on partitioned or shared cores, with shared or private weights, fused into one
// batch, in parallel, time-sliced or staggered — started together at a barrier, each bringing
// back its ledger records (CLOCK_MONOTONIC, so every instance lines up) and its token times.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/meter/ledger.h"
#include "bwscope/runtime/shared_weights.h"

namespace bwscope {

enum class Isolation { Process, Thread };
enum class CoreMode { Partition, Share };
// shared: one copy in the layout the kernels prefer, written once, mapped read-only by every
// instance (SharedWeights); private: a copy per instance in that layout; file: computed on the
// file's own mapping (the page cache, shared by every instance).
enum class WeightMode { Shared, Private, File };
enum class Schedule { Parallel, TimeSliced, Staggered };

std::string_view isolation_name(Isolation v);
std::string_view core_mode_name(CoreMode v);
std::string_view weight_mode_name(WeightMode v);
std::string_view schedule_name(Schedule v);
// Each throws Error naming `flag` and the accepted values.
Isolation parse_isolation(const std::string& flag, const std::string& value);
CoreMode parse_core_mode(const std::string& flag, const std::string& value);
WeightMode parse_weight_mode(const std::string& flag, const std::string& value);
Schedule parse_schedule(const std::string& flag, const std::string& value);

// One instance: a model serving `batch` requests of `n_prompt` prompt tokens and `n_gen`
// generated tokens each.
struct InstanceSpec {
  std::string name;           // how reports call it ("A", "B", ...)
  std::string model_path;     // GGUF file (or Hugging Face checkpoint)
  int64_t batch = 1;          // sequences decoded together
  int64_t n_prompt = 64;
  int64_t n_gen = 32;
  int threads = 0;            // 0: from the core mode (partition: CPUs / N, share: all CPUs)
  uint64_t prompt_seed = 1;   // sequence s's prompt tokens are drawn from prompt_seed + s
};

// What the runner shows while it runs (the caller renders it).
struct InstanceProgress {
  std::string name;
  int pid = 0;                // the child's pid (process isolation), else 0
  std::string state;          // loading, ready, waiting, prefill, decode, done, failed, stopped
  int64_t steps_done = 0;     // prefill counts as one step, then one per decode step
  int64_t steps_total = 0;
  // Ledger bytes per second over a trailing window of at least one second and of at least one
  // and a half of its recent decode steps, so a step longer than the refresh does not make it
  // flicker between its rate and zero.
  double gbs_now = 0;
  double window_s = 0;        // the window gbs_now is over
};
struct Progress {
  double elapsed_s = 0;       // since the start barrier (0 before it)
  std::vector<InstanceProgress> instances;
  double total_gbs_now = 0;
};

// What the weights need before any instance starts: for shared weights the object each
// model's instances map (made once, and kept for every run given the same PreparedWeights);
// for file weights each file re-read into the page cache (refresh_page_cache); nothing for
// private weights (each instance makes its own copy).
struct PreparedWeights {
  WeightMode mode = WeightMode::Shared;
  std::string isa;               // the kernel table the shared objects are laid out for
  struct File {
    std::string model_path;
    std::shared_ptr<const SharedWeights> shared;  // shared mode
    uint64_t bytes = 0;          // the shared object's size, or the bytes re-read (file mode)
    double seconds = 0;          // making the object, or re-reading the file
  };
  std::vector<File> files;       // one per distinct model
  const SharedWeights* shared_for(const std::string& model_path) const;
  uint64_t shared_bytes() const;  // all shared objects together
};

struct ColocateOptions;
// Prepares the weights of `specs` for `options.weights` (see PreparedWeights). Throws Error
// naming the file when a model cannot be loaded or an object cannot be made.
std::shared_ptr<const PreparedWeights> prepare_weights(const std::vector<InstanceSpec>& specs, const ColocateOptions& options);

struct ColocateOptions {
  Isolation isolation = Isolation::Process;
  CoreMode cores = CoreMode::Partition;
  WeightMode weights = WeightMode::Shared;
  Schedule schedule = Schedule::Parallel;
  // All instances' requests as one engine and one batch (they must use the same model): each
  // weight byte is then read once per step for all of them.
  bool fused = false;
  int64_t slice_steps = 4;    // time-sliced: decode steps per turn
  std::string isa;            // kernel table name; empty: the best this CPU has
  DType kv_type = DType::F16;
  std::vector<int> cpus;      // CPUs to use; empty: those sched_getaffinity allows
  uint64_t assume_available_bytes = 0;  // fit check against this instead of MemAvailable
  // From prepare_weights() for the same specs and weight mode; run_colocated() prepares them
  // itself when this is null.
  std::shared_ptr<const PreparedWeights> prepared;
  double progress_interval_s = 0.25;
  std::function<void(const Progress&)> on_progress;
  // When it becomes non-zero (a SIGINT handler sets it), every instance stops after its
  // current step and the runner returns what was measured, marked interrupted.
  const volatile std::sig_atomic_t* stop = nullptr;
  // A split run: the specs are the ranks of ONE model split over them (the same model, batch
  // and lengths), started together by mpirun as one MPI program (parallel/split_scenario.h),
  // each pinned to its partition's CPUs and holding only its part of the weights (private).
  struct Split {
    std::string kind;         // "tp" or "pp"; empty: not a split run
    // pp: the batch goes through the stages in this many micro-batches, so the stages work on
    // different ones at once; 0: min(batch, ranks).
    int64_t micro_batches = 0;
    bool vocab_split = false;  // tp: the output head split by vocabulary, logits gathered
  } split;
};

struct InstanceResult {
  std::string name, model_path, weight_type;
  int threads = 0;
  std::vector<int> cpus;      // pinned CPUs (empty: not pinned, share mode)
  int64_t batch = 1, n_prompt = 0, n_gen = 0;
  int pid = 0;
  bool completed = false;     // ran every step
  std::string error;          // why it did not complete ("killed by signal 9 (Killed)", "interrupted", ...)
  int64_t start_ns = 0;       // released from the barrier (staggered: its own start)
  std::vector<int64_t> token_ns;  // when each step's tokens were out: [0] = first token (prefill end)
  int64_t prefill_t0_ns = 0, prefill_t1_ns = 0;
  int64_t end_ns = 0;
  uint64_t weight_bytes = 0;  // the model's weights as stored
  WeightMode weights = WeightMode::File;  // what the engine computed on
  uint64_t kv_bytes = 0, scratch_bytes = 0;
  uint64_t peak_rss_bytes = 0;  // measured (process isolation), 0 when unknown
  // Measured by the runner from /proc/<pid>/smaps when every instance had finished and still
  // held its engine (process isolation; 0 when unknown): resident and proportional set
  // (shared pages divided among the processes mapping them), and the weights' mapping (the
  // shared object, or the model file) with its inode and resident bytes.
  uint64_t rss_bytes = 0, pss_bytes = 0;
  uint64_t weights_inode = 0, weights_rss_bytes = 0;
  uint64_t records_dropped = 0;
  // A split run's rank: rank 0's clock minus this rank's (its times are shifted by it, so every
  // rank is on rank 0's clock) and the ping-pong round trip that bounds it.
  int64_t clock_offset_ns = 0, clock_round_trip_ns = 0;
  // FNV-1a over the ids it generated, step by step, sequence by sequence (fold_tokens): equal
  // digests mean the same tokens. 0 when this engine never saw the ids (a middle pipeline stage).
  uint64_t tokens_digest = 0;
  std::vector<meter::Record> records;  // this instance's ledger (records carry its index)

  int64_t steps_done() const { return int64_t(token_ns.size()); }
  // Generated tokens over the decode span (first to last token), all sequences; 0 with < 2 steps.
  double decode_tokens_per_s() const;
  double ttft_s() const { return token_ns.empty() ? 0 : double(token_ns[0] - start_ns) * 1e-9; }
  std::vector<double> tpot_s() const;  // intervals between consecutive steps
  void fold_tokens(std::span<const int32_t> ids);  // one step's ids into tokens_digest
};

struct ColocateResult {
  std::vector<InstanceResult> instances;
  std::shared_ptr<const PreparedWeights> weights;  // what the instances computed on
  // Memory the instances held at the end of the run, measured (0 when it could not be):
  // process isolation, the sum of the instances' PSS; thread isolation, this process's PSS
  // then minus its PSS before the instances started.
  uint64_t resident_bytes = 0;
  std::string resident_how;
  int64_t go_ns = 0;          // the start barrier
  int64_t end_ns = 0;         // the last instance's end
  bool interrupted = false;
  bool fused = false;
  std::string split;          // "tp" / "pp": the instances are the ranks of one split model
  int64_t micro_batches = 0;  // pp: as run
  bool all_completed() const;
  std::vector<std::string> failures() const;  // "B: killed by signal 9 (Killed)" per failed instance
};

// Memory the instances need beside each other, and what the machine has.
struct MemoryPlan {
  struct Item {
    std::string name, model_path;
    uint64_t weight_bytes = 0, kv_bytes = 0, scratch_bytes = 0;
  };
  std::vector<Item> instances;
  // shared: each distinct model's copy once; file: each distinct file's pages once; private:
  // a copy per instance.
  uint64_t weights_resident = 0;
  uint64_t kv_bytes = 0, scratch_bytes = 0;
  // MemAvailable (or the assumed figure), plus the shared objects already made for this run
  // (they hold memory MemAvailable no longer shows, and weights_resident counts them).
  uint64_t available_bytes = 0;
  WeightMode weights = WeightMode::Shared;
  uint64_t total() const { return weights_resident + kv_bytes + scratch_bytes; }
  bool fits() const { return total() <= available_bytes; }
  std::string describe() const;   // one line with every figure, in GiB
};

// Plans memory for `specs` under `options` (reads model headers only, loads no weights).
MemoryPlan plan_memory(const std::vector<InstanceSpec>& specs, const ColocateOptions& options);
// Ledger records the instances will write, all together (one per op: embedding, 8 per layer,
// output norm and output per forward call): what a trace of the run holds, for sizing it first.
uint64_t ledger_records_estimate(const std::vector<InstanceSpec>& specs, const ColocateOptions& options);
uint64_t mem_available_bytes();   // /proc/meminfo MemAvailable; throws Error when unreadable

// CPUs this process may run on (sched_getaffinity), in order.
std::vector<int> allowed_cpus();

// A pipeline's micro-batches as run: the asked count (or the ranks) within 1..batch; 0 when
// `split` is not a pipeline.
int64_t split_micro_batches(const ColocateOptions::Split& split, int64_t batch, int ranks);

// Runs the instances; returns when all have finished, failed or stopped. Throws Error before
// starting anything when the configuration is impossible or the memory plan does not fit.
// A failed instance does not throw: it is reported in its InstanceResult.
ColocateResult run_colocated(const std::vector<InstanceSpec>& specs, const ColocateOptions& options);

}  // namespace bwscope
