// The compute probe: the FLOP/s roof for MFU. Times the matmul kernel prefill uses
// (kernels::best_ops()) on a weight matrix that fits the last-level cache and a prompt-sized
// batch of tokens, so the figure is limited by arithmetic, not by memory.
#include <pthread.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "bwscope/base/dtype.h"
#include "bwscope/base/error.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/meter/ledger.h"
#include "bwscope/meter/probe.h"
#include "bwscope/base/thread_pool.h"

namespace bwscope::meter {
namespace {

// 2048 × 2048 weights (16 MiB in F32, 2–8 MiB quantized) and 128 tokens: each weight row is
// reused 128 times, as in a prefill batch, and the matrix stays in a 32 MiB L3.
constexpr int64_t kRows = 2048, kCols = 2048, kTokens = 128;

// The weight types whose quantizer and matmul kernels exist (the types `synth` writes).
constexpr DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0};

ComputeFigure probe_type(const kernels::Ops& ops, DType type, ThreadPool& pool, int reps) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const size_t w_row = size_t(*row_bytes(type, uint64_t(kCols)));
  std::vector<uint8_t> weights(w_row * size_t(kRows));
  std::vector<float> row(static_cast<size_t>(kCols)), x(static_cast<size_t>(kTokens * kCols)), y(static_cast<size_t>(kTokens * kRows));
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& v : row) v = u(rng);
    kernels::quantize_row(type, row.data(), weights.data() + size_t(r) * w_row, kCols);
  }
  for (float& v : x) v = u(rng);
  kernels::Matrix w{type, kRows, kCols, w_row, weights.data()};
  const DType act_type = ops.act_type(type);
  const size_t act_stride = (size_t(*row_bytes(act_type, uint64_t(kCols))) + 63) / 64 * 64;
  std::vector<uint8_t> act(act_stride * size_t(kTokens));
  ops.prepare_act(type, x.data(), kCols, kTokens, kCols, act.data(), act_stride);

  double best = 0;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1 warms caches and the pool
    const int64_t t0 = now_ns();
    // Rows split over the workers in multiples of 16, as the engine splits them.
    pool.run([&](int worker, int n_workers) {
      const Range rows = split_range(kRows, worker, n_workers, 16);
      if (rows.end > rows.begin) ops.matmul(w, act.data(), act_stride, kTokens, y.data(), kRows, rows.begin, rows.end);
    });
    const int64_t t1 = now_ns();
    if (rep >= 0) best = std::max(best, 2.0 * double(kRows * kCols * kTokens) / double(std::max<int64_t>(t1 - t0, 1)));
  }
  ComputeFigure f;
  f.kernel = fmt::format("{}/{} matmul {}x{}x{}", ops.isa, dtype_name(type), kRows, kCols, kTokens);
  f.best_gflops = best;  // FLOPs / ns = GFLOP/s
  return f;
}

}  // namespace

double decode_compute_gflops(DType type, int64_t n_tok, double seconds) {
  // 256 rows of 2048: 1 MiB in F16, 272 KiB in Q8_0, 144 KiB in Q4_0: the core's L2 (or close
  // to it) holds the matrix, so the rate is the kernel's arithmetic and unpacking, not memory.
  constexpr int64_t rows = 256, cols = 2048;
  if (n_tok < 1 || n_tok > 64) fail("decode compute probe: {} tokens; give 1 to 64", n_tok);
  const kernels::Ops& ops = kernels::best_ops();
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const size_t w_row = size_t(*row_bytes(type, uint64_t(cols)));
  std::vector<uint8_t> weights(w_row * size_t(rows)), laid(weights.size());
  std::vector<float> row(static_cast<size_t>(cols)), x(static_cast<size_t>(n_tok * cols)), y(static_cast<size_t>(n_tok * rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = u(rng);
    kernels::quantize_row(type, row.data(), weights.data() + size_t(r) * w_row, cols);
  }
  for (float& v : x) v = u(rng);
  kernels::Matrix w{type, rows, cols, w_row, weights.data()};
  // The layout the engine decodes on (kernels::Ops::prefers_interleaved).
  if (ops.prefers_interleaved(type) && kernels::can_interleave(w)) {
    kernels::interleave_rows(w, laid.data());
    w.data = laid.data();
    w.interleaved = true;
  }
  const DType act_type = ops.act_type(type);
  const size_t act_stride = (size_t(*row_bytes(act_type, uint64_t(cols))) + 63) / 64 * 64;
  std::vector<uint8_t> act(act_stride * size_t(n_tok));
  ops.prepare_act(type, x.data(), cols, n_tok, cols, act.data(), act_stride);
  double best = 0;
  const int64_t end = now_ns() + int64_t(seconds * 1e9);
  for (int round = 0; round < 3 || now_ns() < end; ++round) {
    constexpr int kCalls = 16;
    const int64_t t0 = now_ns();
    for (int k = 0; k < kCalls; ++k) ops.matmul(w, act.data(), act_stride, n_tok, y.data(), rows, 0, rows);
    const int64_t t1 = now_ns();
    best = std::max(best, 2.0 * double(rows * cols * n_tok * kCalls) / double(std::max<int64_t>(t1 - t0, 1)));
  }
  return best;
}

std::vector<ComputeFigure> run_compute_probe(int threads, int reps) {
  if (threads < 1) fail("compute probe: threads must be positive, not {}", threads);
  if (reps < 1) fail("compute probe: repetitions must be at least 1, not {}", reps);
  const kernels::Ops& ops = kernels::best_ops();
  // Pinned like the bandwidth probe; the caller's affinity is put back afterwards.
  cpu_set_t saved;
  const bool have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && int(cpus.size()) < threads; ++c)
    if (have_saved && CPU_ISSET(c, &saved)) cpus.push_back(c);
  std::vector<ComputeFigure> out;
  {
    ThreadPool pool(threads, cpus, true);
    for (DType t : kTypes)
      if (dtype_info(t).supported) out.push_back(probe_type(ops, t, pool, reps));
  }
  if (have_saved) pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
  return out;
}

}  // namespace bwscope::meter
