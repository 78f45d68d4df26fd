// Test helpers for the GGUF reader and writer: a byte-level GGUF builder written from the spec
// (independent of bwscope's Writer), a per-test temporary directory, and random bytes.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"

namespace gguf_test {

// A fresh directory per test, removed with everything in it afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "bwscope-gguf-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }
  // Names of everything in the directory (to prove no temporary file was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Random bytes with no zero byte, so that data and zero padding can never be confused.
inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(1, 255);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = uint8_t(byte(rng));
  return out;
}

// Little-endian bytes, appended one at a time by shifting: no memcpy, no host-order assumption.
struct Le {
  std::vector<uint8_t> b;

  Le& uint(uint64_t v, int n_bytes) {
    for (int i = 0; i < n_bytes; ++i) b.push_back(uint8_t(v >> (8 * i)));
    return *this;
  }
  Le& u8(uint8_t v) { return uint(v, 1); }
  Le& u16(uint16_t v) { return uint(v, 2); }
  Le& u32(uint32_t v) { return uint(v, 4); }
  Le& u64(uint64_t v) { return uint(v, 8); }
  Le& i8(int8_t v) { return uint(uint8_t(v), 1); }
  Le& i16(int16_t v) { return uint(uint16_t(v), 2); }
  Le& i32(int32_t v) { return uint(uint32_t(v), 4); }
  Le& i64(int64_t v) { return uint(uint64_t(v), 8); }
  Le& f32(float v) { return u32(std::bit_cast<uint32_t>(v)); }
  Le& f64(double v) { return u64(std::bit_cast<uint64_t>(v)); }
  Le& raw(const std::vector<uint8_t>& bytes) {
    b.insert(b.end(), bytes.begin(), bytes.end());
    return *this;
  }
  Le& chars(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Le& str(const std::string& s) { return u64(s.size()).chars(s); }
};

// GGUF value type ids, spelled out from the spec rather than taken from bwscope's enum.
enum : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
// ggml tensor type ids.
enum : uint32_t { kTF32 = 0, kTF16 = 1, kTQ4_0 = 2, kTQ8_0 = 8, kTQ4_K = 12, kTQ6_K = 14, kTBF16 = 30 };

// One key-value pair: key, value type, then the payload bytes as given.
inline std::vector<uint8_t> kv(const std::string& key, uint32_t type, const Le& payload) {
  return Le().str(key).u32(type).raw(payload.b).b;
}
inline std::vector<uint8_t> kv_u32(const std::string& key, uint32_t v) { return kv(key, kU32, Le().u32(v)); }
inline std::vector<uint8_t> kv_str(const std::string& key, const std::string& v) { return kv(key, kString, Le().str(v)); }

struct RawTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = kTF32;
  uint64_t offset = 0;        // relative to the data section, as stored
  std::vector<uint8_t> data;  // placed at data_start + offset
};

// A whole file, built from parts that tests may make as wrong as they like.
struct RawGguf {
  uint32_t magic = 0x46554747;  // "GGUF"
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors;  // override the count written
  std::optional<uint64_t> n_kv;
  std::vector<std::vector<uint8_t>> kvs;
  std::vector<RawTensor> tensors;
  uint64_t alignment = 32;  // used only to place the data section

  uint64_t header_size() const { return header().size(); }
  uint64_t data_start() const { return (header_size() + alignment - 1) / alignment * alignment; }

  std::vector<uint8_t> header() const {
    Le h;
    h.u32(magic).u32(version).u64(n_tensors.value_or(tensors.size())).u64(n_kv.value_or(kvs.size()));
    for (const auto& k : kvs) h.raw(k);
    for (const auto& t : tensors) {
      h.str(t.name).u32(uint32_t(t.ne.size()));
      for (uint64_t d : t.ne) h.u64(d);
      h.u32(t.type).u64(t.offset);
    }
    return h.b;
  }

  // Header, zero padding to the alignment, then each tensor's data at its offset (gaps zero);
  // the file ends where the last data ends.
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out = header();
    const uint64_t start = data_start();
    out.resize(start, 0);
    for (const auto& t : tensors) {
      if (t.data.empty()) continue;
      const uint64_t at = start + t.offset;
      if (out.size() < at + t.data.size()) out.resize(at + t.data.size(), 0);
      std::copy(t.data.begin(), t.data.end(), out.begin() + std::ptrdiff_t(at));
    }
    return out;
  }
};

// Writes `bytes` to a file in `dir` and expects File::open to reject it with a message that
// starts with the path and contains `problem`.
inline void expect_rejected(const ScratchDir& dir, const std::vector<uint8_t>& bytes, const std::string& problem) {
  const std::string path = dir.file("bad.gguf");
  write_bytes(path, bytes);
  try {
    bwscope::gguf::File::open(path);
    ADD_FAILURE() << "accepted a file that should fail with: " << problem;
  } catch (const bwscope::Error& e) {
    const std::string msg = e.what();
    EXPECT_THAT(msg, ::testing::StartsWith(path + ": "));
    EXPECT_THAT(msg, ::testing::HasSubstr(problem));
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
  }
}

}  // namespace gguf_test
