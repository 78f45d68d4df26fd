#include "bwscope/parallel/split.h"

#include <cstring>

#include <fmt/core.h>

#include "bwscope/base/error.h"

namespace bwscope::parallel {
namespace {

// Rows [row0, row0 + n) of w: a view of the same bytes (row layout).
kernels::Matrix rows_of(const kernels::Matrix& w, int64_t row0, int64_t n) {
  if (w.interleaved) fail("split: the weights must be in the file's row layout before they are split");
  kernels::Matrix m = w;
  m.rows = n;
  m.data = w.data + size_t(row0) * w.row_bytes;
  return m;
}

// Columns [col0, col0 + n) of every row of w, copied to the end of `staging` (offsets are
// fixed up by the caller once staging stops growing, so the pointer is left null here).
kernels::Matrix cols_of(const kernels::Matrix& w, int64_t col0, int64_t n, std::vector<uint8_t>& staging, size_t* offset) {
  if (w.interleaved) fail("split: the weights must be in the file's row layout before they are split");
  const DTypeInfo& info = dtype_info(w.type);
  if (col0 % info.block_elems || n % info.block_elems)
    fail("split: columns {}..{} of a {} matrix cut its {}-value blocks", col0, col0 + n, info.name, info.block_elems);
  const size_t skip = size_t(col0 / info.block_elems) * info.block_bytes;
  kernels::Matrix m = w;
  m.cols = n;
  m.row_bytes = size_t(n / info.block_elems) * info.block_bytes;
  *offset = (staging.size() + 63) / 64 * 64;
  staging.resize(*offset + m.n_bytes());
  for (int64_t r = 0; r < w.rows; ++r)
    std::memcpy(staging.data() + *offset + size_t(r) * m.row_bytes, w.data + size_t(r) * w.row_bytes + skip, m.row_bytes);
  m.data = nullptr;
  return m;
}

}  // namespace

std::string_view split_name(SplitKind kind) {
  switch (kind) {
    case SplitKind::Tensor: return "tp";
    case SplitKind::Pipeline: return "pp";
    default: return "none";
  }
}

void check_split(const LlamaConfig& c, SplitKind kind, int ranks, const std::string& path) {
  const std::string where = path.empty() ? "" : path + ": ";
  const std::string flag = fmt::format("--{} {}", split_name(kind), ranks);
  if (ranks < 2) fail("{}: a split needs at least 2 ranks", flag);
  if (kind == SplitKind::Tensor) {
    if (c.n_kv_head % ranks) fail("{}: {}the model's {} KV heads do not divide among {} ranks", flag, where, c.n_kv_head, ranks);
    if (c.n_head % ranks) fail("{}: {}the model's {} attention heads do not divide among {} ranks", flag, where, c.n_head, ranks);
    if (c.n_ff % ranks) fail("{}: {}the model's FFN width {} does not divide among {} ranks", flag, where, c.n_ff, ranks);
  } else if (kind == SplitKind::Pipeline) {
    if (ranks > c.n_layers) fail("{}: {}more ranks than the model's {} layers", flag, where, c.n_layers);
  }
}

void check_split_types(const LlamaModel& m, SplitKind kind, int ranks) {
  if (kind != SplitKind::Tensor) return;
  const LlamaConfig& c = m.config;
  const int64_t q_cols = c.n_head * c.head_dim() / ranks, ff_cols = c.n_ff / ranks;
  for (const LayerWeights& L : m.layers) {
    for (const auto& [w, cols, name] : {std::tuple{&L.attn_output, q_cols, "attn_output"}, std::tuple{&L.ffn_down, ff_cols, "ffn_down"}}) {
      const DTypeInfo& info = dtype_info(w->type);
      if (cols % info.block_elems)
        fail("--tp {}: {} is {}, whose {}-value blocks a rank's {} columns would cut", ranks, name, info.name, info.block_elems, cols);
    }
  }
}

void check_split(const LlamaModel& model, SplitKind kind, int ranks, const std::string& path, HeadSplit head) {
  check_split(model.config, kind, ranks, path);
  check_split_types(model, kind, ranks);
  if (head == HeadSplit::Vocab && kind != SplitKind::Tensor) fail("--tp-head vocab: splits a tensor-parallel head; give --tp");
  if (head == HeadSplit::Vocab && model.output.rows % ranks)
    fail("--tp {} --tp-head vocab: {}{}the vocabulary of {} does not divide among {} ranks", ranks, path, path.empty() ? "" : ": ",
         model.output.rows, ranks);
}

LayerRange pipeline_layers(int64_t n_layers, int rank, int ranks) {
  const int64_t base = n_layers / ranks, extra = n_layers % ranks;
  LayerRange r;
  r.first = rank * base + std::min<int64_t>(rank, extra);
  r.last = r.first + base + (rank < extra ? 1 : 0);
  return r;
}

std::string_view head_split_name(HeadSplit h) { return h == HeadSplit::Vocab ? "vocab" : "replicate"; }

HeadSplit parse_head_split(const std::string& flag, const std::string& value) {
  if (value == "replicate") return HeadSplit::Replicate;
  if (value == "vocab" || value.empty()) return HeadSplit::Vocab;  // the default: faster (docs/parallel.md)
  fail("{} {}: the output head is replicate (whole on every rank) or vocab (split by vocabulary, logits gathered)", flag, value);
}

HeadSplit head_split_for(SplitKind kind, const std::string& value) {
  if (kind == SplitKind::Tensor) return parse_head_split("--tp-head", value);
  if (!value.empty()) fail("--tp-head {}: splits a tensor-parallel head; give --tp", value);
  return HeadSplit::Replicate;
}

LlamaModel tensor_part(const LlamaModel& full, int rank, int ranks, std::shared_ptr<std::vector<uint8_t>>& staging, HeadSplit head) {
  const LlamaConfig& c = full.config;
  check_split(full, SplitKind::Tensor, ranks, "", head);
  LlamaModel p;
  p.config = c;
  p.config.key_length = c.head_dim();
  p.config.n_head = c.n_head / ranks;
  p.config.n_kv_head = c.n_kv_head / ranks;
  p.config.n_ff = c.n_ff / ranks;
  p.file = full.file;
  p.storage = full.storage;
  p.token_embd = full.token_embd;
  p.output = full.output;
  if (head == HeadSplit::Vocab) {
    const int64_t v = full.output.rows / ranks;
    p.output = rows_of(full.output, rank * v, v);
  }
  p.output_norm = full.output_norm;
  p.rope_factors = full.rope_factors;
  p.has_rope_freqs_tensor = full.has_rope_freqs_tensor;
  p.tokenizer = full.tokenizer;
  p.tokenizer_problem = full.tokenizer_problem;
  const int64_t hd = c.head_dim(), q_rows = p.config.n_head * hd, kv_rows = p.config.n_kv_head * hd, ff = p.config.n_ff;
  staging = std::make_shared<std::vector<uint8_t>>();
  std::vector<std::pair<kernels::Matrix*, size_t>> fixups;
  p.layers.resize(full.layers.size());
  for (size_t l = 0; l < full.layers.size(); ++l) {
    const LayerWeights& F = full.layers[l];
    LayerWeights& L = p.layers[l];
    L.attn_norm = F.attn_norm;
    L.ffn_norm = F.ffn_norm;
    L.attn_q = rows_of(F.attn_q, rank * q_rows, q_rows);
    L.attn_k = rows_of(F.attn_k, rank * kv_rows, kv_rows);
    L.attn_v = rows_of(F.attn_v, rank * kv_rows, kv_rows);
    L.ffn_gate = rows_of(F.ffn_gate, rank * ff, ff);
    L.ffn_up = rows_of(F.ffn_up, rank * ff, ff);
    size_t off = 0;
    L.attn_output = cols_of(F.attn_output, rank * q_rows, q_rows, *staging, &off);
    fixups.push_back({&L.attn_output, off});
    L.ffn_down = cols_of(F.ffn_down, rank * ff, ff, *staging, &off);
    fixups.push_back({&L.ffn_down, off});
  }
  for (auto& [m, off] : fixups) m->data = staging->data() + off;
  return p;
}

LlamaModel pipeline_part(const LlamaModel& full, int rank, int ranks) {
  check_split(full.config, SplitKind::Pipeline, ranks);
  const LayerRange r = pipeline_layers(full.config.n_layers, rank, ranks);
  LlamaModel p;
  p.config = full.config;
  p.config.n_layers = r.last - r.first;
  p.file = full.file;
  p.storage = full.storage;
  p.rope_factors = full.rope_factors;
  p.has_rope_freqs_tensor = full.has_rope_freqs_tensor;
  p.tokenizer = full.tokenizer;
  p.tokenizer_problem = full.tokenizer_problem;
  p.layers.assign(full.layers.begin() + r.first, full.layers.begin() + r.last);
  auto empty = [](const kernels::Matrix& like) {
    kernels::Matrix m = like;
    m.rows = 0;
    m.data = nullptr;
    return m;
  };
  const bool first = rank == 0, last = rank == ranks - 1;
  p.token_embd = first ? full.token_embd : empty(full.token_embd);
  p.output = last ? full.output : empty(full.output);
  if (last) p.output_norm = full.output_norm;
  // A tied output reads the embedding: the last stage holds it as the output, not as the embedding.
  if (last && !first && full.output.data == full.token_embd.data) p.output = full.token_embd;
  return p;
}

}  // namespace bwscope::parallel
