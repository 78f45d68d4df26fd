#include "bwscope/parallel/split_rank.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <new>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/engine/sampler.h"
#include "bwscope/parallel/mpi_world.h"
#include "bwscope/parallel/split_run.h"
#include "bwscope/runtime/split_plan.h"

namespace bwscope::parallel {
namespace {

// Thrown at a step the runner asked every rank to stop before; caught below.
struct Stopped {};

class RankRunner {
 public:
  RankRunner(const colo::SplitPlan& plan, World& world, colo::Board& board, InstanceResult& out)
      : plan_(plan), ip_(plan.ranks.at(size_t(world.rank()))), o_(colo::rank_options(plan)), world_(world), board_(board),
        slot_(board.slots[world.rank()]), out_(out), rank_(world.rank()), last_(world.size() - 1) {}

  void run() {
    const InstanceSpec& s = ip_.spec;
    const LlamaModel full = load_llama(s.model_path);
    out_.weight_type = std::string(dtype_name(full.layers.at(0).attn_q.type));
    EngineOptions eo = colo::engine_options_for(ip_, o_);
    const SplitKind kind = plan_.split.kind == "tp" ? SplitKind::Tensor : SplitKind::Pipeline;
    const HeadSplit head = plan_.split.vocab_split ? HeadSplit::Vocab : HeadSplit::Replicate;
    RankPart part = join_split(full, kind, world_.size(), *eo.ops, ip_.threads, head);
    out_.weight_bytes = part.weight_bytes;
    out_.weights = WeightMode::Private;
    // A pipeline's stages exchange only the sampled ids (below), not the last stage's logits.
    if (kind == SplitKind::Pipeline) part.hooks.share_logits = nullptr;
    eo.split = part.hooks;
    // Forward calls: the prompt's chunks (a pipeline cuts it into about `ranks` more), then
    // one per micro-batch per step; each holds 8 ops and up to 2 MPI calls per layer, and up
    // to 8 records outside the layers (embedding or receive, head, gather or send, the ids).
    const int64_t forwards = (s.batch * s.n_prompt + eo.max_batch - 1) / eo.max_batch + world_.size() + s.n_gen * s.batch;
    ledger_ = std::make_unique<meter::Ledger>(size_t(forwards * (8 + 10 * part.model.config.n_layers) + 64), uint32_t(rank_));
    eo.ledger = ledger_.get();
    Engine engine(part.model, eo);
    const EngineMemory mem = engine_memory(part.model.config, eo);
    out_.kv_bytes = mem.kv_bytes;
    out_.scratch_bytes = mem.scratch_bytes;
    n_vocab_ = full.config.n_vocab;
    const std::vector<std::vector<int32_t>> prompts = colo::make_prompts(ip_.seq_seeds, s.n_prompt, n_vocab_);

    // Warm-up, unrecorded, the same calls on every rank (they meet in MPI).
    ledger_->set_enabled(false);
    std::vector<BatchToken> batch;
    for (int64_t i = 0; i < std::min<int64_t>(s.n_prompt, 8); ++i) batch.push_back({prompts[0][size_t(i)], int32_t(i), 0, i == 0});
    engine.forward(batch);
    out_.clock_offset_ns = world_.clock_offset_ns();  // rank 0's clock minus ours, after a barrier
    out_.clock_round_trip_ns = world_.round_trip_ns();
    ledger_->set_enabled(true);
    ledger_->set_live_counter(&slot_.bytes);

    slot_.state.store(colo::kReady);
    out_.start_ns = colo::wait_for_go(board_, [this] {
      if (board_.stop.load()) throw Stopped{};
    });
    next_.assign(size_t(s.batch), 0);
    if (kind == SplitKind::Tensor) run_tensor(engine, prompts, eo.max_batch);
    else run_pipeline(engine, prompts, eo.max_batch);
    finish_records();
    out_.completed = true;
    slot_.state.store(colo::kDone);
    hold();
  }

  void finish_records() { colo::take_records(ledger_.get(), out_); }

 private:
  // Every rank holds the whole batch and the whole head (or its gathered logits): each
  // computes the same ids, in the same steps.
  void run_tensor(Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int64_t max_batch) {
    const InstanceSpec& s = ip_.spec;
    prefill_begin(engine);
    for (const std::vector<BatchToken>& chunk : colo::prompt_batches(prompts, max_batch)) take_logits(engine, chunk);
    out_.prefill_t1_ns = meter::now_ns();
    step_done();
    decode_begin(engine);
    for (int64_t step = 1; step < s.n_gen; ++step) {
      check_step(step);
      take_logits(engine, decode_batch(0, s.batch, step));
      step_done();
    }
  }

  // The stages in micro-batches: the first sends micro-batch j on and starts j + 1 while the
  // next stage works on j; the last samples and sends the ids back to the first, which needs
  // them for the micro-batch's next step.
  void run_pipeline(Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int64_t max_batch) {
    const InstanceSpec& s = ip_.spec;
    const int ranks = world_.size();
    prefill_begin(engine);
    // The prompt tokens in about `ranks` chunks, so the first stage has the next chunk going
    // while the second works on this one.
    const int64_t tokens = s.batch * s.n_prompt;
    for (const std::vector<BatchToken>& b : colo::prompt_batches(prompts, std::clamp<int64_t>((tokens + ranks - 1) / ranks, 1, max_batch))) {
      if (rank_ == last_) take_logits(engine, b);
      else engine.forward(b);
    }
    if (rank_ == last_) send_ids(next_.data(), s.batch, 0);
    if (rank_ == 0) recv_ids(next_.data(), s.batch, last_);
    out_.prefill_t1_ns = meter::now_ns();
    step_done();

    decode_begin(engine);
    const int64_t m = split_micro_batches(plan_.split, s.batch, ranks);
    auto first_seq = [&](int64_t j) { return j * s.batch / m; };
    for (int64_t step = 1; step < s.n_gen; ++step) {
      check_step(step);
      for (int64_t j = 0; j < m; ++j) {
        const int64_t q0 = first_seq(j), q1 = first_seq(j + 1);
        if (rank_ == 0 && step > 1) {
          recv_ids(next_.data() + q0, q1 - q0, last_);  // the previous step's ids of micro-batch j
          if (j == m - 1) step_done();
        }
        const std::vector<BatchToken> b = decode_batch(q0, q1, step);
        if (rank_ == last_) {
          take_logits(engine, b);
          send_ids(next_.data() + q0, q1 - q0, 0);
        } else {
          engine.forward(b);
        }
      }
      if (rank_ != 0) step_done();
    }
    if (rank_ == 0 && s.n_gen > 1) {
      for (int64_t j = 0; j < m; ++j) recv_ids(next_.data() + first_seq(j), first_seq(j + 1) - first_seq(j), last_);
      step_done();
    }
  }

  // The sampled ids between the last stage and the first, each call a Comm record as the
  // engine's own MPI calls are (waiting included).
  void send_ids(const int32_t* ids, int64_t n, int to) {
    const int64_t t0 = meter::now_ns();
    world_.send_ids(ids, n, to);
    note_comm(t0, n);
  }
  void recv_ids(int32_t* ids, int64_t n, int from) {
    const int64_t t0 = meter::now_ns();
    world_.recv_ids(ids, n, from);
    note_comm(t0, n);
  }
  void note_comm(int64_t t0, int64_t n_ids) {
    meter::Record r;
    r.t_begin_ns = t0;
    r.t_end_ns = meter::now_ns();
    r.act_bytes = uint64_t(n_ids) * sizeof(int32_t);
    r.phase = phase_;
    r.op = meter::Op::Comm;
    ledger_->record(r);
  }

  void prefill_begin(Engine& engine) {
    slot_.state.store(colo::kPrefill);
    engine.set_phase(phase_ = meter::Phase::Prefill);
    out_.prefill_t0_ns = meter::now_ns();
  }
  void decode_begin(Engine& engine) {
    slot_.state.store(colo::kDecode);
    engine.set_phase(phase_ = meter::Phase::Decode);
  }
  // Sequences [q0, q1) at decode step `step`.
  std::vector<BatchToken> decode_batch(int64_t q0, int64_t q1, int64_t step) const {
    std::vector<BatchToken> b;
    for (int64_t q = q0; q < q1; ++q) b.push_back({next_[size_t(q)], int32_t(ip_.spec.n_prompt + step - 1), int32_t(q), true});
    return b;
  }
  // Runs `b` and takes the argmax of each entry that asked for logits.
  void take_logits(Engine& engine, const std::vector<BatchToken>& b) { colo::take_argmax(engine.forward(b), b, n_vocab_, next_); }
  void check_step(int64_t step) {
    const int64_t at = board_.stop_at_step.load();
    if (at > 0 && step >= at) throw Stopped{};
  }
  // A step's tokens are out; the ranks that know the ids (every tp rank, the first and last
  // pipeline stages) fold them into the digest.
  void step_done() {
    if (plan_.split.kind == "tp" || rank_ == 0 || rank_ == last_)
      out_.fold_tokens(next_);
    out_.token_ns.push_back(meter::now_ns());
    slot_.steps_done.store(int64_t(out_.token_ns.size()));
  }
  // Keeps the engine until the runner has measured every rank's memory.
  void hold() {
    const int64_t give_up = meter::now_ns() + 60'000'000'000;
    while (!board_.release.load() && !board_.stop.load() && meter::now_ns() < give_up) ::usleep(500);
  }

  const colo::SplitPlan& plan_;
  const colo::InstancePlan& ip_;
  const ColocateOptions o_;
  World& world_;
  colo::Board& board_;
  colo::Slot& slot_;
  InstanceResult& out_;
  const int rank_, last_;
  int64_t n_vocab_ = 0;
  meter::Phase phase_ = meter::Phase::Other;
  std::vector<int32_t> next_;
  std::unique_ptr<meter::Ledger> ledger_;
};

// Puts a rank's times on rank 0's clock.
void shift_clock(InstanceResult& r) {
  const int64_t d = r.clock_offset_ns;
  if (d == 0) return;
  for (int64_t* t : {&r.start_ns, &r.prefill_t0_ns, &r.prefill_t1_ns, &r.end_ns})
    if (*t) *t += d;
  for (int64_t& t : r.token_ns) t += d;
  for (meter::Record& rec : r.records) rec.t_begin_ns += d, rec.t_end_ns += d;
}

}  // namespace

int split_rank_main(const std::string& plan_path) {
  const colo::SplitPlan plan = colo::decode_split_plan(read_file(plan_path), plan_path);
  World& world = World::get();
  if (world.size() != int(plan.ranks.size()))
    fail("{}: planned for {} ranks, started as {} (mpirun -np)", plan_path, plan.ranks.size(), world.size());
  colo::SharedBoard board = colo::SharedBoard::attach(plan.board);
  colo::Slot& slot = board->slots[world.rank()];
  slot.pid.store(int32_t(::getpid()));
  const colo::InstancePlan& ip = plan.ranks.at(size_t(world.rank()));
  InstanceResult out = colo::planned_result(ip);
  RankRunner runner(plan, world, *board, out);
  try {
    runner.run();
  } catch (const Stopped&) {
    runner.finish_records();
    out.error = "interrupted";
    slot.state.store(colo::kStopped);
  } catch (const std::exception& e) {
    // The others wait for this rank in a collective: end the run, saying why in one line.
    slot.state.store(colo::kFailed);
    fmt::print(stderr, "bwscope: rank {}: {}\n", world.rank(), dynamic_cast<const std::bad_alloc*>(&e) ? "out of memory" : e.what());
    std::fflush(stderr);
    world.abort(1);
  }
  shift_clock(out);
  const std::vector<std::string> all = world.gather_text(colo::encode_result(out));
  if (world.rank() == 0) write_file_atomic(plan.result, colo::encode_results(all));
  return 0;
}

}  // namespace bwscope::parallel
