#include "bwscope/runtime/weight_copy.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "bwscope/base/error.h"
#include "bwscope/base/thread_pool.h"

namespace bwscope {
namespace {

// Owns the mapping of a copy and keeps whatever the model owned before alive (its views into
// a Hugging Face checkpoint, for instance).
struct CopyMapping {
  std::shared_ptr<const void> previous;
  void* data = nullptr;
  size_t size = 0;
  ~CopyMapping() {
    if (data) ::munmap(data, size);
  }
};

// Rows [r0, r1) of m as a matrix of their own (r0 on a group boundary, so that an interleaved
// piece is the same bytes as that part of the whole matrix's copy).
kernels::Matrix rows_of(const kernels::Matrix& m, int64_t r0, int64_t r1) {
  kernels::Matrix part = m;
  part.rows = r1 - r0;
  part.data = m.data + size_t(r0) * m.row_bytes;
  return part;
}

}  // namespace

std::vector<kernels::Matrix*> weight_matrices(LlamaModel& model) {
  std::vector<kernels::Matrix*> out{&model.token_embd, &model.output};
  for (LayerWeights& l : model.layers)
    for (kernels::Matrix* m : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      out.push_back(m);
  return out;
}

CopyPlan plan_copy(const LlamaModel& model, const kernels::Ops* interleave_for) {
  CopyPlan plan;
  std::map<const uint8_t*, size_t> first;  // data pointer -> its item
  for (const kernels::Matrix* m : weight_matrices(const_cast<LlamaModel&>(model))) {
    if (auto it = first.find(m->data); it != first.end()) {
      plan.items.push_back(plan.items[it->second]);
      continue;
    }
    first[m->data] = plan.items.size();
    CopyPlan::Item item;
    item.offset = plan.bytes;
    item.bytes = m->n_bytes();
    item.interleaved = interleave_for && !m->interleaved && interleave_for->prefers_interleaved(m->type) && kernels::can_interleave(*m);
    plan.items.push_back(item);
    plan.bytes += (m->n_bytes() + 63) / 64 * 64;
  }
  return plan;
}

void write_copy(const LlamaModel& model, const CopyPlan& plan, uint8_t* dst, int threads) {
  const std::vector<kernels::Matrix*> ms = weight_matrices(const_cast<LlamaModel&>(model));
  if (ms.size() != plan.items.size()) fail("weight copy: the plan has {} matrices, the model {}", plan.items.size(), ms.size());
  // Pieces of about 8 MiB, each a whole number of 16-row groups (every interleaved layout's
  // group divides 16), so that any thread can write any piece.
  struct Piece {
    size_t matrix;
    int64_t r0, r1;
  };
  std::vector<Piece> pieces;
  std::map<size_t, bool> seen;
  for (size_t i = 0; i < ms.size(); ++i) {
    if (ms[i]->rows == 0) continue;  // a pipeline stage's absent embedding or output: no bytes, and
                                     // its offset is the next matrix's
    if (!seen.emplace(plan.items[i].offset, true).second) continue;  // a tied output: written once
    const kernels::Matrix& m = *ms[i];
    const int64_t step = std::max<int64_t>(16, int64_t((size_t(8) << 20) / std::max<size_t>(m.row_bytes, 1)) / 16 * 16);
    for (int64_t r = 0; r < m.rows; r += step) pieces.push_back({i, r, std::min(m.rows, r + step)});
  }
  if (pieces.empty()) return;
  ThreadPool pool(std::max(1, threads));
  const int n_parts = int(std::min<size_t>(pieces.size(), ThreadPool::kMaxParts));
  pool.run_parts(n_parts, [&](int part, int n, int) {
    for (size_t k = size_t(part); k < pieces.size(); k += size_t(n)) {
      const Piece& p = pieces[k];
      const kernels::Matrix& m = *ms[p.matrix];
      uint8_t* out = dst + plan.items[p.matrix].offset + size_t(p.r0) * m.row_bytes;
      const kernels::Matrix rows = rows_of(m, p.r0, p.r1);
      if (plan.items[p.matrix].interleaved) kernels::interleave_rows(rows, out);
      else std::memcpy(out, rows.data, rows.n_bytes());
    }
  });
}

void bind_copy(LlamaModel& model, const CopyPlan& plan, void* mapping, size_t mapping_bytes) {
  auto owner = std::make_shared<CopyMapping>();
  owner->previous = model.storage;
  owner->data = mapping;
  owner->size = mapping_bytes;
  const std::vector<kernels::Matrix*> ms = weight_matrices(model);
  if (ms.size() != plan.items.size()) fail("weight copy: the plan has {} matrices, the model {}", plan.items.size(), ms.size());
  const auto* base = static_cast<const uint8_t*>(mapping);
  for (size_t i = 0; i < ms.size(); ++i) {
    ms[i]->interleaved = ms[i]->interleaved || plan.items[i].interleaved;
    ms[i]->data = base + plan.items[i].offset;
  }
  model.storage = std::move(owner);
}

uint64_t make_weights_private(LlamaModel& model, const kernels::Ops* interleave_for, int threads) {
  const CopyPlan plan = plan_copy(model, interleave_for);
  if (plan.bytes == 0) return 0;
  void* p = ::mmap(nullptr, plan.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("private weights: cannot allocate {} bytes: {}", plan.bytes, std::strerror(errno));
  // Fault every page in with one call rather than one trap per 4 KiB page during the copy:
  // loading 1B F16 took 3.4-4.0 s with it against 3.2-9.6 s without (a VM, where each trap is
  // slow; 2026-12-03). MADV_HUGEPAGE made it slower (10-11 s) and decode no faster. Best effort:
  // kernels before 5.14 reject the advice, and the copy then faults pages in as it goes.
#ifdef MADV_POPULATE_WRITE
  ::madvise(p, plan.bytes, MADV_POPULATE_WRITE);
#endif
  try {
    write_copy(model, plan, static_cast<uint8_t*>(p), threads);
  } catch (...) {
    ::munmap(p, plan.bytes);
    throw;
  }
  bind_copy(model, plan, p, plan.bytes);
  // The file's weight pages are no longer read: out of this process's resident set (a private
  // copy of 1B Q4_0 measured 1.34 GiB of PSS with them, 0.65 of it the file's pages).
  if (model.file) model.file->mapping().release_pages();
  return plan.bytes;
}

}  // namespace bwscope
