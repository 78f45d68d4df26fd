#include "bwscope/engine/kv_cache.h"

#include "bwscope/base/error.h"

namespace bwscope {

KvCache::KvCache(int64_t n_seq, int64_t n_layers, int64_t n_kv_head, int64_t head_dim, int64_t n_ctx, DType kv_type)
    : n_seq_(n_seq), n_layers_(n_layers), n_kv_head_(n_kv_head), head_dim_(head_dim), n_ctx_(n_ctx), type_(kv_type) {
  if (kv_type != DType::F32 && kv_type != DType::F16) fail("KV cache type must be f32 or f16, not {}", dtype_name(kv_type));
  if (n_seq < 1 || n_ctx < 1) fail("KV cache needs at least one sequence and one position");
  uint64_t bytes = elem_bytes();
  for (int64_t f : {n_seq, n_layers, int64_t(2), n_kv_head, head_dim, n_ctx})
    if (__builtin_mul_overflow(bytes, uint64_t(f), &bytes)) fail("KV cache size overflows");
  data_.resize(size_t(bytes));
}

}  // namespace bwscope
