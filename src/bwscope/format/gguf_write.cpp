// GGUF v3 writer: header and tensor infos serialised to memory, then the file is sized, mapped
// and each tensor's bytes are produced in place by its fill callback; the file appears under
// its name only when complete (temporary name, then rename).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"

namespace bwscope::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF is little-endian; writes are plain memcpy");

struct Bytes {
  std::vector<uint8_t> data;
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    data.insert(data.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    data.insert(data.end(), s.begin(), s.end());
  }
};

constexpr int kMaxArrayDepth = 4;  // as the reader: deeper nesting would make a file it rejects

bool is_unsigned(Type t) { return t == Type::U8 || t == Type::U16 || t == Type::U32 || t == Type::U64; }
bool is_signed(Type t) { return t == Type::I8 || t == Type::I16 || t == Type::I32 || t == Type::I64; }

void put_unsigned(Bytes& b, const std::string& key, Type t, uint64_t u) {
  const uint64_t max = t == Type::U8 ? UINT8_MAX : t == Type::U16 ? UINT16_MAX : t == Type::U32 ? UINT32_MAX : UINT64_MAX;
  if (u > max) fail("gguf writer: metadata '{}' value {} does not fit {}", key, u, type_name(t));
  switch (t) {
    case Type::U8: return b.put<uint8_t>(uint8_t(u));
    case Type::U16: return b.put<uint16_t>(uint16_t(u));
    case Type::U32: return b.put<uint32_t>(uint32_t(u));
    default: return b.put<uint64_t>(u);
  }
}

void put_signed(Bytes& b, const std::string& key, Type t, int64_t i) {
  const int64_t max = t == Type::I8 ? INT8_MAX : t == Type::I16 ? INT16_MAX : t == Type::I32 ? INT32_MAX : INT64_MAX;
  if (i > max || i < -max - 1) fail("gguf writer: metadata '{}' value {} does not fit {}", key, i, type_name(t));
  switch (t) {
    case Type::I8: return b.put<int8_t>(int8_t(i));
    case Type::I16: return b.put<int16_t>(int16_t(i));
    case Type::I32: return b.put<int32_t>(int32_t(i));
    default: return b.put<int64_t>(i);
  }
}

void put_float(Bytes& b, Type t, double f) {
  if (t == Type::F32) return b.put<float>(float(f));
  b.put<double>(f);
}

template <typename T>
const T& payload_as(const Value& v, const std::string& key) {
  const T* p = std::get_if<T>(&v.payload);
  if (!p) {
    if (v.type == Type::ARRAY)
      fail("gguf writer: metadata '{}' is an array of {} holding items of another type", key, type_name(v.elem_type));
    fail("gguf writer: metadata '{}' of type {} holds a payload of another type", key, type_name(v.type));
  }
  return *p;
}

void put_value(Bytes& b, const std::string& key, const Value& v, int depth) {
  const Type t = v.type;
  if (is_unsigned(t)) return put_unsigned(b, key, t, payload_as<uint64_t>(v, key));
  if (is_signed(t)) return put_signed(b, key, t, payload_as<int64_t>(v, key));
  if (t == Type::F32 || t == Type::F64) return put_float(b, t, payload_as<double>(v, key));
  if (t == Type::BOOL) return b.put<uint8_t>(payload_as<bool>(v, key) ? 1 : 0);
  if (t == Type::STRING) return b.put_string(payload_as<std::string>(v, key));
  if (t != Type::ARRAY) fail("gguf writer: metadata '{}' has unknown type {}", key, uint32_t(t));
  if (depth >= kMaxArrayDepth) fail("gguf writer: metadata '{}' nests arrays deeper than {}", key, kMaxArrayDepth);
  const Type e = v.elem_type;
  b.put<uint32_t>(uint32_t(e));
  if (is_unsigned(e)) {
    const auto& items = payload_as<std::vector<uint64_t>>(v, key);
    b.put<uint64_t>(items.size());
    for (uint64_t x : items) put_unsigned(b, key, e, x);
  } else if (is_signed(e)) {
    const auto& items = payload_as<std::vector<int64_t>>(v, key);
    b.put<uint64_t>(items.size());
    for (int64_t x : items) put_signed(b, key, e, x);
  } else if (e == Type::F32 || e == Type::F64) {
    const auto& items = payload_as<std::vector<double>>(v, key);
    b.put<uint64_t>(items.size());
    for (double x : items) put_float(b, e, x);
  } else if (e == Type::BOOL) {
    const auto& items = payload_as<std::vector<bool>>(v, key);
    b.put<uint64_t>(items.size());
    for (bool x : items) b.put<uint8_t>(x ? 1 : 0);
  } else if (e == Type::STRING) {
    const auto& items = payload_as<std::vector<std::string>>(v, key);
    b.put<uint64_t>(items.size());
    for (const auto& s : items) b.put_string(s);
  } else if (e == Type::ARRAY) {
    const auto& items = payload_as<std::vector<Value>>(v, key);
    b.put<uint64_t>(items.size());
    for (const auto& x : items) {
      if (x.type != Type::ARRAY) fail("gguf writer: metadata '{}' mixes arrays with {}", key, type_name(x.type));
      put_value(b, key, x, depth + 1);  // nested items carry their element type, not a value type
    }
  } else {
    fail("gguf writer: metadata '{}' has an array of unknown type {}", key, uint32_t(e));
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

struct Writer::Layout {
  Bytes header;
  std::vector<uint64_t> offsets;  // relative to the data section
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_start = 0, total = 0;
};

Writer::Writer(uint64_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > UINT32_MAX)
    fail("gguf writer: alignment {} is not a power of two that fits u32", alignment);
}

void Writer::set(std::string key, Value value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> ne, Fill fill) {
  if (ne.empty() || ne.size() > size_t(kMaxDims)) fail("gguf writer: tensor '{}' has {} dims (1 to {} allowed)", name, ne.size(), kMaxDims);
  for (const auto& t : tensors_)
    if (t.name == name) fail("gguf writer: tensor '{}' added twice", name);
  const DTypeInfo& info = dtype_info(type);
  if (ne[0] % info.block_elems != 0)
    fail("gguf writer: tensor '{}' rows of {} values are not a multiple of {}'s block of {}", name, ne[0], info.name,
         info.block_elems);
  // The same limits as the reader: element count fits int64, byte size fits u64.
  uint64_t n_elements = 1;
  for (uint64_t d : ne)
    if (d > uint64_t(INT64_MAX) || __builtin_mul_overflow(n_elements, d, &n_elements) || n_elements > uint64_t(INT64_MAX))
      fail("gguf writer: tensor '{}' dims overflow", name);
  auto row = row_bytes(type, ne[0]);
  if (!row) fail("gguf writer: tensor '{}' size overflows", name);
  uint64_t n = *row;
  for (size_t d = 1; d < ne.size(); ++d)
    if (__builtin_mul_overflow(n, ne[d], &n)) fail("gguf writer: tensor '{}' size overflows", name);
  tensors_.push_back({std::move(name), type, std::move(ne), n, std::move(fill)});
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> ne, std::span<const uint8_t> data) {
  // A copy: the caller's buffer need not outlive the writer.
  auto copy = std::make_shared<const std::vector<uint8_t>>(data.begin(), data.end());
  const std::string label = name;
  add_tensor(std::move(name), type, std::move(ne), [copy, label](std::span<uint8_t> dst) {
    if (dst.size() != copy->size()) fail("gguf writer: tensor '{}' given {} bytes, needs {}", label, copy->size(), dst.size());
    std::memcpy(dst.data(), copy->data(), copy->size());
  });
}

// The serialised header and where each tensor's data goes: one layout for write() and total_bytes().
// Tensors follow each other in order, each padded to the alignment, exactly as llama.cpp's reader
// expects (it requires offset == sum of the padded sizes before it).
Writer::Layout Writer::layout() const {
  Layout l;
  l.alignment = alignment_;
  std::vector<std::pair<std::string, Value>> meta = metadata_;
  bool has_alignment = false;
  for (const auto& [k, v] : meta) {
    if (k != "general.alignment") continue;
    has_alignment = true;
    // The caller's value is what readers will use, so it is what the layout must use.
    const auto a = v.type == Type::U32 ? v.as_uint() : std::nullopt;
    if (!a || *a == 0 || (*a & (*a - 1)) != 0) fail("gguf writer: general.alignment must be a nonzero power of two u32");
    l.alignment = *a;
  }
  if (!has_alignment) meta.emplace_back("general.alignment", Value::u32(uint32_t(alignment_)));
  Bytes& h = l.header;
  h.put<uint32_t>(kMagic);
  h.put<uint32_t>(kVersion);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(meta.size());
  for (const auto& [k, v] : meta) {
    h.put_string(k);
    h.put<uint32_t>(uint32_t(v.type));
    put_value(h, k, v, 0);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    h.put_string(t.name);
    h.put<uint32_t>(uint32_t(t.ne.size()));
    for (uint64_t ne : t.ne) h.put<uint64_t>(ne);
    h.put<uint32_t>(uint32_t(t.type));
    h.put<uint64_t>(offset);
    l.offsets.push_back(offset);
    if (__builtin_add_overflow(offset, align_up(t.n_bytes, l.alignment), &offset))
      fail("gguf writer: tensor '{}' ends past 2^64 bytes", t.name);
  }
  l.data_start = align_up(h.data.size(), l.alignment);
  l.total = tensors_.empty() ? h.data.size() : l.data_start + offset;
  return l;
}

uint64_t Writer::total_bytes() const { return layout().total; }

namespace {

// Reserves the blocks up front so that a full disk is an error here, not a SIGBUS while a fill
// writes into the mapping; filesystems without fallocate just get the size.
void size_file(const AtomicFile& out, const std::string& path, uint64_t total) {
  if (total > uint64_t(std::numeric_limits<off_t>::max())) fail("{}: {} bytes is too large a file", path, total);
  int rc = ::posix_fallocate(out.fd(), 0, off_t(total));
  if (rc == EOPNOTSUPP || rc == EINVAL) rc = ::ftruncate(out.fd(), off_t(total)) == 0 ? 0 : errno;
  if (rc != 0) fail("{}: cannot size to {} bytes: {}", path, total, std::strerror(rc));
}

}  // namespace

void Writer::write(const std::string& path) const {
  const Layout l = layout();
  AtomicFile out(path);  // removes the temporary file unless committed
  size_file(out, path, l.total);
  void* map = ::mmap(nullptr, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, out.fd(), 0);
  if (map == MAP_FAILED) fail("{}: cannot map for writing: {}", path, std::strerror(errno));
  struct Unmap {
    void* p;
    uint64_t n;
    ~Unmap() { if (p) ::munmap(p, n); }
  } unmap{map, l.total};
  auto* base = static_cast<uint8_t*>(map);
  // Padding stays zero: the file was created empty and sized with zeros.
  std::memcpy(base, l.header.data.data(), l.header.data.size());
  for (size_t i = 0; i < tensors_.size(); ++i)
    tensors_[i].fill(std::span<uint8_t>(base + l.data_start + l.offsets[i], size_t(tensors_[i].n_bytes)));
  if (::munmap(std::exchange(unmap.p, nullptr), l.total) != 0) fail("{}: cannot unmap: {}", path, std::strerror(errno));
  out.commit();
}

}  // namespace bwscope::gguf
