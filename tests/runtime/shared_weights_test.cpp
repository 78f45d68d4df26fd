// Shared weights: the copy in the sealed memfd object computes exactly what a private copy in
// the same layout computes, refuses another model or kernel table, and leaves nothing behind.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "bwscope/base/error.h"
#include "bwscope/engine/engine.h"
#include "bwscope/runtime/shared_weights.h"
#include "bwscope/runtime/weight_copy.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

// Descriptors of this process that name a bwscope weights object.
int open_weight_objects() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.find("memfd:bwscope-weights") != std::string::npos) ++n;
  }
  return n;
}

// Logits of every position of a short prompt, one token per forward (the decode kernels).
std::vector<float> logits(const LlamaModel& m, const kernels::Ops& ops) {
  EngineOptions o;
  o.n_ctx = 16;
  o.kv_type = DType::F32;
  o.ops = &ops;
  Engine e(m, o);
  std::vector<float> out;
  const int32_t tokens[] = {7, 300, 41, 129, 5, 511};
  for (int32_t i = 0; i < 6; ++i) {
    BatchToken t{tokens[i], i, 0, true};
    const auto l = e.forward(std::span(&t, 1));
    out.insert(out.end(), l.begin(), l.end());
  }
  // And a prefill of 6 tokens at once (the GEMM kernels, which pack from the layout).
  Engine p(m, o);
  std::vector<BatchToken> batch;
  for (int32_t i = 0; i < 6; ++i) batch.push_back({tokens[i], i, 0, true});
  const auto l = p.forward(batch);
  out.insert(out.end(), l.begin(), l.end());
  return out;
}

TEST(SharedWeights, LogitsAreBitIdenticalToThePrivateCopyOnEveryKernelTable) {
  test_support::TempDir dir;
  for (DType type : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::F32}) {
    const std::string path = test_support::write_tiny_model(dir, type);
    for (const char* isa : {"scalar", "avx2", "avx512"}) {
      const kernels::Ops* ops = kernels::ops_by_name(isa);
      if (!ops) continue;
      SCOPED_TRACE(testing::Message() << dtype_name(type) << " " << isa);
      LlamaModel priv = load_llama(path), shared = load_llama(path);
      make_weights_private(priv, ops);
      const auto object = SharedWeights::create(path, *ops, 2);
      object->attach(shared, *ops);
      // The same layout, matrix by matrix, read from the object.
      EXPECT_EQ(shared.layers[0].attn_q.interleaved, priv.layers[0].attn_q.interleaved);
      EXPECT_EQ(shared.layers[1].ffn_down.interleaved, priv.layers[1].ffn_down.interleaved);
      EXPECT_EQ(object->bytes(), plan_copy(load_llama(path), ops).bytes);
      const std::vector<float> a = logits(priv, *ops), b = logits(shared, *ops);
      ASSERT_EQ(a.size(), b.size());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    }
  }
}

TEST(SharedWeights, IsSealedNamelessAndGoneWithItsLastReference) {
  test_support::TempDir dir;
  const std::string path = test_support::write_tiny_model(dir, DType::Q8_0);
  const int before = open_weight_objects();
  {
    const auto object = SharedWeights::create(path, kernels::best_ops(), 1);
    EXPECT_EQ(open_weight_objects(), before + 1);
    EXPECT_GT(object->inode(), 0u);
    LlamaModel m = load_llama(path);
    object->attach(m, kernels::best_ops());
    // The mapping is read-only and the object can no longer be written, grown or shrunk.
    const std::string fd_path = "/proc/self/fd/" + std::to_string(
        [&] {
          for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
            std::error_code ec;
            if (std::filesystem::read_symlink(e.path(), ec).string().find("memfd:bwscope-weights") != std::string::npos)
              return std::stoi(e.path().filename().string());
          }
          return -1;
        }());
    const int fd = ::open(fd_path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << fd_path;
    struct stat st{};
    ASSERT_EQ(::fstat(fd, &st), 0);
    EXPECT_GE(uint64_t(st.st_blocks) * 512, object->bytes());  // its pages are allocated, all of them
    EXPECT_LT(::write(fd, "x", 1), 0);  // F_SEAL_WRITE
    EXPECT_NE(::ftruncate(fd, 1), 0);   // F_SEAL_SHRINK
    const int seals = ::fcntl(fd, F_GET_SEALS);
    EXPECT_EQ(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    ::close(fd);
  }
  // Nothing in any file system to clean up: the descriptor was the object's last reference but
  // for the model's mapping, which went with the model.
  EXPECT_EQ(open_weight_objects(), before);
}

TEST(SharedWeights, RefusesAnotherModelOrAnotherKernelTable) {
  test_support::TempDir dir;
  const std::string a = test_support::write_tiny_model(dir, DType::Q8_0, 1);
  const std::string b = test_support::write_tiny_model(dir, DType::F16, 2);
  const auto object = SharedWeights::create(a, kernels::scalar_ops(), 1);
  LlamaModel other = load_llama(b);
  EXPECT_THROW(object->attach(other, kernels::scalar_ops()), Error);
  if (const kernels::Ops* simd = kernels::ops_by_name("avx2")) {
    LlamaModel same = load_llama(a);
    EXPECT_THROW(object->attach(same, *simd), Error);
  }
}

}  // namespace
}  // namespace bwscope
