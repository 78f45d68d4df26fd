#include "bwscope/engine/engine.h"

#include <algorithm>
#include <cmath>

#include "bwscope/base/error.h"

namespace bwscope {

// Activation buffers sized once for max_batch tokens.
struct Engine::Scratch {
  std::vector<float> x, xn, q, k, v, attn, gate, up, hidden, logits;
  std::vector<uint8_t> act;     // activations converted for a matmul (e.g. quantized to Q8_0)
  std::vector<float> scores;    // attention scratch: one row of n_ctx per worker
};

namespace {

// Element counts of every activation buffer: one definition for allocation and for estimates.
struct ScratchShape {
  size_t x, q, kv, ff, logits, act_bytes, scores;
  uint64_t bytes() const { return (3 * x + 2 * q + 2 * kv + 2 * ff + logits + scores) * sizeof(float) + act_bytes; }
};

ScratchShape scratch_shape(const LlamaConfig& c, const EngineOptions& o) {
  const auto n = size_t(o.max_batch), d = size_t(c.n_embd), q_dim = size_t(c.n_head * c.head_dim());
  ScratchShape s{};
  s.x = n * d;
  s.q = n * q_dim;
  s.kv = n * size_t(c.kv_dim());
  s.ff = n * size_t(c.n_ff);
  s.logits = n * size_t(c.n_vocab);
  // Converted activation rows are never larger than f32 rows of the widest input, plus alignment.
  s.act_bytes = n * (std::max({size_t(c.n_ff), d, q_dim}) * sizeof(float) + 64);
  s.scores = size_t(o.threads) * size_t(o.n_ctx);
  return s;
}

EngineOptions resolved(const LlamaConfig& c, EngineOptions o) {
  if (o.threads < 1) fail("threads must be at least 1 (got {})", o.threads);
  if (o.max_batch < 1) fail("batch size must be at least 1 (got {})", o.max_batch);
  if (o.n_seq < 1) fail("number of sequences must be at least 1 (got {})", o.n_seq);
  if (o.n_ctx <= 0) o.n_ctx = std::min<int64_t>(c.n_ctx_train, 4096);
  if (o.n_ctx > c.n_ctx_train) fail("context of {} tokens exceeds the model's context length {}", o.n_ctx, c.n_ctx_train);
  return o;
}

}  // namespace

EngineMemory engine_memory(const LlamaConfig& c, const EngineOptions& options) {
  EngineOptions o = resolved(c, options);
  EngineMemory m;
  m.kv_bytes = uint64_t(o.n_seq) * uint64_t(c.n_layers) * 2 * uint64_t(c.kv_dim()) * uint64_t(o.n_ctx) *
               (o.kv_type == DType::F16 ? 2 : 4);
  m.scratch_bytes = scratch_shape(c, o).bytes();
  return m;
}

Engine::Engine(const LlamaModel& model, EngineOptions options)
    : model_(model), options_(resolved(model.config, std::move(options))) {
  const LlamaConfig& c = model_.config;
  ops_ = options_.ops ? options_.ops : &kernels::best_ops();
  inv_freq_ = rope_inv_freq(c.rope_dim, c.rope_theta, model_.rope_factors);
  kv_ = KvCache(options_.n_seq, c.n_layers, c.n_kv_head, c.head_dim(), options_.n_ctx, options_.kv_type);
  pool_ = std::make_unique<ThreadPool>(options_.threads, options_.cpus, !options_.cpus.empty());

  const ScratchShape shape = scratch_shape(c, options_);
  s_ = std::make_unique<Scratch>();
  s_->x.resize(shape.x);
  s_->xn.resize(shape.x);
  s_->hidden.resize(shape.x);
  s_->q.resize(shape.q);
  s_->attn.resize(shape.q);
  s_->k.resize(shape.kv);
  s_->v.resize(shape.kv);
  s_->gate.resize(shape.ff);
  s_->up.resize(shape.ff);
  s_->logits.resize(shape.logits);
  s_->act.resize(shape.act_bytes);
  s_->scores.resize(shape.scores);
}

Engine::~Engine() = default;

void Engine::check_batch(std::span<const BatchToken> batch) const {
  if (batch.empty()) fail("forward: empty batch");
  if (int64_t(batch.size()) > options_.max_batch)
    fail("forward: batch of {} tokens exceeds the engine's max batch {}", batch.size(), options_.max_batch);
  for (const BatchToken& t : batch) {
    if (t.token < 0 || t.token >= model_.config.n_vocab) fail("token id {} is outside the vocabulary (0..{})", t.token, model_.config.n_vocab - 1);
    if (t.seq < 0 || t.seq >= kv_.n_seq()) fail("sequence {} is outside 0..{}", t.seq, kv_.n_seq() - 1);
    if (t.pos < 0 || t.pos >= kv_.n_ctx()) fail("position {} is outside the context of {} tokens", t.pos, kv_.n_ctx());
  }
}

int Engine::parts_for(int64_t units) const {
  // Several parts per thread: when the OS deschedules one thread (instances sharing cores),
  // the others take its unclaimed parts instead of waiting a whole time slice for it.
  constexpr int64_t kPartsPerThread = 8;
  return int(std::clamp<int64_t>(std::min(units, kPartsPerThread * pool_->size()), 1, ThreadPool::kMaxParts));
}

void Engine::matmuls(std::span<const kernels::Matrix* const> ws, const float* x, int64_t ldx, int64_t n_tok,
                     std::span<float* const> ys) {
  const DType act_type = ops_->act_type(ws[0]->type);
  for (const auto* w : ws)
    if (ops_->act_type(w->type) != act_type || w->cols != ws[0]->cols) fail("matmuls: inputs of one group must agree");
  const int64_t cols = ws[0]->cols;
  const size_t act_stride = (*row_bytes(act_type, uint64_t(cols)) + 63) / 64 * 64;
  uint8_t* act = s_->act.data();
  pool_->run_parts(parts_for(n_tok), [&](int part, int n_parts, int) {
    Range toks = split_range(n_tok, part, n_parts);
    if (toks.end > toks.begin)
      ops_->prepare_act(ws[0]->type, x + toks.begin * ldx, ldx, toks.end - toks.begin, cols, act + toks.begin * act_stride, act_stride);
  });
  int64_t units = 0;  // of 16 rows in the largest matrix
  for (const auto* w : ws) units = std::max(units, (w->rows + 15) / 16);
  pool_->run_parts(parts_for(units), [&](int part, int n_parts, int) {
    for (size_t i = 0; i < ws.size(); ++i) {
      // Rows in multiples of 16 keep each part aligned for the SIMD kernels. Tapered parts:
      // with equal ones, a thread waited half a part at the end of each region on average
      // (1B Q4_0 decode, 2 threads, 4 equal parts each: 5-6 % of each thread's time).
      Range rows = split_tapered(ws[i]->rows, part, n_parts, 16);
      if (rows.end > rows.begin) ops_->matmul(*ws[i], act, act_stride, n_tok, ys[i], ws[i]->rows, rows.begin, rows.end);
    }
  });
}

void Engine::attention(int64_t layer, std::span<const BatchToken> batch) {
  const LlamaConfig& c = model_.config;
  const int64_t n_tok = int64_t(batch.size()), hd = c.head_dim(), q_dim = c.n_head * hd, kv = c.kv_dim();
  // RoPE and cache writes first, so every token of the batch sees the keys of earlier ones.
  pool_->run_parts(parts_for(n_tok), [&](int part, int n_parts, int) {
    Range toks = split_range(n_tok, part, n_parts);
    for (int64_t t = toks.begin; t < toks.end; ++t) {
      const BatchToken& b = batch[size_t(t)];
      ops_->rope(s_->q.data() + t * q_dim, c.n_head, hd, b.pos, inv_freq_.data());
      ops_->rope(s_->k.data() + t * kv, c.n_kv_head, hd, b.pos, inv_freq_.data());
      uint8_t* keys = kv_.keys(b.seq, layer);
      uint8_t* values = kv_.values(b.seq, layer);
      for (int64_t h = 0; h < c.n_kv_head; ++h) {
        ops_->store_kv(s_->k.data() + t * kv + h * hd, hd, kv_.type(), kv_.at(keys, h, b.pos));
        ops_->store_kv(s_->v.data() + t * kv + h * hd, hd, kv_.type(), kv_.at(values, h, b.pos));
      }
    }
  });
  const float scale = 1.0f / std::sqrt(float(hd));
  pool_->run_parts(parts_for(n_tok * c.n_head), [&](int part, int n_parts, int worker) {
    Range items = split_range(n_tok * c.n_head, part, n_parts);
    for (int64_t item = items.begin; item < items.end;) {
      const int64_t t = item / c.n_head, head0 = item % c.n_head;
      const int64_t head1 = std::min(c.n_head, head0 + (items.end - item));
      const BatchToken& b = batch[size_t(t)];
      kernels::AttentionArgs a;
      a.q = s_->q.data() + t * q_dim;
      a.k = kv_.keys(b.seq, layer);
      a.v = kv_.values(b.seq, layer);
      a.kv_type = kv_.type();
      a.n_head = c.n_head;
      a.n_kv_head = c.n_kv_head;
      a.head_dim = hd;
      a.head_stride = kv_.head_stride();
      a.n_kv = b.pos + 1;
      a.scale = scale;
      a.scores = s_->scores.data() + size_t(worker) * size_t(kv_.n_ctx());
      a.out = s_->attn.data() + t * q_dim;
      a.head0 = head0;
      a.head1 = head1;
      ops_->attention(a);
      item += head1 - head0;
    }
  });
}

void Engine::note(meter::Op op, int64_t layer, int64_t t0, const meter::Record& bytes) {
  if (!options_.ledger) return;
  meter::Record r = bytes;
  r.t_begin_ns = t0;
  r.t_end_ns = meter::now_ns();
  r.op = op;
  r.layer = int16_t(layer);
  r.phase = phase_;
  options_.ledger->record(r);
}

namespace {

// Bytes and FLOPs of y = x · Wᵀ over n_tok tokens for a group of matrices sharing the input:
// each weight byte is read once per call (the kernels reuse a loaded row for every token).
meter::Record matmul_traffic(std::initializer_list<const kernels::Matrix*> ws, int64_t n_tok) {
  meter::Record r;
  r.act_bytes = uint64_t(n_tok * (*ws.begin())->cols) * sizeof(float);
  for (const auto* w : ws) {
    r.weight_bytes += w->n_bytes();
    r.act_bytes += uint64_t(n_tok * w->rows) * sizeof(float);
    r.flops += 2 * uint64_t(n_tok) * uint64_t(w->rows) * uint64_t(w->cols);
  }
  return r;
}

meter::Record elementwise_traffic(int64_t n_floats_read, int64_t n_floats_written, uint64_t weight_bytes = 0) {
  meter::Record r;
  r.act_bytes = uint64_t(n_floats_read + n_floats_written) * sizeof(float);
  r.weight_bytes = weight_bytes;
  return r;
}

}  // namespace

std::span<const float> Engine::forward(std::span<const BatchToken> batch) {
  check_batch(batch);
  const LlamaConfig& c = model_.config;
  const int64_t n_tok = int64_t(batch.size()), d = c.n_embd, q_dim = c.n_head * c.head_dim(), ff = c.n_ff, kv = c.kv_dim();
  Scratch& s = *s_;

  const EngineOptions::Split& split = options_.split;
  // A split run's MPI call, as one Comm record: bytes sent and received as its traffic.
  auto comm = [&](int64_t layer, int64_t n_floats_moved, const auto& call) {
    const int64_t t = clock();
    call();
    note(meter::Op::Comm, layer, t, elementwise_traffic(n_floats_moved, 0));
  };
  int64_t t0 = clock();
  if (split.recv_hidden) {
    comm(-1, n_tok * d, [&] { split.recv_hidden(s.x.data(), n_tok * d); });
  } else {
    const kernels::Matrix& e = model_.token_embd;
    for (int64_t t = 0; t < n_tok; ++t)
      kernels::dequantize_matrix_row(e, batch[size_t(t)].token, s.x.data() + t * d);
    note(meter::Op::Embed, -1, t0, elementwise_traffic(0, n_tok * d, uint64_t(n_tok) * e.row_bytes));
  }

  auto norm_all = [&](const std::vector<float>& weight) {
    pool_->run_parts(parts_for(n_tok), [&](int part, int n_parts, int) {
      Range toks = split_range(n_tok, part, n_parts);
      for (int64_t t = toks.begin; t < toks.end; ++t) ops_->rmsnorm(s.x.data() + t * d, weight.data(), d, c.rms_eps, s.xn.data() + t * d);
    });
  };
  auto add_residual = [&](const float* delta) {
    for (int64_t i = 0; i < n_tok * d; ++i) s.x[size_t(i)] += delta[i];
  };
  // x += input · Wᵀ, the projection back to the residual stream (attn_output, down). Split by
  // tensor parallel, each rank's product is a partial sum: its record, the all-reduce, then the add.
  auto project_and_add = [&](meter::Op op, int64_t layer, int64_t t_begin, const kernels::Matrix& w, const float* input, int64_t ld) {
    const kernels::Matrix* ws[] = {&w};
    float* ys[] = {s.hidden.data()};
    matmuls(ws, input, ld, n_tok, ys);
    meter::Record traffic = matmul_traffic({&w}, n_tok);
    traffic.act_bytes += uint64_t(2 * n_tok * d) * sizeof(float);  // the residual add
    if (split.all_reduce) {
      note(op, layer, t_begin, traffic);
      comm(layer, 2 * n_tok * d, [&] { split.all_reduce(s.hidden.data(), n_tok * d); });
      add_residual(s.hidden.data());
    } else {
      add_residual(s.hidden.data());
      note(op, layer, t_begin, traffic);
    }
  };
  // KV traffic of this batch's attention: every token writes its K and V rows and reads the
  // cached positions 0..pos of its sequence.
  meter::Record attn_traffic = elementwise_traffic(n_tok * (q_dim + 2 * kv), n_tok * q_dim);
  const uint64_t kv_pos_bytes = 2 * kv_.bytes_per_position();
  for (const BatchToken& b : batch) {
    attn_traffic.kv_write_bytes += kv_pos_bytes;
    attn_traffic.kv_read_bytes += kv_pos_bytes * uint64_t(b.pos + 1);
    attn_traffic.flops += 4 * uint64_t(c.n_head) * uint64_t(c.head_dim()) * uint64_t(b.pos + 1);
  }

  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& L = model_.layers[size_t(layer)];
    t0 = clock();
    norm_all(L.attn_norm);
    note(meter::Op::AttnNorm, layer, t0, elementwise_traffic(n_tok * d, n_tok * d, uint64_t(d) * sizeof(float)));

    t0 = clock();
    const kernels::Matrix* qkv[] = {&L.attn_q, &L.attn_k, &L.attn_v};
    float* qkv_out[] = {s.q.data(), s.k.data(), s.v.data()};
    if (L.attn_q.type == L.attn_k.type && L.attn_k.type == L.attn_v.type) {
      matmuls(qkv, s.xn.data(), d, n_tok, qkv_out);
    } else {  // mixed-type files (e.g. llama.cpp's K-quant mixes) multiply one at a time
      for (int i = 0; i < 3; ++i) matmuls(std::span(qkv + i, 1), s.xn.data(), d, n_tok, std::span(qkv_out + i, 1));
    }
    note(meter::Op::Qkv, layer, t0, matmul_traffic({&L.attn_q, &L.attn_k, &L.attn_v}, n_tok));

    t0 = clock();
    attention(layer, batch);
    note(meter::Op::Attention, layer, t0, attn_traffic);

    t0 = clock();
    project_and_add(meter::Op::AttnOutput, layer, t0, L.attn_output, s.attn.data(), q_dim);

    t0 = clock();
    norm_all(L.ffn_norm);
    note(meter::Op::FfnNorm, layer, t0, elementwise_traffic(n_tok * d, n_tok * d, uint64_t(d) * sizeof(float)));

    t0 = clock();
    const kernels::Matrix* gu[] = {&L.ffn_gate, &L.ffn_up};
    float* gu_out[] = {s.gate.data(), s.up.data()};
    if (L.ffn_gate.type == L.ffn_up.type) {
      matmuls(gu, s.xn.data(), d, n_tok, gu_out);
    } else {
      for (int i = 0; i < 2; ++i) matmuls(std::span(gu + i, 1), s.xn.data(), d, n_tok, std::span(gu_out + i, 1));
    }
    note(meter::Op::GateUp, layer, t0, matmul_traffic({&L.ffn_gate, &L.ffn_up}, n_tok));

    t0 = clock();
    // Parts of at least 16 Ki values: a decode step's 8 Ki run on the caller, with no wake-up.
    pool_->run_parts(parts_for((n_tok * ff + 16383) / 16384), [&](int part, int n_parts, int) {
      Range r = split_range(n_tok * ff, part, n_parts, 64);
      if (r.end > r.begin) ops_->swiglu(s.gate.data() + r.begin, s.up.data() + r.begin, r.end - r.begin, s.gate.data() + r.begin);
    });
    note(meter::Op::SwiGLU, layer, t0, elementwise_traffic(2 * n_tok * ff, n_tok * ff));

    t0 = clock();
    project_and_add(meter::Op::Down, layer, t0, L.ffn_down, s.gate.data(), ff);
  }

  int64_t n_logits = 0;
  for (const BatchToken& b : batch) n_logits += b.logits;
  if (split.send_hidden) {  // a stage before the last: on to the next, then its logits back
    comm(-1, n_tok * d, [&] { split.send_hidden(s.x.data(), n_tok * d); });
    if (n_logits == 0 || !split.share_logits) return {};  // no hook: the caller hears from the last stage
    comm(-1, n_logits * c.n_vocab, [&] { split.share_logits(s.logits.data(), n_logits * c.n_vocab); });
    return {s.logits.data(), size_t(n_logits * c.n_vocab)};
  }

  // Final norm and output projection only for the entries that asked for logits.
  t0 = clock();
  int64_t n_out = 0;
  for (int64_t t = 0; t < n_tok; ++t) {
    if (!batch[size_t(t)].logits) continue;
    ops_->rmsnorm(s.x.data() + t * d, model_.output_norm.data(), d, c.rms_eps, s.xn.data() + n_out * d);
    ++n_out;
  }
  if (n_out == 0) return {};
  note(meter::Op::OutputNorm, -1, t0, elementwise_traffic(n_out * d, n_out * d, uint64_t(d) * sizeof(float)));
  t0 = clock();
  const kernels::Matrix* out[] = {&model_.output};
  float* out_y[] = {s.logits.data()};
  matmuls(out, s.xn.data(), d, n_out, out_y);
  note(meter::Op::Output, -1, t0, matmul_traffic({&model_.output}, n_out));
  if (split.gather_logits)  // a vocabulary-split head: every rank's share to every rank
    comm(-1, n_out * c.n_vocab, [&] { split.gather_logits(s.logits.data(), n_out, model_.output.rows); });
  if (split.share_logits)  // the last stage: its logits to the others
    comm(-1, n_out * c.n_vocab, [&] { split.share_logits(s.logits.data(), n_out * c.n_vocab); });
  return {s.logits.data(), size_t(n_out * c.n_vocab)};
}

}  // namespace bwscope
