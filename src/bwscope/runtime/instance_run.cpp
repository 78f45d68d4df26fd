// One co-located instance: load, warm up, wait at the barrier, prefill, decode — under the
// schedule the board says — and keep the ledger and the time each step's tokens came out.
#include "bwscope/runtime/instance_run.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <random>

#include "bwscope/base/error.h"
#include "bwscope/engine/engine.h"
#include "bwscope/engine/sampler.h"
#include "bwscope/meter/series.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/runtime/shared_weights.h"
#include "bwscope/runtime/weight_copy.h"

namespace bwscope::colo {

std::string_view slot_state_name(int32_t state) {
  switch (state) {
    case kLoading: return "loading";
    case kReady: return "ready";
    case kWaiting: return "waiting";
    case kPrefill: return "prefill";
    case kDecode: return "decode";
    case kDone: return "done";
    case kFailed: return "failed";
    case kStopped: return "stopped";
  }
  return "?";
}

namespace {

// The board's pages: anonymous, or the file `file` (created at the board's size, or opened).
void* map_board(const std::string& file, bool create) {
  int fd = -1;
  if (!file.empty()) {
    fd = create ? ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) fail("{}: cannot open the run's board: {}", file, std::strerror(errno));
    struct stat st {};
    if (create ? ::ftruncate(fd, sizeof(Board)) != 0 : ::fstat(fd, &st) != 0 || uint64_t(st.st_size) < sizeof(Board)) {
      ::close(fd);
      fail("{}: not a board of this bwscope ({} bytes expected)", file, sizeof(Board));
    }
  }
  void* p = ::mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
  if (fd >= 0) ::close(fd);
  if (p == MAP_FAILED) fail("co-location: cannot map the shared board: {}", std::strerror(errno));
  return p;
}

}  // namespace

SharedBoard::SharedBoard(int n_instances, const std::string& file) : file_(file), owner_(true) {
  if (n_instances < 1 || n_instances > kMaxInstances) fail("co-location: {} instances (1..{} supported)", n_instances, kMaxInstances);
  board_ = new (map_board(file, true)) Board();
  board_->n = n_instances;
}

SharedBoard SharedBoard::attach(const std::string& file) {
  SharedBoard b;
  b.board_ = static_cast<Board*>(map_board(file, false));
  b.file_ = file;
  return b;
}

SharedBoard::~SharedBoard() {
  if (!board_) return;
  if (owner_) board_->~Board();
  ::munmap(board_, sizeof(Board));
  if (owner_ && !file_.empty()) ::unlink(file_.c_str());
}

std::vector<std::vector<int32_t>> make_prompts(const std::vector<uint64_t>& seeds, int64_t n_prompt, int64_t n_vocab) {
  const int32_t lo = int32_t(std::min<int64_t>(1000, n_vocab / 2));
  std::vector<std::vector<int32_t>> prompts;
  for (uint64_t seed : seeds) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> token(lo, int32_t(n_vocab - 1));
    std::vector<int32_t> p(static_cast<size_t>(n_prompt));
    for (int32_t& t : p) t = token(rng);
    prompts.push_back(std::move(p));
  }
  return prompts;
}

std::vector<std::vector<BatchToken>> prompt_batches(const std::vector<std::vector<int32_t>>& prompts, int64_t chunk) {
  std::vector<std::vector<BatchToken>> out;
  for (size_t q = 0; q < prompts.size(); ++q)
    for (size_t i = 0; i < prompts[q].size(); ++i) {
      if (out.empty() || int64_t(out.back().size()) == chunk) out.emplace_back();
      out.back().push_back({prompts[q][i], int32_t(i), int32_t(q), i + 1 == prompts[q].size()});
    }
  return out;
}

void take_argmax(std::span<const float> logits, std::span<const BatchToken> batch, int64_t n_vocab, std::vector<int32_t>& next) {
  size_t row = 0;
  for (const BatchToken& t : batch)
    if (t.logits) next[size_t(t.seq)] = argmax(logits.subspan(row++ * size_t(n_vocab), size_t(n_vocab)));
}

int64_t wait_for_go(const Board& board, const std::function<void()>& check) {
  while (board.go_ns.load() == 0) {
    check();
    timespec ts{0, 200'000};
    nanosleep(&ts, nullptr);
  }
  const int64_t go = board.go_ns.load();
  while (meter::now_ns() < go - 1'000'000) {
    timespec ts{0, 100'000};
    nanosleep(&ts, nullptr);
  }
  while (meter::now_ns() < go) {
  }
  return go;
}

void pass_turn(Board& board, int from) {
  for (int k = 1; k <= board.n; ++k) {
    const int j = (from + k) % board.n;
    if (j != from && !finished(board.slots[j].state.load())) {
      board.turn.store(j);
      return;
    }
  }
}

namespace {

void sleep_us(int us) {
  timespec ts{0, long(us) * 1000};
  nanosleep(&ts, nullptr);
}

// Thrown inside the run when the board says stop; caught below, never escapes.
struct Stopped {};

class Runner {
 public:
  Runner(const InstancePlan& plan, const ColocateOptions& options, Board& board, InstanceResult& out)
      : plan_(plan), o_(options), board_(board), slot_(board.slots[plan.index]), out_(out) {}

  void run() {
    const InstanceSpec& s = plan_.spec;
    LlamaModel model = load_llama(s.model_path);
    out_.weight_type = std::string(dtype_name(model.layers.at(0).attn_q.type));
    out_.weight_bytes = model.weight_bytes();
    EngineOptions eo = engine_options_for(plan_, o_);
    out_.weights = o_.weights;
    if (o_.weights == WeightMode::Private) {  // a copy anyway: in the layout the kernels prefer
      make_weights_private(model, eo.ops, plan_.threads);
    } else if (o_.weights == WeightMode::Shared) {
      const SharedWeights* shared = o_.prepared ? o_.prepared->shared_for(s.model_path) : nullptr;
      if (!shared) fail("{}: no shared weights were prepared for this model", s.model_path);
      shared->attach(model, *eo.ops);
    }
    const int64_t forwards = (s.batch * s.n_prompt + eo.max_batch - 1) / eo.max_batch + s.n_gen;
    // Owned by the runner, not this frame: a stop or a failure unwinds run() and the records
    // measured so far must still be there for finish_records().
    ledger_ = std::make_unique<meter::Ledger>(size_t(forwards * (3 + 8 * model.config.n_layers) + 64), uint32_t(plan_.index));
    meter::Ledger& ledger = *ledger_;
    eo.ledger = &ledger;
    Engine engine(model, eo);
    const EngineMemory mem = engine_memory(model.config, eo);
    out_.kv_bytes = mem.kv_bytes;
    out_.scratch_bytes = mem.scratch_bytes;

    // Prompts: random ids above the special-token range, one seeded generator per sequence.
    const std::vector<std::vector<int32_t>> prompts = make_prompts(plan_.seq_seeds, s.n_prompt, model.config.n_vocab);

    // Warm-up, unrecorded: faults in the weight pages and starts the workers, so the measured
    // run does not time page faults. The positions it writes are overwritten later.
    ledger.set_enabled(false);
    std::vector<BatchToken> batch;
    for (int64_t i = 0; i < std::min<int64_t>(s.n_prompt, 8); ++i) batch.push_back({prompts[0][size_t(i)], int32_t(i), 0, i == 0});
    engine.forward(batch);
    batch.clear();
    for (int64_t q = 0; q < s.batch; ++q) batch.push_back({prompts[size_t(q)][0], 0, int32_t(q), true});
    engine.forward(batch);
    ledger.set_enabled(true);
    ledger.set_live_counter(&slot_.bytes);  // the live display's bytes, op by op

    slot_.state.store(kReady);
    out_.start_ns = wait_for_go(board_, [this] { check_stop(); });
    if (o_.schedule == Schedule::Staggered && plan_.index > 0) {
      // Start when the previous instance's prefill is over: its decode then overlaps our prefill.
      slot_.state.store(kWaiting);
      while (board_.slots[plan_.index - 1].state.load() < kDecode) {
        check_stop();
        sleep_us(50);
      }
      out_.start_ns = meter::now_ns();
    }
    wait_turn(kPrefill);

    // Prefill every sequence's prompt, max_batch tokens per forward call.
    slot_.state.store(kPrefill);
    engine.set_phase(meter::Phase::Prefill);
    out_.prefill_t0_ns = meter::now_ns();
    std::vector<int32_t> next(size_t(s.batch));
    for (const std::vector<BatchToken>& chunk : prompt_batches(prompts, eo.max_batch)) {
      check_stop();
      take_argmax(engine.forward(chunk), chunk, model.config.n_vocab, next);
    }
    out_.prefill_t1_ns = meter::now_ns();
    step_done(next);

    // Decode: one token per sequence per step; n_gen tokens in all, the first from the prefill.
    slot_.state.store(kDecode);
    engine.set_phase(meter::Phase::Decode);
    int64_t steps_in_turn = 0;
    for (int64_t step = 1; step < s.n_gen; ++step) {
      if (o_.schedule == Schedule::TimeSliced && (step == 1 || steps_in_turn == o_.slice_steps)) {
        pass_turn(board_, plan_.index);  // the prefill was one turn, then slice_steps per turn
        wait_turn(kDecode);
        steps_in_turn = 0;
      }
      check_stop();
      batch.clear();
      for (int64_t q = 0; q < s.batch; ++q) batch.push_back({next[size_t(q)], int32_t(s.n_prompt + step - 1), int32_t(q), true});
      take_argmax(engine.forward(batch), batch, model.config.n_vocab, next);
      step_done(next);
      ++steps_in_turn;
    }
    finish_records();
    out_.completed = true;
    hold();
  }

  // Keeps what was measured so far (an interrupted or failing run still reports it).
  void finish_records() { take_records(ledger_.get(), out_); }

 private:
  void check_stop() {
    if (board_.stop.load()) throw Stopped{};
  }
  // Finished: keeps the engine (weights, KV cache, activations) until the runner has measured
  // every instance's memory (board.release), or stops, or a minute has passed.
  void hold() {
    slot_.state.store(kDone);
    const int64_t give_up = meter::now_ns() + 60'000'000'000;
    while (!board_.release.load() && !board_.stop.load() && meter::now_ns() < give_up) sleep_us(500);
  }
  // Time-sliced: waits (state kWaiting) until the turn is ours, then shows `running`.
  void wait_turn(int32_t running) {
    if (o_.schedule != Schedule::TimeSliced) return;
    if (board_.turn.load() != plan_.index) {
      slot_.state.store(kWaiting);
      while (board_.turn.load() != plan_.index) {
        check_stop();
        sleep_us(20);
      }
    }
    slot_.state.store(running);
  }
  void step_done(std::span<const int32_t> ids) {
    out_.fold_tokens(ids);
    out_.token_ns.push_back(meter::now_ns());
    slot_.steps_done.store(int64_t(out_.token_ns.size()));
  }
  const InstancePlan& plan_;
  const ColocateOptions& o_;
  Board& board_;
  Slot& slot_;
  InstanceResult& out_;
  std::unique_ptr<meter::Ledger> ledger_;
};

}  // namespace

InstanceResult planned_result(const InstancePlan& plan) {
  InstanceResult r;
  r.name = plan.spec.name;
  r.model_path = plan.spec.model_path;
  r.threads = plan.threads;
  r.cpus = plan.cpus;
  r.batch = plan.spec.batch;
  r.n_prompt = plan.spec.n_prompt;
  r.n_gen = plan.spec.n_gen;
  return r;
}

void take_records(const meter::Ledger* ledger, InstanceResult& out) {
  out.end_ns = meter::now_ns();
  if (!ledger) return;
  out.records.assign(ledger->records().begin(), ledger->records().end());
  out.records_dropped = ledger->dropped();
}

void run_instance(const InstancePlan& plan, const ColocateOptions& options, Board& board, InstanceResult& out) {
  out = planned_result(plan);
  Slot& slot = board.slots[plan.index];
  Runner runner(plan, options, board, out);
  int32_t final_state = kDone;
  try {
    runner.run();
  } catch (const Stopped&) {
    runner.finish_records();
    out.error = "interrupted";
    final_state = kStopped;
  } catch (const std::bad_alloc&) {
    runner.finish_records();
    out.error = "out of memory";
    final_state = kFailed;
  } catch (const std::exception& e) {
    runner.finish_records();
    out.error = e.what();
    final_state = kFailed;
  }
  slot.state.store(final_state);
  if (options.schedule == Schedule::TimeSliced && board.turn.load() == plan.index) pass_turn(board, plan.index);
}

}  // namespace bwscope::colo
