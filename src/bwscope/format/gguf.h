// GGUF v3 (llama.cpp's model format): a validating, memory-mapped reader with zero-copy tensor
// views, and an atomic writer. Every count, length, size and offset from a file is checked
// before use; a malformed file throws Error("<path>: <problem>").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/base/mapped_file.h"

namespace bwscope::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;  // GGML_MAX_DIMS

// Metadata value types, numbered as in the GGUF spec.
enum class Type : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view type_name(Type t);

// One metadata value. Payload by type: unsigned ints -> uint64_t, signed ints -> int64_t,
// F32/F64 -> double, BOOL -> bool, STRING -> std::string. An ARRAY keeps its element type in
// `elem_type` and its items as vector<uint64_t> (unsigned ints), vector<int64_t> (signed),
// vector<double> (floats), vector<bool>, vector<string>, or vector<Value> (nested arrays).
struct Value {
  using Payload = std::variant<uint64_t, int64_t, double, bool, std::string,
                               std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>,
                               std::vector<bool>, std::vector<std::string>, std::vector<Value>>;
  Type type = Type::U32;
  Type elem_type = Type::U8;  // meaningful only when type == ARRAY
  Payload payload = uint64_t(0);

  static Value u8(uint8_t v) { return {Type::U8, Type::U8, uint64_t(v)}; }
  static Value i8(int8_t v) { return {Type::I8, Type::U8, int64_t(v)}; }
  static Value u16(uint16_t v) { return {Type::U16, Type::U8, uint64_t(v)}; }
  static Value i16(int16_t v) { return {Type::I16, Type::U8, int64_t(v)}; }
  static Value u32(uint32_t v) { return {Type::U32, Type::U8, uint64_t(v)}; }
  static Value i32(int32_t v) { return {Type::I32, Type::U8, int64_t(v)}; }
  static Value u64(uint64_t v) { return {Type::U64, Type::U8, v}; }
  static Value i64(int64_t v) { return {Type::I64, Type::U8, v}; }
  static Value f32(float v) { return {Type::F32, Type::U8, double(v)}; }
  static Value f64(double v) { return {Type::F64, Type::U8, v}; }
  static Value boolean(bool v) { return {Type::BOOL, Type::U8, v}; }
  static Value str(std::string v) { return {Type::STRING, Type::U8, std::move(v)}; }
  static Value strings(std::vector<std::string> v) { return {Type::ARRAY, Type::STRING, std::move(v)}; }
  static Value i32s(const std::vector<int32_t>& v);
  static Value u32s(const std::vector<uint32_t>& v);
  static Value f32s(const std::vector<float>& v);
  // A generic array; `elem_type` must match the payload's alternative (checked by the writer).
  static Value array(Type elem_type, Payload items) { return {Type::ARRAY, elem_type, std::move(items)}; }

  // Checked reads. as_uint: any integer type holding a value >= 0. as_int: any integer type
  // that fits int64. as_float: F32/F64 or any integer. nullopt when the type does not fit.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  const std::string* as_string() const;                 // STRING only
  const std::vector<std::string>* as_strings() const;   // ARRAY of STRING only
  // ARRAY of any integer type, converted; nullopt if not an integer array or a value does not fit.
  std::optional<std::vector<int64_t>> as_ints() const;
  // ARRAY of F32/F64.
  const std::vector<double>* as_floats() const;
  size_t array_size() const;  // 0 for non-arrays

  bool operator==(const Value&) const = default;
};

struct Tensor {
  std::string name;
  DType type = DType::F32;
  std::vector<uint64_t> ne;  // dims, fastest-varying first (ne[0] = row length)
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  uint64_t offset = 0;              // from the start of the file (data section offset included)
  std::span<const uint8_t> bytes;   // view into the mapping
};

class File {
 public:
  // Maps and validates `path`. Throws Error("<path>: <problem>") on anything malformed:
  // bad magic, unsupported version, truncation anywhere, counts or string lengths past the end,
  // duplicate keys or tensor names, more than 4 dims, dims whose products overflow, unknown
  // tensor types, a row length not a multiple of the type's block, a bad general.alignment,
  // tensor offsets not aligned, or tensor data outside the file.
  static File open(const std::string& path);

  const std::string& path() const { return map_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return map_.size(); }
  const MappedFile& mapping() const { return map_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  // Tensors in file order.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find_tensor(std::string_view name) const;

 private:
  MappedFile map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
};

// Builds a GGUF v3 file. Metadata keeps insertion order; tensors are laid out in the order
// added, each at an offset aligned to `alignment` (also written as general.alignment, u32,
// unless the caller set that key itself).
class Writer {
 public:
  using Fill = std::function<void(std::span<uint8_t> dst)>;

  explicit Writer(uint64_t alignment = kDefaultAlignment);
  void set(std::string key, Value value);  // replaces an existing key in place
  // `fill` writes exactly the tensor's bytes into dst (sized from type and ne); called once,
  // in order, during write().
  void add_tensor(std::string name, DType type, std::vector<uint64_t> ne, Fill fill);
  void add_tensor(std::string name, DType type, std::vector<uint64_t> ne, std::span<const uint8_t> data);
  // Writes to `path` atomically (temporary name, then rename). Throws Error on bad input
  // (row length not a multiple of the block, duplicate tensor names) or I/O failure; no file
  // appears at `path` unless the whole write succeeded.
  void write(const std::string& path) const;
  uint64_t total_bytes() const;  // size of the file write() would produce

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<uint64_t> ne;
    uint64_t n_bytes;
    Fill fill;
  };
  struct Layout;
  Layout layout() const;

  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace bwscope::gguf
