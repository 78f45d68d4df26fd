// Matrix-product kernels of every available table (scalar is left out: it is the reference,
// not a contender) on one thread.
//   Decode/<isa>/<type>: one token against 8192×2048 weight rows taken in turn from a 256 MiB
//     buffer, so every call reads DRAM (L3 is 32 MiB). Bytes/s counts weight bytes only.
//   Prefill/<isa>/<type>/<rows>x<cols>/<n_tok>: the matmul alone (activations prepared once),
//     FLOP/s = 2·rows·cols·n_tok per call, per CPU second (compute bound: CPU time is what the
//     kernel got; on a shared machine wall time also counts other processes).
//   DecodeInCache/<isa>/<type>/<tokens>: the same on 64 rows that stay in L2, for 1, 2 and 4
//     tokens (batched decode): the compute ceiling.
//   .../<isa>/<type>/interleaved: the same on the interleaved layout, for tables that prefer it.
//   ReadBandwidth/<streams>: the attainable single-thread read rate on the same buffer size,
//     summed in K interleaved streams (as peers/readbw does), to compare with in the same run.
// Timings on this shared machine drift: run with --benchmark_repetitions and compare medians
// of variants measured in the same run.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/kernels/ops.h"

namespace bwscope::kernels {
namespace {

constexpr size_t kBufferBytes = size_t(256) << 20;
constexpr int64_t kDecodeRows = 8192, kDecodeCols = 2048;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// `total_rows` rows of valid values of `type`: 64 distinct quantized rows repeated; in the
// interleaved layout (Matrix::interleaved) when `interleaved`.
struct Weights {
  DType type;
  int64_t cols, total_rows;
  size_t row_bytes;
  std::unique_ptr<uint8_t[]> data;
  bool interleaved = false;

  Matrix rows_from(int64_t row0, int64_t n) const {
    Matrix m{type, n, cols, row_bytes, data.get() + size_t(row0) * row_bytes};
    m.interleaved = interleaved;
    return m;
  }
};
Weights make_weights(DType type, int64_t cols, size_t min_bytes, bool interleaved) {
  Weights w{type, cols, 0, *row_bytes(type, uint64_t(cols)), nullptr};
  w.total_rows = int64_t((min_bytes + w.row_bytes - 1) / w.row_bytes + 15) / 16 * 16;
  w.data.reset(new uint8_t[w.row_bytes * size_t(w.total_rows)]);
  const int64_t distinct = 64;
  const auto src = random_floats(size_t(distinct * cols), 1);
  for (int64_t r = 0; r < distinct; ++r) quantize_row(type, src.data() + r * cols, w.data.get() + r * w.row_bytes, cols);
  for (int64_t r = distinct; r < w.total_rows; ++r)
    std::memcpy(w.data.get() + r * w.row_bytes, w.data.get() + (r % distinct) * w.row_bytes, w.row_bytes);
  if (interleaved) {  // slices starting at a multiple of 16 rows are then interleaved matrices too
    std::unique_ptr<uint8_t[]> inter(new uint8_t[w.row_bytes * size_t(w.total_rows)]);
    interleave_rows(w.rows_from(0, w.total_rows), inter.get());
    w.data = std::move(inter);
    w.interleaved = true;
  }
  return w;
}

// One big buffer alive at a time (the machine is shared).
const Weights& weights(DType type, int64_t cols, size_t min_bytes, bool interleaved) {
  static std::unique_ptr<Weights> cached;
  if (!cached || cached->type != type || cached->cols != cols || cached->row_bytes * size_t(cached->total_rows) < min_bytes ||
      cached->interleaved != interleaved) {
    cached.reset();
    cached = std::make_unique<Weights>(make_weights(type, cols, min_bytes, interleaved));
  }
  return *cached;
}

struct Activations {
  std::vector<uint8_t> bytes;
  size_t stride;
};
Activations prepare(const Ops& ops, DType type, int64_t n_tok, int64_t cols) {
  const DType at = ops.act_type(type);
  Activations a{{}, (*row_bytes(at, uint64_t(cols)) + 63) / 64 * 64};
  a.bytes.resize(a.stride * size_t(n_tok));
  const auto x = random_floats(size_t(n_tok * cols), 2);
  ops.prepare_act(type, x.data(), cols, n_tok, cols, a.bytes.data(), a.stride);
  return a;
}

void decode(benchmark::State& state, const Ops* ops, DType type, bool interleaved) {
  const Weights& w = weights(type, kDecodeCols, kBufferBytes, interleaved);
  const Activations a = prepare(*ops, type, 1, kDecodeCols);
  std::vector<float> y(kDecodeRows);
  const int64_t slices = w.total_rows / kDecodeRows;
  int64_t slice = 0;
  for (auto _ : state) {
    const Matrix m = w.rows_from(slice * kDecodeRows, kDecodeRows);
    ops->matmul(m, a.bytes.data(), a.stride, 1, y.data(), kDecodeRows, 0, kDecodeRows);
    benchmark::DoNotOptimize(y.data());
    slice = (slice + 1) % slices;
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kDecodeRows * int64_t(w.row_bytes));
}

// The same product on 64 rows that stay in L2, for state.range(0) tokens (batched decode):
// the kernel's compute ceiling, in weight bytes/s.
void decode_in_cache(benchmark::State& state, const Ops* ops, DType type, bool interleaved) {
  const int64_t rows = 64, n_tok = state.range(0);
  const Weights& w = weights(type, kDecodeCols, size_t(rows) * *row_bytes(type, uint64_t(kDecodeCols)), interleaved);
  const Activations a = prepare(*ops, type, n_tok, kDecodeCols);
  std::vector<float> y(static_cast<size_t>(rows * n_tok));
  const Matrix m = w.rows_from(0, rows);
  for (auto _ : state) {
    ops->matmul(m, a.bytes.data(), a.stride, n_tok, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * rows * int64_t(w.row_bytes));
}

void prefill(benchmark::State& state, const Ops* ops, DType type, bool interleaved, int64_t rows, int64_t cols) {
  const int64_t n_tok = state.range(0);
  const Weights& w = weights(type, cols, size_t(rows) * *row_bytes(type, uint64_t(cols)), interleaved);
  const Activations a = prepare(*ops, type, n_tok, cols);
  std::vector<float> y(size_t(rows * n_tok));
  const Matrix m = w.rows_from(0, rows);
  for (auto _ : state) {
    ops->matmul(m, a.bytes.data(), a.stride, n_tok, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * double(rows) * double(cols) * double(n_tok) * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

// Sum of the buffer read as K interleaved sequential streams (K = state.range(0)).
void read_bandwidth(benchmark::State& state) {
  const int k = int(state.range(0));
  static std::unique_ptr<uint64_t[]> buf;
  const size_t n = kBufferBytes / 8;
  if (!buf) {
    buf.reset(new uint64_t[n]);
    for (size_t i = 0; i < n; ++i) buf[i] = i * 2654435761u;
  }
  const size_t per = n / size_t(k) / 8 * 8;
  for (auto _ : state) {
    uint64_t s[16][8] = {};
    for (size_t i = 0; i < per; i += 8)
      for (int j = 0; j < k; ++j)
        for (int l = 0; l < 8; ++l) s[j][l] += buf[size_t(j) * per + i + size_t(l)];
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(per * size_t(k) * 8));
}

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

struct Registrar {
  Registrar() {
    for (int k : {1, 4, 8}) benchmark::RegisterBenchmark("ReadBandwidth", read_bandwidth)->Arg(k)->UseRealTime();
    for (const char* isa : {"avx512", "avx2"}) {
      const Ops* ops = ops_by_name(isa);
      if (!ops) continue;
      for (DType t : kTypes)
        for (bool inter : {false, true}) {
          if (inter && !ops->prefers_interleaved(t)) continue;
          const std::string suffix = std::string(isa) + "/" + std::string(dtype_name(t)) + (inter ? "/interleaved" : "");
          benchmark::RegisterBenchmark(("Decode/" + suffix).c_str(), decode, ops, t, inter)->UseRealTime();
          benchmark::RegisterBenchmark(("DecodeInCache/" + suffix).c_str(), decode_in_cache, ops, t, inter)->Arg(1)->Arg(2)->Arg(4);
          benchmark::RegisterBenchmark(("Prefill/" + suffix + "/2048x2048").c_str(), prefill, ops, t, inter, int64_t(2048), int64_t(2048))
              ->Arg(4)->Arg(16)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond);
          benchmark::RegisterBenchmark(("Prefill/" + suffix + "/2048x8192").c_str(), prefill, ops, t, inter, int64_t(2048), int64_t(8192))
              ->Arg(512)->Unit(benchmark::kMillisecond);
        }
    }
  }
} registrar;

}  // namespace
}  // namespace bwscope::kernels
