// safetensors: the writer's files read back exactly; single and sharded checkpoints; and every
// kind of malformed header refused with one line naming the file.
#include "bwscope/format/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "bwscope/base/error.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using safetensors::Checkpoint;
using safetensors::File;

std::vector<float> iota_floats(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + 0.5f * float(i);
  return v;
}

void write_floats(safetensors::Writer& w, const std::string& name, std::vector<uint64_t> shape, std::vector<float> values) {
  w.add_tensor(name, DType::F32, std::move(shape), [values](std::span<uint8_t> dst) {
    ASSERT_EQ(dst.size(), values.size() * 4);
    std::memcpy(dst.data(), values.data(), dst.size());
  });
}

// A file from a header text and `data_bytes` bytes of data (header length written as given).
void write_raw(const std::string& path, const std::string& header, size_t data_bytes, uint64_t header_len = UINT64_MAX) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t len = header_len == UINT64_MAX ? header.size() : header_len;
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << std::string(data_bytes, '\x01');
}

TEST(Safetensors, WriterOutputReadsBackExactly) {
  test_support::TempDir dir;
  safetensors::Writer w;
  w.set_metadata("format", "pt");
  write_floats(w, "a.weight", {2, 3}, iota_floats(6, 1.0f));
  write_floats(w, "b.bias", {5}, iota_floats(5, -2.0f));
  w.add_tensor("c.half", DType::BF16, {4}, [](std::span<uint8_t> dst) {
    for (size_t i = 0; i < 4; ++i) {
      const uint16_t h = f32_to_bf16(float(i) + 0.25f);
      std::memcpy(dst.data() + 2 * i, &h, 2);
    }
  });
  w.write(dir.file("m.safetensors"));

  const File f = File::open(dir.file("m.safetensors"));
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), 3u);
  const safetensors::Tensor* a = f.find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, "F32");
  EXPECT_EQ(a->type, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a->n_elements, 6u);
  std::vector<float> got(6);
  std::memcpy(got.data(), a->bytes.data(), 24);
  EXPECT_EQ(got, iota_floats(6, 1.0f));
  const safetensors::Tensor* c = f.find("c.half");
  ASSERT_NE(c, nullptr);
  uint16_t h3 = 0;
  std::memcpy(&h3, c->bytes.data() + 6, 2);
  EXPECT_EQ(bf16_to_f32(h3), 3.25f);
  EXPECT_EQ(c->file, dir.file("m.safetensors"));
  EXPECT_EQ(f.find("missing"), nullptr);
  // Tensors follow each other with no gap, as the reference implementation requires.
  EXPECT_EQ(f.find("b.bias")->bytes.data(), a->bytes.data() + 24);
}

TEST(Safetensors, ShardedCheckpointFindsEveryTensorThroughTheIndex) {
  test_support::TempDir dir;
  safetensors::Writer w1, w2;
  write_floats(w1, "x", {4}, iota_floats(4, 0.0f));
  write_floats(w2, "y", {2, 2}, iota_floats(4, 10.0f));
  w1.write(dir.file("model-00001-of-00002.safetensors"));
  w2.write(dir.file("model-00002-of-00002.safetensors"));
  std::ofstream(dir.file("model.safetensors.index.json"))
      << R"({"metadata": {"total_size": 32}, "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})";
  const Checkpoint c = Checkpoint::open(dir.path().string());
  EXPECT_EQ(c.files().size(), 2u);
  ASSERT_NE(c.find("y"), nullptr);
  float y0 = 0;
  std::memcpy(&y0, c.find("y")->bytes.data(), 4);
  EXPECT_EQ(y0, 10.0f);
  EXPECT_EQ(c.tensors().size(), 2u);
  EXPECT_EQ(Checkpoint::open(dir.file("model-00001-of-00002.safetensors")).find("y"), nullptr);  // a shard alone
}

void expect_error(const std::function<void()>& open, const std::string& file, const std::string& must_contain) {
  try {
    open();
    ADD_FAILURE() << "accepted; expected an error containing '" << must_contain << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(must_contain), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Safetensors, RejectsMalformedHeadersNamingTheFile) {
  test_support::TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  const std::vector<std::tuple<std::string, size_t, std::string>> cases = {
      {R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})", 8, "not valid JSON"},
      {R"([1, 2])", 0, "not a JSON object"},
      {R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 16, "names 't' twice"},
      {R"({"t": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})", 8, "unknown dtype 'Q4'"},
      {R"({"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20, "has 20 bytes but dtype F32 × shape [2, 3] needs 24"},
      {R"({"t": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 16]}})", 16, "needs 8"},
      {R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 12, "past the end of the file"},
      {R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 16, "overlap"},
      {R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8, "end before they begin"},
      {R"({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8, "not a non-negative integer"},
      {R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8, "overflows"},
      {R"({"t": {"dtype": "F32", "data_offsets": [0, 8]}})", 8, "needs dtype, shape and data_offsets"},
      {R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8, "not [begin, end]"},
      {R"({"__metadata__": {"k": 1}})", 0, "'k' is not a string"},
  };
  for (const auto& [header, data_bytes, message] : cases) {
    write_raw(p, header, data_bytes);
    expect_error([&] { File::open(p); }, p, message);
  }
  write_raw(p, "{}", 0, 1000);
  expect_error([&] { File::open(p); }, p, "header length 1000 runs past the end");
  std::ofstream(p, std::ios::binary) << "abc";
  expect_error([&] { File::open(p); }, p, "too short");
}

TEST(Safetensors, RejectsInconsistentShardedCheckpoints) {
  test_support::TempDir dir;
  safetensors::Writer w1, w2;
  write_floats(w1, "x", {4}, iota_floats(4, 0.0f));
  write_floats(w2, "x", {4}, iota_floats(4, 1.0f));
  w1.write(dir.file("s1.safetensors"));
  w2.write(dir.file("s2.safetensors"));
  const std::string index = dir.file("model.safetensors.index.json");
  auto with_index = [&](const std::string& text) {
    std::ofstream(index) << text;
    return [&] { Checkpoint::open(index); };
  };
  expect_error(with_index(R"({"weight_map": {"x": "s1.safetensors", "z": "s2.safetensors"}})"), index, "in both");
  expect_error(with_index(R"({"weight_map": {"x": "s1.safetensors", "y": "s1.safetensors"}})"), index, "tensor 'y' is not in s1.safetensors");
  expect_error(with_index(R"({"weight_map": {"x": "missing.safetensors"}})"), "missing.safetensors", "cannot open");
  expect_error(with_index(R"({"weight_map": {"x": "../s1.safetensors"}})"), index, "not a file in the same directory");
  expect_error(with_index(R"({"weight_map": []})"), index, "no 'weight_map' object");
  expect_error(with_index(R"({"weight_map": )"), index, "not valid JSON");
  std::filesystem::remove(index);
  expect_error([&] { Checkpoint::open(dir.path().string()); }, dir.path().string(), "found 2 .safetensors files");
}

}  // namespace
}  // namespace bwscope
