// Malformed GGUF files: each must be refused with one line that names the file and the specific
// problem, and no truncation or corrupted header byte may crash the reader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "format/gguf_test_util.h"

namespace {

using bwscope::DType;
using bwscope::gguf::File;
using bwscope::gguf::Type;
using bwscope::gguf::Value;
using bwscope::gguf::Writer;
using namespace gguf_test;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A small valid file: two keys and one F32 tensor 'x' of 8 values at offset 0.
RawGguf valid_file() {
  RawGguf r;
  r.kvs = {kv_str("general.architecture", "llama"), kv_u32("general.alignment", 32)};
  r.tensors = {{"x", {8}, kTF32, 0, random_bytes(32, 1)}};
  return r;
}

TEST(Gguf, AcceptsTheValidBaseFileOfTheseTests) {
  ScratchDir dir;
  write_bytes(dir.file("ok.gguf"), valid_file().bytes());
  EXPECT_EQ(File::open(dir.file("ok.gguf")).tensors().size(), 1u);
}

TEST(Gguf, RejectsMissingFile) {
  ScratchDir dir;
  const std::string path = dir.file("absent.gguf");
  try {
    File::open(path);
    FAIL() << "opened a missing file";
  } catch (const bwscope::Error& e) {
    EXPECT_THAT(e.what(), StartsWith(path + ": cannot open"));
  }
}

TEST(Gguf, RejectsEmptyFile) { expect_rejected(ScratchDir(), {}, "file of 0 bytes is too small to be GGUF"); }

TEST(Gguf, RejectsTruncatedHeader) {
  ScratchDir dir;
  auto bytes = valid_file().bytes();
  bytes.resize(12);
  expect_rejected(dir, bytes, "truncated: tensor count at byte 8 needs 8 bytes, 4 left");
  bytes.resize(6);
  expect_rejected(dir, bytes, "truncated: version at byte 4 needs 4 bytes, 2 left");
}

TEST(Gguf, RejectsBadMagic) {
  RawGguf r = valid_file();
  r.magic = 0x12345678;
  expect_rejected(ScratchDir(), r.bytes(), "bad magic 0x12345678 (not a GGUF file)");
}

TEST(Gguf, RejectsVersionsOtherThan3) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.version = 2;
  expect_rejected(dir, r.bytes(), "GGUF version 2 is not supported (only version 3");
  r.version = 1;
  expect_rejected(dir, r.bytes(), "GGUF version 1 is not supported");
  r.version = 4;
  expect_rejected(dir, r.bytes(), "GGUF version 4 is not supported");
  r.version = 0x03000000;  // a big-endian file's version read little-endian
  expect_rejected(dir, r.bytes(), "big-endian GGUF files are not supported");
}

TEST(Gguf, RejectsStringLengthPastEndOfFile) {
  ScratchDir dir;
  Le key;
  key.u32(0x46554747).u32(3).u64(0).u64(1).u64(9999).chars(std::string(50, 'k'));
  expect_rejected(dir, key.b, "truncated: metadata key at byte 32 needs 9999 bytes, 50 left");

  RawGguf r;
  r.kvs = {kv("general.name", kString, Le().u64(1000).chars("short"))};
  expect_rejected(dir, r.bytes(), "truncated: string value at byte");
  r.kvs = {kv("general.name", kString, Le().u64(1ull << 40).chars(std::string(64, 'v')))};
  expect_rejected(dir, r.bytes(), "has length 1099511627776, more than the limit");
  r.kvs = {kv("tokens", kArray, Le().u32(kString).u64(2).str("a").u64(1ull << 62))};
  expect_rejected(dir, r.bytes(), "more than the limit");
}

TEST(Gguf, RejectsKeyLongerThanTheLimit) {
  RawGguf r;
  r.kvs = {kv_u32(std::string(70000, 'k'), 1)};
  expect_rejected(ScratchDir(), r.bytes(), "metadata key at byte 24 has length 70000, more than the limit of 65536");
}

TEST(Gguf, RejectsHugeArrayCountWithoutAllocating) {
  ScratchDir dir;
  RawGguf r;
  for (uint32_t elem : {kU8, kU32, kF64, kBool, kString, kArray}) {
    SCOPED_TRACE(elem);
    r.kvs = {kv("tokenizer.ggml.tokens", kArray, Le().u32(elem).u64(1ull << 60).chars(std::string(64, 'a')))};
    expect_rejected(dir, r.bytes(), "truncated: metadata 'tokenizer.ggml.tokens' at byte 61 claims 1152921504606846976 items");
  }
  r.kvs = {kv("k", kArray, Le().u32(kArray).u64(1).u32(kU16).u64(UINT64_MAX).u64(0))};
  expect_rejected(dir, r.bytes(), "claims 18446744073709551615 items of u16, only");
}

TEST(Gguf, RejectsHugeTensorAndMetadataCounts) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.n_tensors = 1ull << 62;
  expect_rejected(dir, r.bytes(), "truncated: 4611686018427387904 tensors and 2 metadata entries cannot fit in");
  r = valid_file();
  r.n_kv = UINT64_MAX;
  expect_rejected(dir, r.bytes(), "truncated: 18446744073709551615 metadata entries cannot fit in");
  r = valid_file();
  r.n_tensors = 5;  // small enough to pass the first bound, but the infos are not there
  expect_rejected(dir, r.bytes(), "truncated");
}

TEST(Gguf, RejectsTensorPastEndOfFile) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.tensors[0].ne = {1024};  // 4096 bytes, only 32 present
  expect_rejected(dir, r.bytes(), "tensor 'x' data [offset 0, size 4096] ends past end of file (");
  r = valid_file();
  r.tensors.push_back({"y", {8}, kTF32, 1ull << 63, {}});
  expect_rejected(dir, r.bytes(), "tensor 'y' data [offset 9223372036854775808, size 32] ends past end of file");
  r.tensors[1].offset = UINT64_MAX - 31;  // aligned; data_start + offset wraps around
  expect_rejected(dir, r.bytes(), "tensor 'y' data [offset 18446744073709551584, size 32] ends past end of file");
}

TEST(Gguf, RejectsOverlappingTensors) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.tensors.push_back({"y", {16}, kTF32, 32, random_bytes(64, 2)});
  write_bytes(dir.file("ok.gguf"), r.bytes());
  EXPECT_EQ(File::open(dir.file("ok.gguf")).tensors().size(), 2u);  // back to back: fine
  r.tensors[0].ne = {16};  // x now spans 0..64, into y at 32
  r.tensors[0].data = random_bytes(64, 1);
  expect_rejected(dir, r.bytes(), "tensors 'x' and 'y' overlap");
  r = valid_file();
  r.tensors.push_back({"y", {8}, kTF32, 0, {}});  // the same bytes as x
  expect_rejected(dir, r.bytes(), "overlap");
}

TEST(Gguf, RejectsDimsWhoseProductOverflows) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.tensors[0].ne = {1ull << 32, 1ull << 32};
  expect_rejected(dir, r.bytes(), "tensor 'x' dims 4294967296 x 4294967296 overflow");
  r.tensors[0].ne = {1ull << 63};  // does not fit ggml's int64_t
  expect_rejected(dir, r.bytes(), "tensor 'x' dims 9223372036854775808 overflow");
  r.tensors[0].ne = {1ull << 31, 1ull << 31, 2, 2};
  expect_rejected(dir, r.bytes(), "dims 2147483648 x 2147483648 x 2 x 2 overflow");
  r.tensors[0].ne = {1ull << 62};  // 2^62 elements fit int64, 2^64 bytes do not fit u64
  expect_rejected(dir, r.bytes(), "tensor 'x' dims 4611686018427387904 of f32: byte size overflows");
}

TEST(Gguf, RejectsUnknownTensorType) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.tensors[0].type = 99;
  expect_rejected(dir, r.bytes(), "tensor 'x' has unknown type 99");
  r.tensors[0].type = 3;  // Q4_1: a ggml type bwscope does not know
  expect_rejected(dir, r.bytes(), "tensor 'x' has unknown type 3");
}

TEST(Gguf, RejectsRowLengthNotAMultipleOfTheBlock) {
  RawGguf r = valid_file();
  r.tensors[0] = {"q", {33, 2}, kTQ8_0, 0, random_bytes(68, 2)};
  expect_rejected(ScratchDir(), r.bytes(), "tensor 'q' rows of 33 values are not a multiple of q8_0's block of 32");
}

TEST(Gguf, RejectsUnknownValueType) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.kvs.push_back(kv("vendor.key", 13, Le().u64(0)));
  expect_rejected(dir, r.bytes(), "metadata 'vendor.key' has unknown value type 13");
  r.kvs.back() = kv("vendor.key", kArray, Le().u32(0xffffffff).u64(0));
  expect_rejected(dir, r.bytes(), "metadata 'vendor.key' is an array of unknown value type 4294967295");
}

TEST(Gguf, RejectsBadAlignment) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.kvs[1] = kv_u32("general.alignment", 0);
  expect_rejected(dir, r.bytes(), "general.alignment 0 is not a nonzero power of two");
  r.kvs[1] = kv_u32("general.alignment", 48);
  expect_rejected(dir, r.bytes(), "general.alignment 48 is not a nonzero power of two");
  r.kvs[1] = kv("general.alignment", kU64, Le().u64(32));
  expect_rejected(dir, r.bytes(), "general.alignment has type u64, expected u32");
  r.kvs[1] = kv_str("general.alignment", "32");
  expect_rejected(dir, r.bytes(), "general.alignment has type string, expected u32");
}

TEST(Gguf, RejectsUnalignedTensorOffset) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.tensors[0].offset = 16;
  expect_rejected(dir, r.bytes(), "tensor 'x' offset 16 is not a multiple of the alignment 32");
  r.kvs[1] = kv_u32("general.alignment", 64);
  r.alignment = 64;
  r.tensors[0].offset = 32;
  expect_rejected(dir, r.bytes(), "tensor 'x' offset 32 is not a multiple of the alignment 64");
}

TEST(Gguf, RejectsDuplicateKey) {
  RawGguf r = valid_file();
  r.kvs.push_back(kv_u32("general.architecture", 7));
  expect_rejected(ScratchDir(), r.bytes(), "metadata key 'general.architecture' appears twice");
}

TEST(Gguf, RejectsDuplicateTensorName) {
  RawGguf r = valid_file();
  r.tensors.push_back({"x", {8}, kTF32, 32, random_bytes(32, 3)});
  expect_rejected(ScratchDir(), r.bytes(), "tensor 'x' appears twice");
}

TEST(Gguf, RejectsFiveDimsAndZeroDims) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.tensors[0].ne = {2, 1, 1, 2, 2};
  expect_rejected(dir, r.bytes(), "tensor 'x' has 5 dims (1 to 4 allowed)");
  r.tensors[0].ne = {};
  expect_rejected(dir, r.bytes(), "tensor 'x' has 0 dims (1 to 4 allowed)");
}

TEST(Gguf, RejectsArraysNestedDeeperThanFourLevels) {
  ScratchDir dir;
  auto nested = [](int levels) {
    Le p;
    for (int i = 1; i < levels; ++i) p.u32(kArray).u64(1);
    return p.u32(kU8).u64(1).u8(42).chars(std::string(64, 'p'));  // room left: depth, not truncation, fails
  };
  RawGguf r;
  r.kvs = {kv("k", kArray, nested(5))};
  expect_rejected(dir, r.bytes(), "metadata 'k' nests arrays deeper than 4");

  r.kvs = {kv("k", kArray, nested(4))};  // the limit: reads fine
  write_bytes(dir.file("ok.gguf"), r.bytes());
  Value v = Value::array(Type::U8, std::vector<uint64_t>{42});
  for (int i = 1; i < 4; ++i) v = Value::array(Type::ARRAY, std::vector<Value>{v});
  EXPECT_EQ(*File::open(dir.file("ok.gguf")).find("k"), v);
}

TEST(Gguf, RejectsBoolOtherThanZeroOrOne) {
  ScratchDir dir;
  RawGguf r = valid_file();
  r.kvs.push_back(kv("flag", kBool, Le().u8(2)));
  expect_rejected(dir, r.bytes(), "metadata 'flag' is a bool holding 2");
  r.kvs.back() = kv("flags", kArray, Le().u32(kBool).u64(2).u8(1).u8(7));
  expect_rejected(dir, r.bytes(), "metadata 'flags' is a bool array holding 7");
}

// A valid file with strings, string arrays, nested arrays and three tensors, as the Writer makes it.
std::vector<uint8_t> small_valid_file(const ScratchDir& dir, uint64_t* data_end) {
  Writer w(32);
  w.set("general.architecture", Value::str("llama"));
  w.set("tokenizer.ggml.tokens", Value::strings({"<s>", "a", "bc"}));
  w.set("nested", Value::array(Type::ARRAY, std::vector<Value>{Value::i32s({1, -2}), Value::strings({"q"})}));
  w.set("llama.rope.freq_base", Value::f32(500000.f));
  w.add_tensor("a", DType::F32, {6}, random_bytes(24, 4));
  w.add_tensor("b", DType::Q8_0, {32}, random_bytes(34, 5));
  w.add_tensor("c", DType::F16, {3, 2}, random_bytes(12, 6));
  w.write(dir.file("valid.gguf"));
  const File f = File::open(dir.file("valid.gguf"));
  *data_end = f.tensors().back().offset + f.tensors().back().n_bytes;
  return read_bytes(dir.file("valid.gguf"));
}

TEST(Gguf, RejectsEveryTruncationWithAnErrorNeverACrash) {
  ScratchDir dir;
  uint64_t data_end = 0;
  const auto full = small_valid_file(dir, &data_end);
  ASSERT_LT(data_end, full.size());  // the file ends in padding after the last tensor
  const std::string path = dir.file("cut.gguf");
  for (size_t len = 0; len < full.size(); ++len) {
    write_bytes(path, std::vector<uint8_t>(full.begin(), full.begin() + std::ptrdiff_t(len)));
    try {
      File::open(path);
      // Only cutting trailing padding leaves every tensor whole.
      EXPECT_GE(len, data_end) << "accepted a file cut to " << len << " of " << full.size() << " bytes";
    } catch (const bwscope::Error& e) {
      EXPECT_LT(len, data_end) << e.what();
      EXPECT_THAT(e.what(), StartsWith(path + ": "));
    } catch (...) {
      ADD_FAILURE() << "cut to " << len << " bytes: exception other than bwscope::Error";
    }
  }
}

TEST(Gguf, SurvivesRandomByteFlipsInTheHeader) {
  ScratchDir dir;
  uint64_t data_end = 0;
  const auto full = small_valid_file(dir, &data_end);
  const uint64_t header_end = File::open(dir.file("valid.gguf")).data_offset();
  const std::string path = dir.file("flip.gguf");
  std::mt19937 rng(20260125);
  std::uniform_int_distribution<size_t> where(0, header_end - 1);
  std::uniform_int_distribution<int> flips(1, 4), mask(1, 255);
  int accepted = 0, rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto bytes = full;
    for (int n = flips(rng); n > 0; --n) bytes[where(rng)] ^= uint8_t(mask(rng));
    write_bytes(path, bytes);
    try {
      const File f = File::open(path);
      for (const auto& t : f.tensors()) ASSERT_LE(t.offset + t.n_bytes, f.file_size());
      ++accepted;
    } catch (const bwscope::Error& e) {
      ASSERT_THAT(e.what(), StartsWith(path + ": "));
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "trial " << trial << ": " << e.what();
    } catch (...) {
      FAIL() << "trial " << trial << ": unknown exception";
    }
  }
  EXPECT_GT(rejected, 1000);  // most flips land on lengths, counts, types or magic
  EXPECT_GT(accepted, 0);     // flips inside strings and values are legal
}

}  // namespace
