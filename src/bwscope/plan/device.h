// The devices plan predicts for: this machine (its cached probe), public datasheet presets,
// or a user's JSON file. Every figure of a preset names its source (docs/plan.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bwscope/meter/probe.h"

namespace bwscope::plan {

struct Device {
  std::string id;                    // "this", "ascend-910", "h100-sxm", a file's path
  std::string name;                  // "Huawei Ascend 910 (2019)"
  std::string kind = "accelerator";  // "cpu" or "accelerator"
  double bandwidth_gbs = 0;          // the roof: measured attainable read (this) or the datasheet's
  double datasheet_gbs = 0;          // the datasheet's figure (0: unknown; this machine has none)
  double memory_gb = 0;              // memory instances can use (this: MemTotal)
  double fp16_tflops = 0;            // dense, without sparsity
  double int8_tops = 0;              // dense, without sparsity
  std::string source;                // where the figures come from
  std::string note;                  // what is uncertain about them
  // A CPU measured by the probe: what t pinned threads read ([t - 1]) and compute (all CPUs,
  // per weight type); empty for a preset.
  int cpus = 0;
  std::vector<double> read_by_threads;
  std::map<std::string, double> compute_gflops_by_type;
  // One thread's decode matmul on a batch, in cache (meter::decode_compute_gflops), by
  // "type b<batch>": the decode kernels' own ceiling; empty for a preset.
  std::map<std::string, double> decode_gflops_per_thread;

  // What `threads` of this device read (a preset: the whole device's figure).
  double read_for(int threads) const;
  // GFLOP/s the whole device computes for matrices of `weight_type` (quantized types: INT8
  // dot products; float types: FP16 tensor/matrix units; this: the probe's kernel).
  double compute_gflops(const std::string& weight_type) const;
  // One thread's decode compute for the type at `batch` sequences; 0 when not measured.
  double decode_gflops(const std::string& weight_type, int64_t batch) const;
};

std::vector<std::string> device_preset_ids();
// Throws Error listing the presets for an unknown id.
Device device_preset(const std::string& id);
// {"name", "bandwidth_gbs", "memory_gb", "fp16_tflops", "int8_tops"[, "source", "kind"]};
// throws Error naming the file and the problem.
Device device_from_json(const std::string& path);
Device this_device(const meter::ProbeResult& probe);
// Measures this CPU's decode kernel for the type at `batch` into decode_gflops_per_thread
// (a fraction of a second; a type the kernels cannot make is left out).
void measure_decode_compute(Device& device, const std::string& weight_type, int64_t batch);
// "this" (the cached probe, made once when absent), a preset id, or a JSON file.
Device resolve_device(const std::string& spec);

}  // namespace bwscope::plan
