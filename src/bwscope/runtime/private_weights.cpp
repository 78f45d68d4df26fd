#include "bwscope/runtime/private_weights.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "bwscope/base/error.h"

namespace bwscope {
namespace {

// Owns the anonymous copy and keeps whatever the model owned before alive (its views into a
// Hugging Face checkpoint, for instance, may still be used by norms read at load time).
struct PrivateCopy {
  std::shared_ptr<const void> previous;
  void* data = nullptr;
  size_t size = 0;
  ~PrivateCopy() {
    if (data) ::munmap(data, size);
  }
};

}  // namespace

uint64_t make_weights_private(LlamaModel& model, const kernels::Ops* interleave_for) {
  std::vector<kernels::Matrix*> matrices{&model.token_embd, &model.output};
  for (LayerWeights& l : model.layers)
    for (kernels::Matrix* m : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      matrices.push_back(m);
  // A tied output shares the embedding's bytes: copy each distinct tensor once, 64-byte aligned.
  std::map<const uint8_t*, size_t> offset_of;
  std::map<const uint8_t*, const kernels::Matrix*> first_of;
  size_t total = 0;
  for (const kernels::Matrix* m : matrices) {
    if (offset_of.count(m->data)) continue;
    offset_of[m->data] = total;
    first_of[m->data] = m;
    total += (m->n_bytes() + 63) / 64 * 64;
  }
  if (total == 0) return 0;
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("private weights: cannot allocate {} bytes: {}", total, std::strerror(errno));
  // Fault every page in with one call rather than one trap per 4 KiB page during the copy:
  // loading 1B F16 took 3.4-4.0 s with it against 3.2-9.6 s without (a VM, where each trap is
  // slow; 2026-12-03). MADV_HUGEPAGE made it slower (10-11 s) and decode no faster. Best effort:
  // kernels before 5.14 reject the advice, and the copy then faults pages in as it goes.
#ifdef MADV_POPULATE_WRITE
  ::madvise(p, total, MADV_POPULATE_WRITE);
#endif
  auto copy = std::make_shared<PrivateCopy>();
  copy->previous = model.storage;
  copy->data = p;
  copy->size = total;
  auto* base = static_cast<uint8_t*>(p);
  std::map<const uint8_t*, bool> interleaved;
  for (const auto& [src, offset] : offset_of) {
    const kernels::Matrix& m = *first_of.at(src);
    interleaved[src] = interleave_for && !m.interleaved && interleave_for->prefers_interleaved(m.type) &&
                       kernels::can_interleave(m);
    if (interleaved[src]) kernels::interleave_rows(m, base + offset);
    else std::memcpy(base + offset, src, m.n_bytes());
  }
  for (kernels::Matrix* m : matrices) {
    m->interleaved = m->interleaved || interleaved.at(m->data);
    m->data = base + offset_of.at(m->data);
  }
  model.storage = copy;
  return total;
}

}  // namespace bwscope
