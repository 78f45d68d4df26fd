// GGUF v3 reader: every count, length, size and offset is checked against the bytes that are
// left before it is used, so a malformed file is an Error naming the problem, never a crash
// or a huge allocation. Also the Value helpers shared with the writer.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

#include <unordered_set>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"

namespace bwscope::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF is little-endian; reads are plain memcpy");

constexpr uint64_t kMaxKeyBytes = 64 * 1024;
constexpr uint64_t kMaxStringBytes = 256ull << 20;
constexpr int kMaxArrayDepth = 4;

// Minimum bytes one element of a type takes in the file (for rejecting absurd counts).
uint64_t min_size(Type t) {
  switch (t) {
    case Type::U8: case Type::I8: case Type::BOOL: return 1;
    case Type::U16: case Type::I16: return 2;
    case Type::U32: case Type::I32: case Type::F32: return 4;
    case Type::U64: case Type::I64: case Type::F64: case Type::STRING: return 8;
    case Type::ARRAY: return 12;
  }
  return 1;
}

bool known_type(uint32_t t) { return t <= uint32_t(Type::F64); }

class Cursor {
 public:
  Cursor(const std::string& path, std::span<const uint8_t> bytes) : path_(path), bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > left()) fail("{}: truncated: {} at byte {} needs {} bytes, {} left", path_, what, pos_, n, left());
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what, uint64_t max_len) {
    const uint64_t at = pos_;
    const auto n = read<uint64_t>(what);
    if (n > max_len) fail("{}: {} at byte {} has length {}, more than the limit of {}", path_, what, at, n, max_len);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), size_t(n));
    pos_ += n;
    return s;
  }

 private:
  const std::string& path_;
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

template <typename T>
std::vector<T> read_numbers(Cursor& c, Type elem, uint64_t count) {
  std::vector<T> out;
  out.reserve(size_t(count));  // count was checked against the bytes left
  for (uint64_t i = 0; i < count; ++i) {
    switch (elem) {
      case Type::U8: out.push_back(T(c.read<uint8_t>("array item"))); break;
      case Type::I8: out.push_back(T(c.read<int8_t>("array item"))); break;
      case Type::U16: out.push_back(T(c.read<uint16_t>("array item"))); break;
      case Type::I16: out.push_back(T(c.read<int16_t>("array item"))); break;
      case Type::U32: out.push_back(T(c.read<uint32_t>("array item"))); break;
      case Type::I32: out.push_back(T(c.read<int32_t>("array item"))); break;
      case Type::U64: out.push_back(T(c.read<uint64_t>("array item"))); break;
      case Type::I64: out.push_back(T(c.read<int64_t>("array item"))); break;
      case Type::F32: out.push_back(T(c.read<float>("array item"))); break;
      case Type::F64: out.push_back(T(c.read<double>("array item"))); break;
      default: break;
    }
  }
  return out;
}

Value read_value(Cursor& c, const std::string& path, const std::string& key, Type type, int depth) {
  switch (type) {
    case Type::U8: return Value::u8(c.read<uint8_t>("value"));
    case Type::I8: return Value::i8(c.read<int8_t>("value"));
    case Type::U16: return Value::u16(c.read<uint16_t>("value"));
    case Type::I16: return Value::i16(c.read<int16_t>("value"));
    case Type::U32: return Value::u32(c.read<uint32_t>("value"));
    case Type::I32: return Value::i32(c.read<int32_t>("value"));
    case Type::U64: return Value::u64(c.read<uint64_t>("value"));
    case Type::I64: return Value::i64(c.read<int64_t>("value"));
    case Type::F32: return Value::f32(c.read<float>("value"));
    case Type::F64: return Value::f64(c.read<double>("value"));
    case Type::BOOL: {
      auto b = c.read<uint8_t>("value");
      if (b > 1) fail("{}: metadata '{}' is a bool holding {}", path, key, b);
      return Value::boolean(b != 0);
    }
    case Type::STRING: return Value::str(c.read_string("string value", kMaxStringBytes));
    case Type::ARRAY: {
      if (depth >= kMaxArrayDepth) fail("{}: metadata '{}' nests arrays deeper than {}", path, key, kMaxArrayDepth);
      const auto elem_raw = c.read<uint32_t>("array type");
      if (!known_type(elem_raw)) fail("{}: metadata '{}' is an array of unknown value type {}", path, key, elem_raw);
      const Type elem = Type(elem_raw);
      const uint64_t at = c.pos();
      const auto count = c.read<uint64_t>("array length");
      if (count > c.left() / min_size(elem))
        fail("{}: truncated: metadata '{}' at byte {} claims {} items of {}, only {} bytes left", path, key, at, count,
             type_name(elem), c.left());
      switch (elem) {
        case Type::U8: case Type::U16: case Type::U32: case Type::U64:
          return Value::array(elem, read_numbers<uint64_t>(c, elem, count));
        case Type::I8: case Type::I16: case Type::I32: case Type::I64:
          return Value::array(elem, read_numbers<int64_t>(c, elem, count));
        case Type::F32: case Type::F64:
          return Value::array(elem, read_numbers<double>(c, elem, count));
        case Type::BOOL: {
          std::vector<bool> v;
          for (uint64_t i = 0; i < count; ++i) {
            auto b = c.read<uint8_t>("array item");
            if (b > 1) fail("{}: metadata '{}' is a bool array holding {}", path, key, b);
            v.push_back(b != 0);
          }
          return Value::array(elem, std::move(v));
        }
        case Type::STRING: {
          std::vector<std::string> v;
          v.reserve(size_t(std::min<uint64_t>(count, 1u << 20)));  // a std::string is 4x its minimum 8 bytes on disk
          for (uint64_t i = 0; i < count; ++i) v.push_back(c.read_string("string item", kMaxStringBytes));
          return Value::array(elem, std::move(v));
        }
        case Type::ARRAY: {
          std::vector<Value> v;
          for (uint64_t i = 0; i < count; ++i) v.push_back(read_value(c, path, key, Type::ARRAY, depth + 1));
          return Value::array(elem, std::move(v));
        }
      }
    }
  }
  fail("{}: metadata '{}' has unknown value type {}", path, key, uint32_t(type));
}

}  // namespace

std::string_view type_name(Type t) {
  static constexpr std::string_view names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                               "bool", "string", "array", "u64", "i64", "f64"};
  return uint32_t(t) < std::size(names) ? names[uint32_t(t)] : "unknown";
}

Value Value::i32s(const std::vector<int32_t>& v) { return array(Type::I32, std::vector<int64_t>(v.begin(), v.end())); }
Value Value::u32s(const std::vector<uint32_t>& v) { return array(Type::U32, std::vector<uint64_t>(v.begin(), v.end())); }
Value Value::f32s(const std::vector<float>& v) { return array(Type::F32, std::vector<double>(v.begin(), v.end())); }

std::optional<uint64_t> Value::as_uint() const {
  if (type == Type::ARRAY || type == Type::STRING || type == Type::BOOL || type == Type::F32 || type == Type::F64) return std::nullopt;
  if (auto* u = std::get_if<uint64_t>(&payload)) return *u;
  if (auto* i = std::get_if<int64_t>(&payload); i && *i >= 0) return uint64_t(*i);
  return std::nullopt;
}
std::optional<int64_t> Value::as_int() const {
  if (type == Type::ARRAY || type == Type::STRING || type == Type::BOOL || type == Type::F32 || type == Type::F64) return std::nullopt;
  if (auto* i = std::get_if<int64_t>(&payload)) return *i;
  if (auto* u = std::get_if<uint64_t>(&payload); u && *u <= uint64_t(INT64_MAX)) return int64_t(*u);
  return std::nullopt;
}
std::optional<double> Value::as_float() const {
  if (auto* f = std::get_if<double>(&payload); f && type != Type::ARRAY) return *f;
  if (auto i = as_int()) return double(*i);
  if (auto u = as_uint()) return double(*u);
  return std::nullopt;
}
const std::string* Value::as_string() const { return type == Type::STRING ? std::get_if<std::string>(&payload) : nullptr; }
const std::vector<std::string>* Value::as_strings() const {
  return type == Type::ARRAY && elem_type == Type::STRING ? std::get_if<std::vector<std::string>>(&payload) : nullptr;
}
std::optional<std::vector<int64_t>> Value::as_ints() const {
  if (type != Type::ARRAY) return std::nullopt;
  if (auto* i = std::get_if<std::vector<int64_t>>(&payload)) return *i;
  if (auto* u = std::get_if<std::vector<uint64_t>>(&payload)) {
    std::vector<int64_t> out;
    for (uint64_t x : *u) {
      if (x > uint64_t(INT64_MAX)) return std::nullopt;
      out.push_back(int64_t(x));
    }
    return out;
  }
  return std::nullopt;
}
const std::vector<double>* Value::as_floats() const {
  return type == Type::ARRAY ? std::get_if<std::vector<double>>(&payload) : nullptr;
}
size_t Value::array_size() const {
  if (type != Type::ARRAY) return 0;
  return std::visit([](const auto& p) -> size_t {
    if constexpr (requires { p.size(); } && !std::is_same_v<std::decay_t<decltype(p)>, std::string>) return p.size();
    else return 0;
  }, payload);
}

const Value* File::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

const Tensor* File::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

File File::open(const std::string& path) {
  File f;
  f.map_ = MappedFile(path);
  Cursor c(path, f.map_.bytes());
  if (f.map_.size() < 4) fail("{}: file of {} bytes is too small to be GGUF", path, f.map_.size());
  const auto magic = c.read<uint32_t>("magic");
  if (magic != kMagic) fail("{}: bad magic 0x{:08x} (not a GGUF file)", path, magic);
  f.version_ = c.read<uint32_t>("version");
  if (f.version_ == __builtin_bswap32(kVersion)) fail("{}: big-endian GGUF files are not supported", path);
  if (f.version_ != kVersion)
    fail("{}: GGUF version {} is not supported (only version {}; v1 and v2 files must be converted)", path, f.version_,
         kVersion);
  const auto n_tensors = c.read<uint64_t>("tensor count");
  const auto n_kv = c.read<uint64_t>("metadata count");
  // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13) fail("{}: truncated: {} metadata entries cannot fit in {} bytes", path, n_kv, c.left());
  if (n_tensors > c.left() / 32 || n_kv * 13 + n_tensors * 32 > c.left())  // no overflow: each bounded by left()
    fail("{}: truncated: {} tensors and {} metadata entries cannot fit in {} bytes", path, n_tensors, n_kv, c.left());

  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key", kMaxKeyBytes);
    const auto type_raw = c.read<uint32_t>("value type");
    if (!known_type(type_raw)) fail("{}: metadata '{}' has unknown value type {}", path, key, type_raw);
    Value v = read_value(c, path, key, Type(type_raw), 0);
    if (!keys.insert(key).second) fail("{}: metadata key '{}' appears twice", path, key);
    f.metadata_.emplace_back(std::move(key), std::move(v));
  }
  if (const Value* a = f.find("general.alignment")) {
    if (a->type != Type::U32) fail("{}: general.alignment has type {}, expected u32", path, type_name(a->type));
    const uint64_t align = *a->as_uint();
    if (align == 0 || (align & (align - 1)) != 0)
      fail("{}: general.alignment {} is not a nonzero power of two", path, align);
    f.alignment_ = align;
  }

  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Tensor t;
    t.name = c.read_string("tensor name", kMaxKeyBytes);
    if (!names.insert(t.name).second) fail("{}: tensor '{}' appears twice", path, t.name);
    const auto n_dims = c.read<uint32_t>("tensor dims");
    if (n_dims < 1 || n_dims > kMaxDims) fail("{}: tensor '{}' has {} dims (1 to {} allowed)", path, t.name, n_dims, kMaxDims);
    for (uint32_t d = 0; d < n_dims; ++d) t.ne.push_back(c.read<uint64_t>("tensor dim"));
    // ggml keeps dims and element counts in int64_t: every product must fit it.
    t.n_elements = 1;
    for (uint64_t ne : t.ne)
      if (ne > uint64_t(INT64_MAX) || __builtin_mul_overflow(t.n_elements, ne, &t.n_elements) ||
          t.n_elements > uint64_t(INT64_MAX))
        fail("{}: tensor '{}' dims {} overflow", path, t.name, fmt::join(t.ne, " x "));
    const auto type_raw = c.read<uint32_t>("tensor type");
    const DTypeInfo* info = dtype_info(type_raw);
    if (!info) fail("{}: tensor '{}' has unknown type {}", path, t.name, type_raw);
    t.type = info->type;
    if (t.ne[0] % info->block_elems != 0)
      fail("{}: tensor '{}' rows of {} values are not a multiple of {}'s block of {}", path, t.name, t.ne[0], info->name,
           info->block_elems);
    const auto row = row_bytes(t.type, t.ne[0]);
    t.n_bytes = row.value_or(0);
    bool overflow = !row;
    for (uint32_t d = 1; d < n_dims; ++d) overflow = overflow || __builtin_mul_overflow(t.n_bytes, t.ne[d], &t.n_bytes);
    if (overflow) fail("{}: tensor '{}' dims {} of {}: byte size overflows", path, t.name, fmt::join(t.ne, " x "), info->name);
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.offset % f.alignment_ != 0)
      fail("{}: tensor '{}' offset {} is not a multiple of the alignment {}", path, t.name, t.offset, f.alignment_);
    f.tensors_.push_back(std::move(t));
  }

  f.data_offset_ = (c.pos() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  const uint64_t size = f.map_.size();
  for (Tensor& t : f.tensors_) {
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(f.data_offset_, t.offset, &begin) || __builtin_add_overflow(begin, t.n_bytes, &end) || end > size)
      fail("{}: tensor '{}' data [offset {}, size {}] ends past end of file ({} bytes)", path, t.name, t.offset, t.n_bytes, size);
    t.offset = begin;
    t.bytes = std::span<const uint8_t>(f.map_.data() + begin, size_t(t.n_bytes));
  }
  // Tensors may not share bytes: every writer lays them out one after another, and a file whose
  // tensors overlap would have the ledger count the same bytes twice.
  std::vector<const Tensor*> by_offset;
  for (const Tensor& t : f.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const Tensor* a, const Tensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Tensor& a = *by_offset[i - 1];
    const Tensor& b = *by_offset[i];
    if (a.offset + a.n_bytes > b.offset && a.n_bytes > 0 && b.n_bytes > 0)
      fail("{}: tensors '{}' and '{}' overlap (data at {}..{} and {}..{})", path, a.name, b.name, a.offset, a.offset + a.n_bytes,
           b.offset, b.offset + b.n_bytes);
  }
  return f;
}

}  // namespace bwscope::gguf
