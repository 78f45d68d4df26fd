// compare --tp/--pp: the split scenarios beside the instances, run as MPI ranks (mpirun started
// by the runner): the report's shape against its schema, each split's tokens equal to the single
// instance's (its digest), rank 0's tokens counted once, a pipeline's stages reading together
// exactly the whole model's weights per step (its micro-batches each once more), and the
// refusals before anything runs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bwscope/model/llama_model.h"
#include "bwscope/parallel/mpi_world.h"
#include "report/json_schema.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope::parallel {
namespace {

using test_support::run_cli;

nlohmann::json compare_json(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"compare", "-p", "8", "-n", "6", "--probe", "none", "--bracket-s", "0", "--no-progress", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_cli(args, 300);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

const nlohmann::json& scenario(const nlohmann::json& report, const std::string& kind) {
  for (const auto& s : report.at("scenarios"))
    if (s.at("kind") == kind) return s;
  throw std::runtime_error("no scenario of kind " + kind);
}

double weights_per_step(const nlohmann::json& instance) { return instance.at("bytes").at("decode_weights_per_step").get<double>(); }

TEST(Split, CompareRunsTheSplitsBesideTheInstances) {
  if (!mpi_built()) GTEST_FAIL() << "this build has no MPI, which scripts/setup.sh installs";
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::F32);
  const nlohmann::json rep = compare_json({"-m", model, "--tp", "2", "--pp", "2"});
  ASSERT_TRUE(rep.contains("scenarios"));
  std::ifstream in(std::string(BWSCOPE_SOURCE_DIR) + "/docs/compare.schema.json");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(test_support::validate(nlohmann::json::parse(ss.str()), rep), std::vector<std::string>{});

  std::vector<std::string> kinds;
  for (const auto& s : rep["scenarios"]) kinds.push_back(s["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"single", "parallel", "wide", "tp", "pp"}));
  const auto& one = scenario(rep, "single")["instances"][0];
  const std::string digest = one["tokens_digest"];
  EXPECT_EQ(scenario(rep, "wide")["instances"][0]["threads"], 2 * one["threads"].get<int>());
  EXPECT_EQ(scenario(rep, "wide")["instances"][0]["tokens_digest"], digest);
  EXPECT_EQ(scenario(rep, "single")["split"], nullptr);

  for (const char* kind : {"tp", "pp"}) {
    SCOPED_TRACE(kind);
    const auto& s = scenario(rep, kind);
    EXPECT_EQ(s["name"], std::string(kind) + " 2");
    EXPECT_TRUE(s["completed"].get<bool>());
    EXPECT_EQ(s["split"]["kind"], kind);
    EXPECT_EQ(s["split"]["ranks"], 2);
    ASSERT_EQ(s["instances"].size(), 2u);
    // One model on two ranks: its request and tokens once, rank 0's.
    EXPECT_EQ(s["n_requests"], 1);
    EXPECT_EQ(s["aggregate"]["tokens_per_s"], s["instances"][0]["tokens_per_s"]);
    EXPECT_EQ(s["aggregate"]["tpot_p50_ms"], s["instances"][0]["tpot_p50_ms"]);
    for (int k = 0; k < 2; ++k) {
      const auto& g = s["instances"][k];
      EXPECT_EQ(g["name"], "rank " + std::to_string(k));
      EXPECT_TRUE(g["completed"].get<bool>()) << g["error"];
      EXPECT_EQ(g["steps_done"], 6);
      EXPECT_EQ(g["memory"]["weights"], "private");
      EXPECT_GT(g["split"]["comm_share"].get<double>(), 0.0);
      EXPECT_GT(g["split"]["compute_share"].get<double>(), 0.0);
      EXPECT_LE(g["split"]["comm_share"].get<double>() + g["split"]["compute_share"].get<double>(), 1.0 + 1e-9);
      EXPECT_GT(g["split"]["comm_bytes_per_step"].get<double>(), 0.0);
      EXPECT_LT(std::abs(g["split"]["clock_offset_us"].get<double>()), 1000.0);  // one machine, one clock
      // Each rank streams only its part of the weights.
      EXPECT_LT(weights_per_step(g), weights_per_step(one));
    }
    // Rank 0 makes the same greedy tokens as the whole model in one process (tiny F32: tp
    // changes the summation order only within float32's rounding).
    EXPECT_EQ(s["instances"][0]["tokens_digest"], digest);
    const double bubble = s["split"]["bubble"];
    EXPECT_GE(bubble, 0.0);
    EXPECT_LE(bubble, 1.0);
  }
  const auto& pp = scenario(rep, "pp");
  EXPECT_EQ(pp["split"]["micro_batches"], 1);
  EXPECT_EQ(pp["instances"][1]["tokens_digest"], digest);  // the last stage samples them
  // The stages together read the whole model once per step; tp replicates the output head.
  EXPECT_DOUBLE_EQ(weights_per_step(pp["instances"][0]) + weights_per_step(pp["instances"][1]), weights_per_step(one));
  const auto& tp = scenario(rep, "tp");
  EXPECT_EQ(tp["instances"][1]["tokens_digest"], digest);
  EXPECT_GT(weights_per_step(tp["instances"][0]) + weights_per_step(tp["instances"][1]), weights_per_step(one));
  const std::string conclusion = rep["conclusion"];
  EXPECT_NE(conclusion.find("ways of using these CPUs"), std::string::npos) << conclusion;
  EXPECT_NE(conclusion.find("pp 2 reads at most"), std::string::npos) << conclusion;
}

TEST(Split, ComparePipelineInMicroBatchesKeepsTheTokens) {
  if (!mpi_built()) GTEST_FAIL() << "this build has no MPI, which scripts/setup.sh installs";
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::F32);
  const nlohmann::json rep = compare_json({"-m", model, "--pp", "2", "-b", "3", "--prompts", "same"});
  ASSERT_TRUE(rep.contains("scenarios"));
  const auto& one = scenario(rep, "single")["instances"][0];
  const auto& pp = scenario(rep, "pp");
  EXPECT_EQ(pp["split"]["micro_batches"], 2);  // min(batch 3, 2 ranks): sequences {0}, {1, 2}
  EXPECT_EQ(pp["n_requests"], 3);
  EXPECT_EQ(pp["instances"][0]["tokens_digest"], one["tokens_digest"]);
  EXPECT_EQ(pp["instances"][1]["tokens_digest"], one["tokens_digest"]);
  // Each micro-batch streams the stage's weights again: twice the whole model per step, but
  // for the embedding, which reads one row per token (3 per step) however they are grouped.
  const double embed = 3.0 * double(load_llama(model).token_embd.row_bytes);
  EXPECT_DOUBLE_EQ(weights_per_step(pp["instances"][0]) + weights_per_step(pp["instances"][1]), 2 * weights_per_step(one) - embed);
}

TEST(Split, CompareRefusesABadSplitBeforeRunning) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::F32);  // 4 heads, 2 KV heads, 2 layers
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"compare", "-m", model, "--tp", "4", "--no-progress"}, "--tp 4"},
           {{"compare", "-m", model, "--pp", "3", "--no-progress"}, "--pp 3"},
           {{"compare", "-m", model, "-m", model, "--tp", "2", "--no-progress"}, "give one --model"}}) {
    const auto r = run_cli(args, 60);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace bwscope::parallel
