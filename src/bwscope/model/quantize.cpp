#include "bwscope/model/quantize.h"

#include <thread>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/kernels/ops.h"
#include "bwscope/model/synth.h"
#include "bwscope/model/weight_plan.h"

namespace bwscope {
namespace {

// Converts rows [r0, r1) of `src` (type `from`, `cols` wide) into `dst` (type `to`).
void convert_rows(const gguf::Tensor& src, DType to, int64_t cols, int64_t r0, int64_t r1, std::span<uint8_t> dst) {
  const size_t in_row = size_t(*row_bytes(src.type, uint64_t(cols))), out_row = size_t(*row_bytes(to, uint64_t(cols)));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = r0; r < r1; ++r) {
    kernels::dequantize_row(src.type, src.bytes.data() + size_t(r) * in_row, row.data(), cols);
    kernels::quantize_row(to, row.data(), dst.data() + size_t(r) * out_row, cols);
  }
}

}  // namespace

QuantizeStats quantize_model(const std::string& in_path, const std::string& out_path, DType type, int threads) {
  return quantize_model(in_path, out_path, single_type_plan(type), threads);  // refuses types the engine cannot make
}

QuantizeStats quantize_model(const std::string& in_path, const std::string& out_path, const WeightPlan& plan, int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  auto in = std::make_shared<const gguf::File>(gguf::File::open(in_path));
  gguf::Writer w(in->alignment());
  for (const auto& [key, value] : in->metadata()) w.set(key, value);
  w.set("general.file_type", gguf::Value::u32(plan.file_type));
  if (dtype_info(plan.base).block_elems > 1) w.set("general.quantization_version", gguf::Value::u32(2));
  // The mix rules need the layer count and whether the output projection is tied.
  int64_t n_layers = 0;
  if (const gguf::Value* v = in->find("llama.block_count"); v && v->as_uint()) n_layers = int64_t(*v->as_uint());
  bool has_output = false;
  for (const gguf::Tensor& t : in->tensors()) has_output |= t.name == "output.weight";

  QuantizeStats stats;
  for (const gguf::Tensor& t : in->tensors()) {
    stats.bytes_in += t.n_bytes;
    const DType type = t.ne.size() == 2 ? plan_tensor_type(plan, t.name, n_layers, has_output, int64_t(t.ne[0])) : t.type;
    if (t.ne.size() != 2 || t.type == type) {  // norms, rope factors, tensors already in the type
      w.add_tensor(t.name, t.type, t.ne, [in, &t](std::span<uint8_t> dst) { std::copy(t.bytes.begin(), t.bytes.end(), dst.begin()); });
      stats.bytes_out += t.n_bytes;
      ++stats.tensors_copied;
      continue;
    }
    if (!dtype_info(t.type).supported) fail("{}: tensor '{}' has type {}, which cannot be converted yet", in_path, t.name, dtype_name(t.type));
    const int64_t cols = int64_t(t.ne[0]), rows = int64_t(t.ne[1]);
    auto out_bytes = row_bytes(type, uint64_t(cols));
    if (!out_bytes) fail("{}: tensor '{}' has rows of {} values, not a multiple of {}'s block of {}", in_path, t.name, cols, dtype_name(type), dtype_info(type).block_elems);
    w.add_tensor(t.name, type, t.ne, [in, &t, type, cols, rows, threads](std::span<uint8_t> dst) {
      std::vector<std::thread> pool;
      for (int i = 0; i < threads; ++i)
        pool.emplace_back(convert_rows, std::cref(t), type, cols, rows * i / threads, rows * (i + 1) / threads, dst);
      for (auto& th : pool) th.join();
    });
    stats.bytes_out += *out_bytes * uint64_t(rows);
    ++stats.tensors_converted;
  }
  w.write(out_path);
  return stats;
}

}  // namespace bwscope
