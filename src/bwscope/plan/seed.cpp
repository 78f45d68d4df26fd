#include "bwscope/plan/seed.h"

#include <algorithm>

#include <fmt/format.h>

#include "bwscope/report/text_table.h"

namespace bwscope::plan {
namespace {

bool overlaps(double a_lo, double a_hi, double b_lo, double b_hi) { return a_lo <= b_hi && b_lo <= a_hi; }

Claim claim(const std::string& what, double lo, double hi, const std::string& unit, double datasheet, double assumed) {
  Claim k;
  k.what = what;
  k.lo = lo;
  k.hi = hi;
  k.unit = unit;
  k.predicted_datasheet = datasheet;
  k.predicted_assumed = assumed;
  return k;
}

}  // namespace

SeedCheck seed_check(double efficiency, int64_t n_gen) {
  SeedCheck c;
  c.efficiency = efficiency;
  c.workload.model = preset_shape("llama-3.2-3b", "f16");
  c.workload.batch = 1;
  c.workload.n_prompt = 512;
  c.workload.n_gen = n_gen;
  c.workload.instances = 2;
  c.device = device_preset("ascend-910");
  c.assumed = c.device;
  c.assumed.name += " at the study's assumed 600 GB/s";
  c.assumed.bandwidth_gbs = kStudyAssumedGbs;
  Workload one = c.workload;
  one.instances = 1;
  c.single_ds = predict(c.device, one, efficiency);
  c.dual_ds = predict(c.device, c.workload, efficiency);
  c.single_as = predict(c.assumed, one, efficiency);
  c.dual_as = predict(c.assumed, c.workload, efficiency);
  const double B = c.single_ds.each.decode.bytes();  // bytes per decoded token (batch 1)
  c.bytes_per_token = B;
  const double ds = c.device.bandwidth_gbs;

  // Single model.
  {
    Claim k = claim("single: average bandwidth", 120, 150, "GB/s", c.single_ds.avg_gbs, c.single_as.avg_gbs);
    // At the claimed 50-70 ms per token, a token's bytes move at B / latency.
    const double lo = B / 0.070 / 1e9, hi = B / 0.050 / 1e9;
    k.consistent = overlaps(k.lo, k.hi, lo, hi);
    k.why = fmt::format("a token moves {:.2f} GB; at the claimed 50-70 ms that is {:.0f}-{:.0f} GB/s, {} the claimed range; it is {:.0f}-{:.0f} % "
                        "of the datasheet's {:.0f} GB/s",
                        B / 1e9, lo, hi, k.consistent ? "overlapping" : "outside", 100 * k.lo / ds, 100 * k.hi / ds, ds);
    c.claims.push_back(k);
  }
  {
    Claim k = claim("single: peak bandwidth", 200, 250, "GB/s", c.single_ds.peak_gbs, c.single_as.peak_gbs);
    k.consistent = k.hi <= ds;
    k.why = fmt::format("below the device's {:.0f} GB/s, so possible; a bandwidth-bound decode would hold {:.0f} GB/s, and the claimed peak "
                        "is {:.1f}-{:.1f}× the claimed average",
                        ds, c.single_ds.decode_gbs, k.lo / 150, k.hi / 120);
    c.claims.push_back(k);
  }
  {
    Claim k = claim("single: latency per token", 50, 70, "ms", c.single_ds.each.tpot_ms, c.single_as.each.tpot_ms);
    const double floor_ms = B / (ds * 1e9) * 1e3, floor_as = B / (kStudyAssumedGbs * 1e9) * 1e3;
    k.consistent = k.lo >= floor_ms;
    k.verdict = k.consistent ? fmt::format("possible, {:.0f}-{:.0f}× the floor", k.lo / floor_ms, k.hi / floor_ms) : "NO";
    k.why = fmt::format("the bytes of a token need at least {:.1f} ms at {:.0f} GB/s ({:.1f} ms at 600): the claim is {:.0f}-{:.0f}× that "
                        "floor, so the study's decode was not bandwidth-bound",
                        floor_ms, ds, floor_as, k.lo / floor_ms, k.hi / floor_ms);
    c.claims.push_back(k);
  }
  // Two models.
  {
    Claim k = claim("dual: average bandwidth", 220, 280, "GB/s", c.dual_ds.avg_gbs, c.dual_as.avg_gbs);
    // Two models, each a token per 90-120 ms: 2B / latency.
    const double lo = 2 * B / 0.120 / 1e9, hi = 2 * B / 0.090 / 1e9;
    k.consistent = overlaps(k.lo, k.hi, lo, hi);
    k.why = fmt::format("two models each moving {:.2f} GB per token at the claimed 90-120 ms move {:.0f}-{:.0f} GB/s together, {} the "
                        "claimed range{}",
                        B / 1e9, lo, hi, k.consistent ? "overlapping" : "outside",
                        k.consistent ? "" : fmt::format(" (the claim needs {:.1f}-{:.1f}× the bytes a token moves)", k.lo / hi, k.hi / lo));
    c.claims.push_back(k);
  }
  {
    Claim k = claim("dual: peak bandwidth", 350, 400, "GB/s", c.dual_ds.peak_gbs, c.dual_as.peak_gbs);
    k.consistent = k.hi <= ds;
    k.why = fmt::format("below the device's {:.0f} GB/s (and the study's 600), so possible", ds);
    c.claims.push_back(k);
  }
  {
    Claim k = claim("dual: latency per token", 90, 120, "ms", c.dual_ds.each.tpot_ms, c.dual_as.each.tpot_ms);
    const double slow_lo = 90.0 / 70, slow_hi = 120.0 / 50;
    // Sharing bandwidth slows a model only when the two together need more than the device gives.
    const double need = 2 * B / 0.050 / 1e9;
    k.consistent = need > ds * 0.8;
    k.why = fmt::format("{:.1f}-{:.1f}× the single latency; two models at the single's claimed pace would need {:.0f} GB/s at most, {:.0f} % of "
                        "the device's {:.0f}, so shared bandwidth does not explain the slow-down (shared compute or scheduling could)",
                        slow_lo, slow_hi, need, 100 * need / ds, ds);
    c.claims.push_back(k);
  }
  return c;
}

std::string render_seed(const SeedCheck& c) {
  std::string out = fmt::format(
      "bwscope plan --seed: the original study's setting on the {} preset\n"
      "Llama 3.2 3B FP16, batch 1, a {}-token prompt, {} generated tokens; a decode step moves {:.3f} GB ({:.3f} GB of weights, KV "
      "{:.4f} GB) and computes {:.2f} GFLOP; efficiency {:.2f}\n\n",
      c.device.name, c.workload.n_prompt, c.workload.n_gen, c.bytes_per_token / 1e9, c.single_ds.each.decode.weight_bytes / 1e9,
      (c.single_ds.each.decode.kv_read_bytes + c.single_ds.each.decode.kv_write_bytes) / 1e9, c.single_ds.each.decode.flops() / 1e9,
      c.efficiency);
  std::vector<std::vector<std::string>> rows = {{"claim", "study", fmt::format("plan at {:.0f} GB/s", c.device.bandwidth_gbs),
                                                 "plan at 600 GB/s", "consistent?"}};
  for (const Claim& k : c.claims)
    rows.push_back({k.what, fmt::format("{:g}-{:g} {}", k.lo, k.hi, k.unit), fmt::format("{:.1f} {}", k.predicted_datasheet, k.unit),
                    fmt::format("{:.1f} {}", k.predicted_assumed, k.unit), k.verdict.empty() ? (k.consistent ? "yes" : "NO") : k.verdict});
  out += report::text_table(rows) + "\n";
  for (const Claim& k : c.claims) out += fmt::format("{}: {}.\n", k.what, k.why);
  out += fmt::format(
      "\nDevice: {} — {:.0f} GB/s (datasheet; the study assumed 600), {:.0f} TFLOPS FP16, {:.0f} GB. Source: {}. {}\n", c.device.name,
      c.device.bandwidth_gbs, c.device.fp16_tflops, c.device.memory_gb, c.device.source, c.device.note);
  return out;
}

nlohmann::ordered_json seed_json(const SeedCheck& c) {
  nlohmann::ordered_json j;
  j["tool"] = "bwscope plan --seed";
  j["predicted"] = true;
  j["device"] = {{"id", c.device.id}, {"name", c.device.name}, {"datasheet_gbs", c.device.bandwidth_gbs}, {"study_assumed_gbs", kStudyAssumedGbs},
                 {"fp16_tflops", c.device.fp16_tflops}, {"memory_gb", c.device.memory_gb}, {"source", c.device.source}, {"note", c.device.note}};
  j["workload"] = {{"model", c.workload.model.name}, {"batch", c.workload.batch}, {"n_prompt", c.workload.n_prompt}, {"n_gen", c.workload.n_gen}};
  j["bytes_per_token"] = c.bytes_per_token;
  j["efficiency"] = c.efficiency;
  j["claims"] = nlohmann::ordered_json::array();
  for (const Claim& k : c.claims)
    j["claims"].push_back({{"what", k.what}, {"lo", k.lo}, {"hi", k.hi}, {"unit", k.unit}, {"predicted_datasheet", k.predicted_datasheet},
                           {"predicted_study_bandwidth", k.predicted_assumed}, {"consistent", k.consistent}, {"verdict", k.verdict.empty() ? (k.consistent ? "yes" : "no") : k.verdict}, {"why", k.why}});
  return j;
}

}  // namespace bwscope::plan
