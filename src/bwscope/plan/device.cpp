#include "bwscope/plan/device.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"

namespace bwscope::plan {
namespace {

// Datasheet figures, dense (no sparsity). Sources in docs/plan.md; gathered 2026-12-05.
std::vector<Device> presets() {
  std::vector<Device> d;
  auto add = [&](const char* id, const char* name, double gbs, double mem, double fp16, double int8, const char* source, const char* note) {
    Device x;
    x.id = id;
    x.name = name;
    x.bandwidth_gbs = x.datasheet_gbs = gbs;
    x.memory_gb = mem;
    x.fp16_tflops = fp16;
    x.int8_tops = int8;
    x.source = source;
    x.note = note;
    d.push_back(x);
  };
  add("ascend-910", "Huawei Ascend 910 (2019)", 1200, 32, 256, 512,
      "Huawei launch figures (256 TFLOPS FP16, 512 TOPS INT8) as reported by PureAI, 2019-09-03; 32 GB in 4 HBM2 stacks: Linley "
      "Group, 2019-10-08",
      "1.2 TB/s is the commonly quoted bandwidth; no vendor document for it was found (4 HBM2 stacks at 2.4 Gb/s per pin give "
      "1228.8 GB/s)");
  add("ascend-910b", "Huawei Ascend 910B (910B2)", 1600, 64, 353.9, 707.8,
      "Huawei CANN cross-platform migration guide, table of generations (Atlas A2: 24 AI cores, 1.8 GHz, 353/376 TFLOPS BF16/FP16, "
      "64 GB, 1.6 TB/s); the 353.9 matrix-unit figure: CANN ops-nn issue 6033",
      "SKU 910B2; INT8 is 2× the FP16 matrix rate (the INT8 cube tile is twice as large), not a published Huawei figure; 910B3/B4 "
      "have 20 cores (and the B4 32 GB)");
  add("a100-80gb", "NVIDIA A100 80GB SXM", 2039, 80, 312, 624, "NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)",
      "");
  add("h100-sxm", "NVIDIA H100 SXM", 3350, 80, 989.4, 1979, "NVIDIA H100 Tensor Core GPU datasheet (sparse figures halved)", "");
  add("h200", "NVIDIA H200 SXM", 4800, 141, 989.4, 1979, "NVIDIA H200 product page and datasheet (sparse figures halved)", "");
  add("mi300x", "AMD Instinct MI300X", 5300, 192, 1307.4, 2614.9,
      "AMD ROCm documentation, 'AMD Instinct MI300 series microarchitecture', peak-performance table", "");
  add("ddr5-server", "1-socket DDR5 server (AMD EPYC 9654, 12 × DDR5-4800)", 460.8, 768, 7.37, 29.5,
      "AMD EPYC 9654: 96 cores, 2.4 GHz base, 12 channels DDR5-4800 (HPC Tech's EPYC 9004 table); 12 × 38.4 GB/s",
      "compute is arithmetic, not a datasheet: FP16 = FP32 FMA rate (Zen 4 has no FP16 arithmetic), 96 × 32 FLOP × 2.4 GHz; INT8 "
      "assumes one 512-bit VNNI op per cycle per core; memory assumes 12 × 64 GB");
  for (Device& x : d)
    if (x.id == std::string("ddr5-server")) x.kind = "cpu";
  return d;
}

bool is_quantized(const std::string& type) { return type.rfind("q", 0) == 0; }

}  // namespace

double Device::read_for(int threads) const {
  if (threads >= 1 && size_t(threads) <= read_by_threads.size()) return read_by_threads[size_t(threads) - 1];
  return bandwidth_gbs;
}

double Device::compute_gflops(const std::string& weight_type) const {
  if (!compute_gflops_by_type.empty()) {
    auto it = compute_gflops_by_type.find(weight_type);
    if (it != compute_gflops_by_type.end()) return it->second;
    double best = 0;
    for (const auto& [t, g] : compute_gflops_by_type) best = std::max(best, g);
    return best;
  }
  if (is_quantized(weight_type) && int8_tops > 0) return int8_tops * 1000;
  if (weight_type == "f32") return fp16_tflops * 500;  // FP32 at half the FP16 matrix rate
  return fp16_tflops * 1000;
}

double Device::decode_gflops(const std::string& weight_type, int64_t batch) const {
  auto it = decode_gflops_per_thread.find(fmt::format("{} b{}", weight_type, batch));
  return it == decode_gflops_per_thread.end() ? 0 : it->second;
}

void measure_decode_compute(Device& d, const std::string& weight_type, int64_t batch) {
  const std::optional<DType> t = parse_dtype(weight_type);
  if (!t || batch < 1 || batch > 64) return;
  try {
    d.decode_gflops_per_thread[fmt::format("{} b{}", weight_type, batch)] = meter::decode_compute_gflops(*t, batch);
  } catch (const Error&) {
  }
}

std::vector<std::string> device_preset_ids() {
  std::vector<std::string> ids = {"this"};
  for (const Device& d : presets()) ids.push_back(d.id);
  return ids;
}

Device device_preset(const std::string& id) {
  for (const Device& d : presets())
    if (d.id == id) return d;
  fail("--device {}: unknown device (this, a JSON file, or one of: {})", id, fmt::join(device_preset_ids(), " "));
}

Device device_from_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot read the device file", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    fail("{}: not valid JSON", path);
  }
  if (!j.is_object()) fail("{}: a device file is a JSON object", path);
  Device d;
  d.id = path;
  auto number = [&](const char* key, bool required) {
    if (!j.contains(key)) {
      if (required) fail("{}: \"{}\" is missing", path, key);
      return 0.0;
    }
    if (!j[key].is_number() || j[key].get<double>() <= 0) fail("{}: \"{}\" must be a positive number", path, key);
    return j[key].get<double>();
  };
  d.name = j.value("name", std::filesystem::path(path).stem().string());
  d.bandwidth_gbs = number("bandwidth_gbs", true);
  d.datasheet_gbs = d.bandwidth_gbs;
  d.memory_gb = number("memory_gb", true);
  d.fp16_tflops = number("fp16_tflops", true);
  d.int8_tops = number("int8_tops", false);
  d.source = j.value("source", "user file " + path);
  d.kind = j.value("kind", "accelerator");
  if (d.kind != "cpu" && d.kind != "accelerator") fail("{}: \"kind\" must be \"cpu\" or \"accelerator\"", path);
  return d;
}

Device this_device(const meter::ProbeResult& p) {
  Device d;
  d.id = "this";
  const meter::DeviceInfo info = meter::device_info();
  d.name = fmt::format("this machine: {} ({} CPUs)", info.cpu_model, info.cpus);
  d.kind = "cpu";
  d.cpus = info.cpus;
  d.bandwidth_gbs = p.attainable_read_gbs();
  d.memory_gb = double(info.memory_bytes) / 1e9;
  for (const meter::ThreadFigures& f : p.per_threads)
    if (f.threads == int(d.read_by_threads.size()) + 1) d.read_by_threads.push_back(f.read.best_gbs);
  for (const meter::ComputeFigure& c : p.compute) {
    // "avx512/q8_0 ..." names the kernel table and the weight type.
    const size_t slash = c.kernel.find('/'), space = c.kernel.find(' ', slash);
    if (slash != std::string::npos) d.compute_gflops_by_type[c.kernel.substr(slash + 1, space - slash - 1)] = c.best_gflops;
  }
  d.source = "bwscope probe (cache " + meter::probe_cache_path("") + ")";
  return d;
}

Device resolve_device(const std::string& spec) {
  if (spec == "this") return this_device(meter::cached_probe(meter::ProbeOptions{}, false));
  if (spec.find('/') != std::string::npos || spec.find(".json") != std::string::npos || std::filesystem::exists(spec))
    return device_from_json(spec);
  return device_preset(spec);
}

}  // namespace bwscope::plan
