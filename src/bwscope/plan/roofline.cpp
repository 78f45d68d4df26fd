#include "bwscope/plan/roofline.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"

namespace bwscope::plan {
namespace {

std::string calibration_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path base = xdg && *xdg ? std::filesystem::path(xdg) : std::filesystem::path(home ? home : ".") / ".cache";
  return (base / "bwscope" / "plan-calibration.json").string();
}

// Time of a phase in which each of `instances` instances must move `bytes` and compute `flops`
// with `compute` GFLOP/s.
double phase_seconds(double bytes, double flops, double compute, const Roofs& r, int instances, double efficiency, std::string* bound) {
  const double t_mem = r.cores_gbs > 0 ? bytes / (r.cores_gbs * 1e9 * efficiency) : 0;
  const double t_cmp = compute > 0 ? flops / (compute * 1e9 * efficiency) : 0;
  const double t_one = std::max(t_mem, t_cmp) + kSerialFraction * std::min(t_mem, t_cmp);
  const double t_dev = r.device_gbs > 0 ? double(instances) * bytes / (r.device_gbs * 1e9 * efficiency) : 0;
  if (bound) *bound = t_dev >= t_one ? "bandwidth (device)" : t_mem >= t_cmp ? "bandwidth (cores)" : "compute";
  return std::max(t_one, t_dev);
}

}  // namespace

Roofs instance_roofs(const Device& d, const std::string& weight_type, int64_t batch, int instances, int threads) {
  Roofs r;
  const int n = std::max(1, instances);
  r.device_gbs = d.bandwidth_gbs;
  if (d.cpus > 0) {  // a measured CPU: its cores' figures, capped by the device's share
    const int t = threads > 0 ? threads : std::max(1, d.cpus / n);
    r.cores_gbs = std::min(d.read_for(t), d.bandwidth_gbs);
    r.compute_gflops = d.compute_gflops(weight_type) * double(std::min(t, d.cpus)) / double(d.cpus);
    r.decode_compute_gflops = d.decode_gflops(weight_type, batch) * double(std::min(t, d.cpus));
  } else {  // a datasheet device: an equal share of everything
    r.cores_gbs = d.bandwidth_gbs;
    r.compute_gflops = d.compute_gflops(weight_type) / n;
  }
  return r;
}

ScenarioPrediction predict(const Device& device, const Workload& w, double efficiency) {
  if (efficiency <= 0) fail("--efficiency {}: must be above 0", efficiency);
  ScenarioPrediction s;
  s.instances = std::max(1, w.instances);
  InstancePrediction& e = s.each;
  e.roofs = instance_roofs(device, w.model.weight_type, w.batch, s.instances, w.threads);

  e.decode = mean_decode_step(w.model, w.batch, w.n_prompt, w.n_gen);
  e.prefill = prefill(w.model, w.batch, w.n_prompt);
  const double decode_compute = e.roofs.decode_compute_gflops > 0 ? e.roofs.decode_compute_gflops : e.roofs.compute_gflops;
  e.step_s = phase_seconds(e.decode.bytes(), e.decode.flops(), decode_compute, e.roofs, s.instances, efficiency, &e.decode_bound);
  e.prefill_s = phase_seconds(e.prefill.bytes(), e.prefill.flops(), e.roofs.compute_gflops, e.roofs, s.instances, efficiency, &e.prefill_bound);
  e.ttft_ms = 1e3 * e.prefill_s;
  e.tpot_ms = 1e3 * e.step_s;
  e.tokens_per_s = double(w.batch) / e.step_s;
  e.decode_gbs = e.decode.bytes() / e.step_s / 1e9;
  e.prefill_gbs = e.prefill.bytes() / e.prefill_s / 1e9;
  e.decode_gflops = e.decode.flops() / e.step_s / 1e9;
  e.prefill_gflops = e.prefill.flops() / e.prefill_s / 1e9;
  e.seconds = e.prefill_s + double(w.n_gen) * e.step_s;
  e.avg_gbs = (e.prefill.bytes() + double(w.n_gen) * e.decode.bytes()) / e.seconds / 1e9;
  const double n = s.instances;
  s.tokens_per_s = n * e.tokens_per_s;
  s.decode_gbs = n * e.decode_gbs;
  s.prefill_gbs = n * e.prefill_gbs;
  s.avg_gbs = n * e.avg_gbs;
  s.peak_gbs = n * std::max(e.decode_gbs, e.prefill_gbs);
  const uint64_t weights = w.model.resident_bytes() * uint64_t(w.shared_weights ? 1 : s.instances);
  const uint64_t kv = w.model.kv_bytes_per_position() * uint64_t(w.batch) * uint64_t(w.n_prompt + w.n_gen) * uint64_t(s.instances);
  const uint64_t act = uint64_t(e.prefill.act_bytes / std::max<int64_t>(1, w.model.config.n_layers)) * uint64_t(s.instances);
  s.memory_bytes = weights + kv + act;
  s.fits = device.memory_gb <= 0 || double(s.memory_bytes) <= device.memory_gb * 1e9;
  return s;
}

double calibrated_efficiency(std::string* source) {
  const std::string path = calibration_path();
  std::ifstream in(path);
  if (in) {
    try {
      const nlohmann::json j = nlohmann::json::parse(in);
      const double e = j.at("efficiency").get<double>();
      if (e > 0.05 && e < 1.5) {
        if (source) *source = fmt::format("calibrated from {} measured points ({}, {})", j.value("points", 0), j.value("from", "a sweep"), path);
        return e;
      }
    } catch (const nlohmann::json::exception&) {
    }
  }
  if (source) *source = "the default measured on bwscope's reference machine (docs/plan.md); run `bwscope sweep --calibrate` to fit this one";
  return kDefaultEfficiency;
}

void store_calibration(double efficiency, int points, const std::string& from) {
  const std::string path = calibration_path();
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const nlohmann::ordered_json j = {{"efficiency", efficiency}, {"points", points}, {"from", from},
                                    {"serial_fraction", kSerialFraction}, {"stored_unix_s", int64_t(std::time(nullptr))}};
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace bwscope::plan
