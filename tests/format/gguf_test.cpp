// GGUF reader and writer: round trips of every value and tensor type, files from an independent
// byte-level builder, the writer's layout, atomicity and input checks, and the Value helpers.
// Malformed files are in gguf_malformed_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <map>
#include <stdexcept>

#include "format/gguf_test_util.h"

namespace {

using bwscope::DType;
using bwscope::gguf::File;
using bwscope::gguf::Type;
using bwscope::gguf::Value;
using bwscope::gguf::Writer;
using namespace gguf_test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Bytes per block and elements per block, from the GGUF/ggml block layouts (not from dtype.cpp).
uint64_t expected_bytes(DType type, const std::vector<uint64_t>& ne) {
  static const std::map<DType, std::pair<uint64_t, uint64_t>> blocks = {
      {DType::F32, {1, 4}},    {DType::F16, {1, 2}},      {DType::BF16, {1, 2}},     {DType::Q8_0, {32, 34}},
      {DType::Q4_0, {32, 18}}, {DType::Q4_K, {256, 144}}, {DType::Q5_K, {256, 176}}, {DType::Q6_K, {256, 210}}};
  const auto [elems, bytes] = blocks.at(type);
  uint64_t n = ne[0] / elems * bytes;
  for (size_t d = 1; d < ne.size(); ++d) n *= ne[d];
  return n;
}

std::vector<std::pair<std::string, Value>> every_value_type() {
  return {
      {"t.u8", Value::u8(250)},
      {"t.i8", Value::i8(-120)},
      {"t.u16", Value::u16(65000)},
      {"t.i16", Value::i16(-32000)},
      {"t.u32", Value::u32(4000000000u)},
      {"t.i32", Value::i32(INT32_MIN)},
      {"t.f32", Value::f32(-1.25e-3f)},
      {"t.bool", Value::boolean(true)},
      {"t.string", Value::str(std::string("h\xc3\xa9llo\0world", 12))},
      {"t.u64", Value::u64(UINT64_MAX)},
      {"t.i64", Value::i64(INT64_MIN)},
      {"t.f64", Value::f64(3.141592653589793)},
      {"t.empty_string", Value::str("")},
      {"a.u8", Value::array(Type::U8, std::vector<uint64_t>{0, 1, 255})},
      {"a.i8", Value::array(Type::I8, std::vector<int64_t>{-128, 0, 127})},
      {"a.u16", Value::array(Type::U16, std::vector<uint64_t>{65535, 7})},
      {"a.i16", Value::array(Type::I16, std::vector<int64_t>{-32768, 32767})},
      {"a.u32", Value::u32s({1, 2, 4294967295u})},
      {"a.i32", Value::i32s({-5, 0, INT32_MAX})},
      {"a.f32", Value::f32s({0.5f, -2.0f, 1e30f})},
      {"a.bool", Value::array(Type::BOOL, std::vector<bool>{true, false, true})},
      {"a.string", Value::strings({"<s>", "", "\xe2\x96\x81the"})},
      {"a.u64", Value::array(Type::U64, std::vector<uint64_t>{UINT64_MAX, 0})},
      {"a.i64", Value::array(Type::I64, std::vector<int64_t>{INT64_MIN, INT64_MAX})},
      {"a.f64", Value::array(Type::F64, std::vector<double>{1e300, -0.25})},
      {"a.empty", Value::u32s({})},
      {"a.nested", Value::array(Type::ARRAY, std::vector<Value>{
                                                 Value::u32s({7, 8}),
                                                 Value::strings({"x", "yz"}),
                                                 Value::array(Type::ARRAY, std::vector<Value>{Value::f32s({1.5f})}),
                                             })},
  };
}

struct TensorCase {
  std::string name;
  DType type;
  std::vector<uint64_t> ne;
};

const std::vector<TensorCase> kTensorCases = {
    {"blk.0.attn_q.weight", DType::F32, {7, 3}},  // odd sizes: offsets need padding
    {"output_norm.weight", DType::F16, {5}},
    {"blk.0.ffn_up.weight", DType::BF16, {4, 2, 3}},
    {"token_embd.weight", DType::Q8_0, {64, 3}},
    {"blk.1.ffn_down.weight", DType::Q4_0, {32, 1, 1, 2}},
    {"blk.1.attn_k.weight", DType::Q4_K, {256, 2}},  // known but not yet computed with: must still read
    {"blk.1.attn_v.weight", DType::Q6_K, {256}},
};

TEST(Gguf, RoundTripsEveryValueTypeAndTensorTypeAtSeveralAlignments) {
  for (uint64_t alignment : {1u, 32u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    ScratchDir dir;
    const std::string path = dir.file("m.gguf");
    Writer w(alignment);
    const auto values = every_value_type();
    for (const auto& [k, v] : values) w.set(k, v);
    std::vector<std::vector<uint8_t>> data;
    for (size_t i = 0; i < kTensorCases.size(); ++i) {
      const auto& c = kTensorCases[i];
      data.push_back(random_bytes(expected_bytes(c.type, c.ne), uint32_t(100 + i)));
      if (i % 2 == 0) {
        w.add_tensor(c.name, c.type, c.ne, data.back());
      } else {
        const auto bytes = data.back();
        w.add_tensor(c.name, c.type, c.ne, [bytes](std::span<uint8_t> dst) {
          ASSERT_EQ(dst.size(), bytes.size());
          std::copy(bytes.begin(), bytes.end(), dst.begin());
        });
      }
    }
    w.write(path);

    const File f = File::open(path);
    EXPECT_EQ(f.path(), path);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.file_size(), w.total_bytes());
    EXPECT_EQ(f.data_offset() % alignment, 0u);

    // Metadata in insertion order, general.alignment appended as u32.
    ASSERT_EQ(f.metadata().size(), values.size() + 1);
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(f.metadata()[i].first, values[i].first);
      EXPECT_EQ(f.metadata()[i].second, values[i].second) << values[i].first;
    }
    EXPECT_EQ(f.metadata().back().first, "general.alignment");
    EXPECT_EQ(f.metadata().back().second, Value::u32(uint32_t(alignment)));
    ASSERT_NE(f.find("t.string"), nullptr);
    EXPECT_EQ(f.find("t.string")->as_string()->size(), 12u);
    EXPECT_EQ(f.find("no.such.key"), nullptr);

    ASSERT_EQ(f.tensors().size(), kTensorCases.size());
    uint64_t end_of_previous = f.data_offset();
    const auto file = read_bytes(path);
    for (size_t i = 0; i < kTensorCases.size(); ++i) {
      const auto& c = kTensorCases[i];
      const auto& t = f.tensors()[i];
      SCOPED_TRACE(c.name);
      EXPECT_EQ(t.name, c.name);
      EXPECT_EQ(t.type, c.type);
      EXPECT_EQ(t.ne, c.ne);
      uint64_t n = 1;
      for (uint64_t d : c.ne) n *= d;
      EXPECT_EQ(t.n_elements, n);
      EXPECT_EQ(t.n_bytes, data[i].size());
      EXPECT_EQ(t.offset % alignment, 0u);
      EXPECT_EQ(t.bytes.data(), f.mapping().data() + t.offset);
      EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), data[i].begin(), data[i].end()));
      EXPECT_EQ(f.find_tensor(c.name), &t);
      // Tensors follow each other in order with only zero padding between them.
      ASSERT_GE(t.offset, end_of_previous);
      EXPECT_LT(t.offset - end_of_previous, alignment);
      for (uint64_t b = end_of_previous; b < t.offset; ++b) ASSERT_EQ(file[b], 0) << "padding byte " << b;
      end_of_previous = t.offset + t.n_bytes;
    }
    for (uint64_t b = end_of_previous; b < file.size(); ++b) ASSERT_EQ(file[b], 0) << "trailing padding byte " << b;
    EXPECT_EQ(f.find_tensor("missing"), nullptr);
    EXPECT_THAT(dir.entries(), ElementsAre("m.gguf"));
  }
}

// The same content built by hand from the spec must come out of the Writer byte for byte:
// header, general.alignment last, tensors packed in order and padded like llama.cpp's writer.
TEST(Gguf, WriterOutputMatchesIndependentBuilderByteForByte) {
  ScratchDir dir;
  const uint64_t alignment = 64;
  const auto a = random_bytes(3 * 5 * 4, 1), b = random_bytes(34 * 2, 2);

  Writer w(alignment);
  w.set("general.architecture", Value::str("llama"));
  w.set("llama.block_count", Value::u32(2));
  w.set("tokenizer.ggml.scores", Value::f32s({0.f, -1.5f}));
  w.add_tensor("a", DType::F32, {3, 5}, a);
  w.add_tensor("b", DType::Q8_0, {32, 2}, b);
  w.write(dir.file("w.gguf"));

  RawGguf r;
  r.alignment = alignment;
  r.kvs = {kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 2),
           kv("tokenizer.ggml.scores", kArray, Le().u32(kF32).u64(2).f32(0.f).f32(-1.5f)),
           kv_u32("general.alignment", 64)};
  r.tensors = {{"a", {3, 5}, kTF32, 0, a}, {"b", {32, 2}, kTQ8_0, 64, b}};
  auto expected = r.bytes();
  expected.resize(r.data_start() + 64 + 128, 0);  // the last tensor padded to the alignment too

  EXPECT_EQ(read_bytes(dir.file("w.gguf")), expected);
  EXPECT_EQ(w.total_bytes(), expected.size());
}

TEST(Gguf, ReadsIndependentlyBuiltFileWithUnsortedTensorsAndUnknownKeys) {
  ScratchDir dir;
  const std::string path = dir.file("hand.gguf");
  RawGguf r;
  r.alignment = 128;
  r.kvs = {
      kv_str("vendor.unknown.note", "ignored but kept"),
      kv_u32("general.alignment", 128),
      kv("vendor.unknown.table", kArray,
         Le().u32(kArray).u64(2).u32(kI16).u64(2).i16(-3).i16(4).u32(kString).u64(1).str("deep")),
      kv("vendor.unknown.flag", kBool, Le().u8(1)),
      kv("vendor.unknown.big", kU64, Le().u64(1ull << 40)),
  };
  // Names not sorted, offsets not in header order, gaps between tensors.
  r.tensors = {
      {"zeta", {16, 2}, kTF16, 512, random_bytes(64, 11)},
      {"alpha", {256, 1}, kTQ6_K, 0, random_bytes(210, 12)},
      {"mid", {3}, kTF32, 256, random_bytes(12, 13)},
      {"kq", {512}, kTQ4_K, 768, random_bytes(288, 14)},
  };
  write_bytes(path, r.bytes());

  const File f = File::open(path);
  EXPECT_EQ(f.alignment(), 128u);
  EXPECT_EQ(f.data_offset(), r.data_start());
  ASSERT_EQ(f.metadata().size(), 5u);
  EXPECT_EQ(f.metadata()[0].first, "vendor.unknown.note");
  EXPECT_EQ(*f.find("vendor.unknown.note")->as_string(), "ignored but kept");
  EXPECT_EQ(*f.find("vendor.unknown.flag"), Value::boolean(true));
  EXPECT_EQ(f.find("vendor.unknown.big")->as_uint(), 1ull << 40);
  const Value* table = f.find("vendor.unknown.table");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(*table, Value::array(Type::ARRAY, std::vector<Value>{
                                                  Value::array(Type::I16, std::vector<int64_t>{-3, 4}),
                                                  Value::strings({"deep"}),
                                              }));

  ASSERT_EQ(f.tensors().size(), r.tensors.size());
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const auto& want = r.tensors[i];
    const auto& t = f.tensors()[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(t.name, want.name);
    EXPECT_EQ(uint32_t(t.type), want.type);
    EXPECT_EQ(t.ne, want.ne);
    EXPECT_EQ(t.offset, r.data_start() + want.offset);
    EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), want.data.begin(), want.data.end()));
  }
  EXPECT_EQ(f.find_tensor("kq")->type, DType::Q4_K);
  EXPECT_EQ(f.find_tensor("kq")->n_elements, 512u);
}

TEST(Gguf, UsesDefaultAlignmentOf32WhenTheKeyIsAbsent) {
  ScratchDir dir;
  RawGguf r;
  r.kvs = {kv_str("general.name", "no alignment key")};
  r.tensors = {{"a", {5}, kTF32, 0, random_bytes(20, 3)}, {"b", {2}, kTBF16, 32, random_bytes(4, 4)}};
  write_bytes(dir.file("d.gguf"), r.bytes());
  const File f = File::open(dir.file("d.gguf"));
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_TRUE(std::equal(f.tensors()[1].bytes.begin(), f.tensors()[1].bytes.end(), r.tensors[1].data.begin()));
}

TEST(Gguf, ReadsFileWithoutTensorsOrMetadata) {
  ScratchDir dir;
  write_bytes(dir.file("e.gguf"), RawGguf{}.bytes());
  const File f = File::open(dir.file("e.gguf"));
  EXPECT_THAT(f.metadata(), IsEmpty());
  EXPECT_THAT(f.tensors(), IsEmpty());

  Writer w;
  w.write(dir.file("w.gguf"));
  EXPECT_EQ(File::open(dir.file("w.gguf")).find("general.alignment")->as_uint(), 32u);
}

TEST(Gguf, SetReplacesAnExistingKeyInPlace) {
  ScratchDir dir;
  Writer w;
  w.set("a", Value::u32(1));
  w.set("b", Value::str("two"));
  w.set("a", Value::str("three"));
  w.write(dir.file("s.gguf"));
  const File f = File::open(dir.file("s.gguf"));
  ASSERT_EQ(f.metadata().size(), 3u);
  EXPECT_EQ(f.metadata()[0].first, "a");
  EXPECT_EQ(*f.metadata()[0].second.as_string(), "three");
  EXPECT_EQ(f.metadata()[1].first, "b");
  EXPECT_EQ(f.metadata()[2].first, "general.alignment");
}

TEST(Gguf, WriterLaysOutTensorsWithTheCallersGeneralAlignment) {
  ScratchDir dir;
  Writer w(32);
  w.set("general.alignment", Value::u32(256));
  w.add_tensor("a", DType::F32, {3}, random_bytes(12, 5));
  w.add_tensor("b", DType::F32, {3}, random_bytes(12, 6));
  w.write(dir.file("a.gguf"));
  const File f = File::open(dir.file("a.gguf"));
  EXPECT_EQ(f.alignment(), 256u);
  EXPECT_EQ(f.metadata().size(), 1u);
  EXPECT_EQ(f.tensors()[1].offset - f.tensors()[0].offset, 256u);

  Writer bad;
  bad.set("general.alignment", Value::u32(48));
  EXPECT_THROW(bad.write(dir.file("b.gguf")), bwscope::Error);
  bad.set("general.alignment", Value::u64(64));
  EXPECT_THROW(bad.write(dir.file("b.gguf")), bwscope::Error);
  EXPECT_THAT(dir.entries(), ElementsAre("a.gguf"));
}

TEST(Gguf, FillThatThrowsLeavesNoFileAndNoTemporaryFile) {
  ScratchDir dir;
  const std::string path = dir.file("m.gguf");
  Writer w;
  w.add_tensor("ok", DType::F32, {1024}, random_bytes(4096, 7));
  w.add_tensor("boom", DType::F32, {1024}, [](std::span<uint8_t> dst) {
    dst[0] = 1;
    throw std::runtime_error("fill failed");
  });
  EXPECT_THROW(w.write(path), std::runtime_error);
  EXPECT_THAT(dir.entries(), IsEmpty());
}

TEST(Gguf, FailedWriteLeavesAnExistingFileUntouched) {
  ScratchDir dir;
  const std::string path = dir.file("m.gguf");
  const auto before = random_bytes(100, 8);
  write_bytes(path, before);
  Writer w;
  w.add_tensor("boom", DType::F16, {8}, [](std::span<uint8_t>) { bwscope::fail("generator gave up"); });
  EXPECT_THROW(w.write(path), bwscope::Error);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_THAT(dir.entries(), ElementsAre("m.gguf"));
}

TEST(Gguf, WriterRejectsDuplicateTensorNames) {
  Writer w;
  w.add_tensor("x", DType::F32, {4}, random_bytes(16, 9));
  try {
    w.add_tensor("x", DType::F16, {4}, random_bytes(8, 9));
    FAIL() << "duplicate accepted";
  } catch (const bwscope::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tensor 'x' added twice"));
  }
}

TEST(Gguf, WriterRejectsRowLengthNotAMultipleOfTheBlock) {
  Writer w;
  try {
    w.add_tensor("q", DType::Q8_0, {33, 2}, [](std::span<uint8_t>) {});
    FAIL() << "row of 33 q8_0 values accepted";
  } catch (const bwscope::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("rows of 33 values are not a multiple of q8_0's block of 32"));
  }
  EXPECT_THROW(w.add_tensor("k", DType::Q4_K, {128}, [](std::span<uint8_t>) {}), bwscope::Error);
  EXPECT_THROW(w.add_tensor("none", DType::F32, {}, [](std::span<uint8_t>) {}), bwscope::Error);
  EXPECT_THROW(w.add_tensor("five", DType::F32, {1, 1, 1, 1, 1}, [](std::span<uint8_t>) {}), bwscope::Error);
  EXPECT_THROW(w.add_tensor("huge", DType::F32, {1ull << 32, 1ull << 32}, [](std::span<uint8_t>) {}), bwscope::Error);
}

TEST(Gguf, WriterRejectsArrayPayloadNotMatchingItsElementType) {
  ScratchDir dir;
  const std::vector<Value> bad = {
      Value::array(Type::U32, std::vector<int64_t>{1}),
      Value::array(Type::F32, std::vector<uint64_t>{1}),
      Value::array(Type::STRING, std::vector<bool>{true}),
      Value::array(Type::ARRAY, std::vector<Value>{Value::u32(3)}),
      Value{Type::U32, Type::U8, std::string("not a number")},
      Value{Type(77), Type::U8, uint64_t(1)},
      Value::array(Type(77), std::vector<uint64_t>{1}),
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    Writer w;
    w.set("k", bad[i]);
    EXPECT_THROW(w.write(dir.file("m.gguf")), bwscope::Error);
  }
  EXPECT_THAT(dir.entries(), IsEmpty());
}

TEST(Gguf, WriterRejectsValuesThatDoNotFitTheirType) {
  ScratchDir dir;
  for (const Value& v : {Value{Type::U8, Type::U8, uint64_t(256)}, Value{Type::I16, Type::U8, int64_t(-40000)},
                         Value::array(Type::U32, std::vector<uint64_t>{1ull << 32})}) {
    Writer w;
    w.set("k", v);
    try {
      w.write(dir.file("m.gguf"));
      ADD_FAILURE() << "out-of-range value written";
    } catch (const bwscope::Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("does not fit"));
    }
  }
  EXPECT_THAT(dir.entries(), IsEmpty());
}

TEST(Gguf, WriterRejectsArraysNestedDeeperThanTheReaderAccepts) {
  ScratchDir dir;
  Value v = Value::u32s({1});
  for (int depth = 1; depth < 4; ++depth) v = Value::array(Type::ARRAY, std::vector<Value>{v});
  Writer ok;
  ok.set("k", v);  // four levels of arrays: the limit
  ok.write(dir.file("ok.gguf"));
  EXPECT_EQ(*File::open(dir.file("ok.gguf")).find("k"), v);

  Writer deep;
  deep.set("k", Value::array(Type::ARRAY, std::vector<Value>{v}));
  EXPECT_THROW(deep.write(dir.file("deep.gguf")), bwscope::Error);
}

TEST(Gguf, WriterRejectsDataOfTheWrongSizeAndBadAlignment) {
  ScratchDir dir;
  Writer w;
  w.add_tensor("x", DType::F32, {4}, random_bytes(12, 10));
  EXPECT_THROW(w.write(dir.file("m.gguf")), bwscope::Error);
  EXPECT_THAT(dir.entries(), IsEmpty());
  EXPECT_THROW(Writer(0), bwscope::Error);
  EXPECT_THROW(Writer(48), bwscope::Error);
  EXPECT_THROW(Writer(1ull << 40), bwscope::Error);
}

TEST(Gguf, ValueHelpersConvertOnlyWhenTheValueFits) {
  EXPECT_EQ(Value::u8(7).as_uint(), 7u);
  EXPECT_EQ(Value::i32(7).as_uint(), 7u);
  EXPECT_EQ(Value::i32(-7).as_uint(), std::nullopt);
  EXPECT_EQ(Value::i64(-7).as_int(), -7);
  EXPECT_EQ(Value::u64(UINT64_MAX).as_int(), std::nullopt);
  EXPECT_EQ(Value::u64(UINT64_MAX).as_uint(), UINT64_MAX);
  EXPECT_EQ(Value::f32(1.5f).as_uint(), std::nullopt);
  EXPECT_EQ(Value::boolean(true).as_uint(), std::nullopt);
  EXPECT_EQ(Value::str("1").as_int(), std::nullopt);
  EXPECT_EQ(Value::f32(1.5f).as_float(), 1.5);
  EXPECT_EQ(Value::f64(-2.25).as_float(), -2.25);
  EXPECT_EQ(Value::u32(3).as_float(), 3.0);
  EXPECT_EQ(Value::i16(-3).as_float(), -3.0);
  EXPECT_EQ(Value::u64(UINT64_MAX).as_float(), double(UINT64_MAX));
  EXPECT_EQ(Value::f32s({1.f}).as_float(), std::nullopt);
  EXPECT_EQ(Value::str("x").as_float(), std::nullopt);

  EXPECT_EQ(*Value::str("tok").as_string(), "tok");
  EXPECT_EQ(Value::u32(1).as_string(), nullptr);
  EXPECT_EQ(Value::strings({"a"}).as_string(), nullptr);
  EXPECT_THAT(*Value::strings({"a", "b"}).as_strings(), ElementsAre("a", "b"));
  EXPECT_EQ(Value::str("a").as_strings(), nullptr);
  EXPECT_EQ(Value::u32s({1}).as_strings(), nullptr);

  EXPECT_THAT(*Value::i32s({-1, 2}).as_ints(), ElementsAre(-1, 2));
  EXPECT_THAT(*Value::u32s({1, 2}).as_ints(), ElementsAre(1, 2));
  EXPECT_EQ(Value::array(Type::U64, std::vector<uint64_t>{UINT64_MAX}).as_ints(), std::nullopt);
  EXPECT_EQ(Value::f32s({1.f}).as_ints(), std::nullopt);
  EXPECT_EQ(Value::u32(1).as_ints(), std::nullopt);
  EXPECT_THAT(*Value::f32s({0.5f, 2.f}).as_floats(), ElementsAre(0.5, 2.0));
  EXPECT_EQ(Value::i32s({1}).as_floats(), nullptr);
  EXPECT_EQ(Value::f64(1).as_floats(), nullptr);

  EXPECT_EQ(Value::u32s({1, 2, 3}).array_size(), 3u);
  EXPECT_EQ(Value::strings({"a", "b"}).array_size(), 2u);
  EXPECT_EQ(Value::array(Type::BOOL, std::vector<bool>{true}).array_size(), 1u);
  EXPECT_EQ(Value::array(Type::ARRAY, std::vector<Value>{Value::u32s({}), Value::u32s({})}).array_size(), 2u);
  EXPECT_EQ(Value::str("abc").array_size(), 0u);
  EXPECT_EQ(Value::u32(5).array_size(), 0u);
}

TEST(Gguf, TypeNamesFollowTheSpec) {
  EXPECT_EQ(bwscope::gguf::type_name(Type::U8), "u8");
  EXPECT_EQ(bwscope::gguf::type_name(Type::BOOL), "bool");
  EXPECT_EQ(bwscope::gguf::type_name(Type::STRING), "string");
  EXPECT_EQ(bwscope::gguf::type_name(Type::ARRAY), "array");
  EXPECT_EQ(bwscope::gguf::type_name(Type::F64), "f64");
  EXPECT_EQ(bwscope::gguf::type_name(Type(13)), "unknown");
}

}  // namespace
