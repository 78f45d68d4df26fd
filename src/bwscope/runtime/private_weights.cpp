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

uint64_t make_weights_private(LlamaModel& model) {
  std::vector<kernels::Matrix*> matrices{&model.token_embd, &model.output};
  for (LayerWeights& l : model.layers)
    for (kernels::Matrix* m : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      matrices.push_back(m);
  // A tied output shares the embedding's bytes: copy each distinct tensor once, 64-byte aligned.
  std::map<const uint8_t*, size_t> offset_of;
  size_t total = 0;
  for (const kernels::Matrix* m : matrices) {
    if (offset_of.count(m->data)) continue;
    offset_of[m->data] = total;
    total += (m->n_bytes() + 63) / 64 * 64;
  }
  if (total == 0) return 0;
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("private weights: cannot allocate {} bytes: {}", total, std::strerror(errno));
  auto copy = std::make_shared<PrivateCopy>();
  copy->previous = model.storage;
  copy->data = p;
  copy->size = total;
  auto* base = static_cast<uint8_t*>(p);
  for (const auto& [src, offset] : offset_of) {
    size_t n = 0;
    for (const kernels::Matrix* m : matrices)
      if (m->data == src) n = m->n_bytes();
    std::memcpy(base + offset, src, n);
  }
  for (kernels::Matrix* m : matrices) m->data = base + offset_of.at(m->data);
  model.storage = copy;
  return total;
}

}  // namespace bwscope
