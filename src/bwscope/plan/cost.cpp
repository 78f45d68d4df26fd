#include "bwscope/plan/cost.h"

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/format/hf_config.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/weight_plan.h"

namespace bwscope::plan {
namespace {

uint64_t bytes_of(DType type, int64_t rows, int64_t cols) {
  const std::optional<uint64_t> row = row_bytes(type, uint64_t(cols));
  if (!row) fail("a {}-wide row is not a whole number of {} blocks", cols, dtype_name(type));
  return *row * uint64_t(rows);
}

// The matrices of a config, typed by `plan` as synth/quantize would.
ModelShape shape_from_config(const LlamaConfig& c, const std::string& plan_name, DType kv_type) {
  const std::optional<WeightPlan> plan = parse_weight_plan(plan_name);
  if (!plan) fail("--type {}: unknown weight type (f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m)", plan_name);
  ModelShape m;
  m.config = c;
  m.weight_type = plan_name;
  m.kv_type = kv_type;
  const bool has_output = !c.tied_embeddings;
  auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
    const DType t = plan_tensor_type(*plan, name, c.n_layers, has_output, cols);
    m.matrices.push_back({name, rows, cols, t, bytes_of(t, rows, cols)});
  };
  const int64_t d = c.n_embd, kv = c.kv_dim(), ff = c.n_ff;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    add(p + "attn_q.weight", d, d);
    add(p + "attn_k.weight", kv, d);
    add(p + "attn_v.weight", kv, d);
    add(p + "attn_output.weight", d, d);
    add(p + "ffn_gate.weight", ff, d);
    add(p + "ffn_up.weight", ff, d);
    add(p + "ffn_down.weight", d, ff);
  }
  const DType embd_type = plan_tensor_type(*plan, "token_embd.weight", c.n_layers, has_output, d);
  m.embd_bytes = bytes_of(embd_type, c.n_vocab, d);
  m.embd_row_bytes = m.embd_bytes / uint64_t(c.n_vocab);
  if (c.tied_embeddings) m.matrices.push_back({"token_embd.weight", c.n_vocab, d, embd_type, m.embd_bytes});
  else add("output.weight", c.n_vocab, d);
  m.norm_bytes = uint64_t(2 * c.n_layers + 1) * uint64_t(d) * sizeof(float);
  return m;
}

}  // namespace

uint64_t ModelShape::matrix_bytes() const {
  uint64_t b = 0;
  for (const Matrix& x : matrices) b += x.bytes;
  return b;
}

uint64_t ModelShape::resident_bytes() const {
  return matrix_bytes() + norm_bytes + (config.tied_embeddings ? 0 : embd_bytes);
}

uint64_t ModelShape::matmul_params() const {
  uint64_t n = 0;
  for (const Matrix& x : matrices) n += uint64_t(x.rows) * uint64_t(x.cols);
  return n;
}

uint64_t ModelShape::kv_bytes_per_position() const {
  return 2 * uint64_t(config.n_layers) * uint64_t(config.kv_dim()) * dtype_info(kv_type).block_bytes;
}

ModelShape preset_shape(const std::string& preset_name, const std::string& weight_plan, DType kv_type) {
  ModelShape m = shape_from_config(preset(preset_name), weight_plan, kv_type);
  m.name = preset_name + " " + weight_plan;
  return m;
}

ModelShape gguf_shape(const std::string& path, DType kv_type) {
  const gguf::File f = gguf::File::open(path);
  ModelShape m;
  m.config = read_llama_config(f);
  m.kv_type = kv_type;
  m.name = std::filesystem::path(path).filename().string();
  std::map<DType, uint64_t> by_type;
  for (const gguf::Tensor& t : f.tensors()) {
    if (t.ne.size() == 1) {
      m.norm_bytes += t.n_bytes;
      continue;
    }
    if (t.ne.size() != 2) continue;  // rope factors and the like are 1-D
    if (t.name == "token_embd.weight") {
      m.embd_bytes = t.n_bytes;
      m.embd_row_bytes = t.n_bytes / t.ne[1];
      if (!m.config.tied_embeddings) continue;
    }
    m.matrices.push_back({t.name, int64_t(t.ne[1]), int64_t(t.ne[0]), t.type, t.n_bytes});
    by_type[t.type] += t.n_bytes;
  }
  if (m.matrices.empty()) fail("{}: no weight matrices", path);
  // The type most of the bytes are in names the model.
  DType main = by_type.begin()->first;
  for (const auto& [t, b] : by_type)
    if (b > by_type[main]) main = t;
  m.weight_type = std::string(dtype_name(main));
  return m;
}

ModelShape hf_shape(const std::string& dir, const std::string& weight_plan, DType kv_type) {
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  const HfConfig hf = read_hf_config(config_path);
  std::string plan = weight_plan;
  if (plan.empty()) plan = hf.torch_dtype == "float32" ? "f32" : hf.torch_dtype == "float16" ? "f16" : "bf16";
  ModelShape m = shape_from_config(llama_config_from_hf(hf, config_path), plan, kv_type);
  m.name = std::filesystem::path(dir).filename().string() + " " + plan;
  return m;
}

ModelShape model_shape(const std::string& path, const std::string& weight_plan, DType kv_type) {
  if (std::filesystem::is_directory(path)) return hf_shape(path, weight_plan, kv_type);
  if (!std::filesystem::exists(path)) fail("{}: no such file or directory", path);
  if (!weight_plan.empty()) fail("{}: --type applies to a preset or a Hugging Face directory; a GGUF file has its own types", path);
  return gguf_shape(path, kv_type);
}

StepCost decode_step(const ModelShape& m, int64_t batch, double context) {
  const LlamaConfig& c = m.config;
  StepCost s;
  const double b = double(batch);
  s.weight_bytes = double(m.matrix_bytes() + m.norm_bytes) + b * double(m.embd_row_bytes);
  s.kv_write_bytes = b * double(m.kv_bytes_per_position());
  s.kv_read_bytes = b * double(m.kv_bytes_per_position()) * context;
  s.matmul_flops = 2 * b * double(m.matmul_params());
  s.attention_flops = 4 * b * double(c.n_layers) * double(c.n_head) * double(c.head_dim()) * context;
  // Per token: the residual stream and each matmul's input and output in f32, about 8 vectors of
  // n_embd and 3 of n_ff per layer, and the logits.
  s.act_bytes = b * 4 * (double(c.n_layers) * (8 * double(c.n_embd) + 3 * double(c.n_ff)) + double(c.n_vocab));
  return s;
}

StepCost mean_decode_step(const ModelShape& m, int64_t batch, int64_t n_prompt, int64_t n_gen) {
  // Step k (0-based) attends n_prompt + k + 1 positions; the cost is linear in the context, so
  // the mean step is the step at the mean context.
  return decode_step(m, batch, double(n_prompt) + double(n_gen + 1) / 2.0);
}

StepCost prefill(const ModelShape& m, int64_t batch, int64_t n_prompt) {
  const LlamaConfig& c = m.config;
  StepCost s;
  const double b = double(batch), p = double(n_prompt);
  s.weight_bytes = double(m.matrix_bytes() + m.norm_bytes) + b * p * double(m.embd_row_bytes);
  s.kv_write_bytes = b * p * double(m.kv_bytes_per_position());
  s.kv_read_bytes = b * double(m.kv_bytes_per_position()) * p * (p + 1) / 2;  // token i reads positions 0..i
  // Every token through every layer matrix; the output projection for one token per prompt.
  uint64_t output_params = 0;
  for (const ModelShape::Matrix& x : m.matrices)
    if (x.name == "output.weight" || x.name == "token_embd.weight") output_params += uint64_t(x.rows) * uint64_t(x.cols);
  s.matmul_flops = 2 * (b * p * double(m.matmul_params() - output_params) + b * double(output_params));
  s.attention_flops = 4 * b * double(c.n_layers) * double(c.n_head) * double(c.head_dim()) * p * (p + 1) / 2;
  s.act_bytes = b * p * 4 * (double(c.n_layers) * (8 * double(c.n_embd) + 3 * double(c.n_ff)));
  return s;
}

}  // namespace bwscope::plan
