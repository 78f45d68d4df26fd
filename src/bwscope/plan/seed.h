// plan --seed: the original study's setting (Llama 3.2 3B, FP16, batch 1, a 512-token prompt,
// one model vs two) on the Ascend 910 preset, beside each figure the study claimed, with
// whether the claim is consistent with the bytes a token must move and the device's bandwidth.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bwscope/plan/roofline.h"

namespace bwscope::plan {

struct Claim {
  std::string what;                  // "single: average bandwidth"
  double lo = 0, hi = 0;             // the study's range
  std::string unit;                  // "GB/s", "ms"
  double predicted_datasheet = 0;    // the model at the datasheet's bandwidth
  double predicted_assumed = 0;      // the model at the study's assumed 600 GB/s
  bool consistent = true;
  std::string verdict;               // "yes", "NO", "possible, 9-13× the floor"
  std::string why;                   // the arithmetic behind the judgement
};

struct SeedCheck {
  Workload workload;                 // 3B F16, b1, p512, 2 instances
  Device device, assumed;            // the datasheet's Ascend 910, and the same at 600 GB/s
  ScenarioPrediction single_ds, dual_ds, single_as, dual_as;
  double bytes_per_token = 0;        // a decode step's bytes (mean context)
  double efficiency = 1;
  std::vector<Claim> claims;
};

constexpr double kStudyAssumedGbs = 600;

SeedCheck seed_check(double efficiency, int64_t n_gen);
std::string render_seed(const SeedCheck& c);
nlohmann::ordered_json seed_json(const SeedCheck& c);

}  // namespace bwscope::plan
