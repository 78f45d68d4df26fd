// The attention KV cache: for each sequence and layer, keys and values laid out per KV head
// ([n_kv_head][n_ctx][head_dim]), so attention streams one head's positions contiguously.
#pragma once

#include <cstdint>
#include <vector>

#include "bwscope/base/dtype.h"

namespace bwscope {

class KvCache {
 public:
  KvCache() = default;
  // Throws Error if kv_type is not F32/F16 or the sizes overflow.
  KvCache(int64_t n_seq, int64_t n_layers, int64_t n_kv_head, int64_t head_dim, int64_t n_ctx, DType kv_type);

  DType type() const { return type_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_seq() const { return n_seq_; }
  int64_t head_stride() const { return n_ctx_ * head_dim_; }  // elements between KV heads
  size_t elem_bytes() const { return type_ == DType::F16 ? 2 : 4; }
  uint64_t total_bytes() const { return uint64_t(data_.size()); }
  // Bytes of one position's keys (or values) in one layer, all KV heads.
  uint64_t bytes_per_position() const { return uint64_t(n_kv_head_ * head_dim_) * elem_bytes(); }

  uint8_t* keys(int64_t seq, int64_t layer) { return base(seq, layer, 0); }
  uint8_t* values(int64_t seq, int64_t layer) { return base(seq, layer, 1); }
  // Address of (KV head, position) in the keys or values of (seq, layer).
  uint8_t* at(uint8_t* base, int64_t kv_head, int64_t pos) const {
    return base + size_t(kv_head * head_stride() + pos * head_dim_) * elem_bytes();
  }

 private:
  uint8_t* base(int64_t seq, int64_t layer, int which) {
    return data_.data() + size_t(((seq * n_layers_ + layer) * 2 + which) * n_kv_head_) * size_t(head_stride()) * elem_bytes();
  }
  int64_t n_seq_ = 0, n_layers_ = 0, n_kv_head_ = 0, head_dim_ = 0, n_ctx_ = 0;
  DType type_ = DType::F16;
  std::vector<uint8_t> data_;
};

}  // namespace bwscope
