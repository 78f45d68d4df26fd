// `bwscope sweep` and `bwscope plan` as a user meets them: a sweep stopped by Ctrl-C in the
// middle of a point resumes to a complete results file and its reports; bad grids and bad
// devices are refused with one line; plan prints compare's shape marked predicted, and --seed
// judges the study's claims.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "report/json_schema.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using test_support::read_text;
using test_support::run_cli;

std::vector<nlohmann::json> lines_of(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

void expect_one_line_refusal(const test_support::CliResult& r, const std::string& words) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
}

class SweepCli : public ::testing::Test {
 protected:
  void SetUp() override { model_ = test_support::write_tiny_model(dir_, DType::Q8_0); }
  test_support::TempDir dir_;
  std::string model_;
};

TEST_F(SweepCli, CtrlCMidPointThenResumeCompletesTheSameResultsFile) {
  const std::string results = dir_.file("r.jsonl");
  // Each point decodes for about a second, so Ctrl-C lands inside one.
  const int pid = test_support::spawn_cli({"sweep", "-m", model_, "-b", "16,32", "-N", "1,2", "-p", "16", "-n", "1500", "--probe", "none",
                                           "--results", results, "--no-progress"},
                                          dir_.file("out"), dir_.file("err"));
  for (int i = 0; i < 3000 && lines_of(results).size() < 2; ++i) test_support::sleep_ms(10);  // the first point is in
  test_support::sleep_ms(300);
  kill(-pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_text(dir_.file("err"));
  EXPECT_NE(read_text(dir_.file("err")).find("bwscope sweep --resume " + results), std::string::npos) << read_text(dir_.file("err"));
  const size_t kept = lines_of(results).size() - 1;
  EXPECT_GE(kept, 1u);
  EXPECT_LT(kept, 4u);

  const std::string json = dir_.file("r.json"), html = dir_.file("r.html"), csv = dir_.file("r.csv");
  const auto r = run_cli({"sweep", "--resume", results, "--no-progress", "--json-out", json, "--html", html, "--csv-out", csv}, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(results);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["bwscope_sweep_results"], 1);
  const std::vector<std::string> order = {"16,1", "16,2", "32,1", "32,2"};
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto& p = lines[i]["point"];
    EXPECT_EQ(std::to_string(p["batch"].get<int>()) + "," + std::to_string(p["instances"].get<int>()), order[i - 1]);
    EXPECT_TRUE(lines[i]["ok"].get<bool>()) << lines[i].dump();
    EXPECT_GT(lines[i]["tokens_per_s"].get<double>(), 0);
  }
  const auto doc = nlohmann::json::parse(read_text(json));
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_FALSE(doc["incomplete"].get<bool>());
  EXPECT_EQ(doc["points"].size(), 4u);
  EXPECT_TRUE(doc["not_run"].empty());
  EXPECT_NE(read_text(html).find("<svg"), std::string::npos);
  EXPECT_EQ(test_support::count_lines(read_text(csv)), 5);
  // The complete file resumes to its report alone: nothing runs again.
  const auto again = run_cli({"sweep", "--resume", results, "--no-progress", "--csv"}, 60);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(lines_of(results).size(), 5u);
}

TEST_F(SweepCli, BadGridsAreRefusedWithOneLineAndNoFile) {
  const std::string results = dir_.file("bad.jsonl");
  auto sweep = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"sweep", "--probe", "none", "--no-progress", "--results", results};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_cli(a, 60);
  };
  expect_one_line_refusal(sweep({"--types", "f16,,q4_0"}), "empty item");
  expect_one_line_refusal(sweep({"--types", "f17"}), "unknown weight type 'f17'");
  expect_one_line_refusal(sweep({"-N", "0,1"}), "0 is out of range");
  expect_one_line_refusal(sweep({"-b", "1,1"}), "given twice");
  expect_one_line_refusal(sweep({"-m", model_, "--types", "f16"}), "has its own weight type");
  EXPECT_FALSE(std::filesystem::exists(results));
  std::ofstream(results) << "{}\n";
  expect_one_line_refusal(sweep({"-m", model_}), "the results file exists");
  expect_one_line_refusal(run_cli({"sweep", "--resume", results, "-b", "4"}), "drop --batch");
  expect_one_line_refusal(run_cli({"sweep", "--resume", results}), "not a bwscope sweep results file");
}

nlohmann::json scenario_schema() {
  std::ifstream in(std::string(BWSCOPE_SOURCE_DIR) + "/docs/compare.schema.json");
  const nlohmann::json compare = nlohmann::json::parse(in);
  return {{"$defs", compare["$defs"]}, {"type", "array"}, {"items", {{"$ref", "#/$defs/scenario"}}}};
}

TEST(PlanCli, PredictsInCompareShapeMarkedPredicted) {
  const auto r = run_cli({"plan", "--device", "h100-sxm", "--preset", "llama-3.2-3b", "--type", "f16", "-N", "2", "-p", "512", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["tool"], "bwscope plan");
  EXPECT_TRUE(doc["predicted"].get<bool>());
  EXPECT_TRUE(test_support::validate(scenario_schema(), doc["scenarios"]).empty()) << doc["scenarios"].dump();
  ASSERT_EQ(doc["scenarios"].size(), 2u);
  const auto& one = doc["scenarios"][0]["aggregate"];
  const auto& two = doc["scenarios"][1]["aggregate"];
  // Bandwidth-bound on a device two instances share: together they move the device's
  // bandwidth × efficiency (one alone a little less: its arithmetic does not fully overlap its
  // loads), and each token takes about twice as long.
  EXPECT_EQ(doc["plan"]["decode_step"]["bound"], "bandwidth (cores)");
  const double efficiency = doc["plan"]["efficiency"].get<double>();
  EXPECT_NEAR(two["decode_gbs"].get<double>(), 3350 * efficiency, 1e-6 * 3350);
  EXPECT_LT(one["decode_gbs"].get<double>(), two["decode_gbs"].get<double>());
  EXPECT_GT(one["decode_gbs"].get<double>(), 0.9 * two["decode_gbs"].get<double>());
  EXPECT_GT(two["tpot_p50_ms"].get<double>(), 1.8 * one["tpot_p50_ms"].get<double>());
  EXPECT_EQ(doc["plan"]["device"]["datasheet_gbs"], 3350);
  const auto table = run_cli({"plan", "--device", "h100-sxm", "--preset", "llama-3.2-3b", "--type", "f16"});
  EXPECT_EQ(table.out.rfind("PREDICTED", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("Predicted: 2 × parallel"), std::string::npos);
}

TEST(PlanCli, ReadsAUserDeviceAndAModelFileAndRefusesBadOnes) {
  test_support::TempDir dir;
  const std::string dev = dir.file("npu.json");
  std::ofstream(dev) << R"({"name": "my NPU", "bandwidth_gbs": 800, "memory_gb": 32, "fp16_tflops": 100})";
  const std::string model = test_support::write_tiny_model(dir, DType::Q4_0);
  const auto r = run_cli({"plan", "--device", dev, "-m", model, "-N", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["plan"]["device"]["name"], "my NPU");
  EXPECT_EQ(doc["plan"]["model"]["weight_type"], "q4_0");
  EXPECT_EQ(doc["scenarios"][1]["instances"].size(), 3u);

  const std::string broken = dir.file("broken.json");
  std::ofstream(broken) << R"({"name": "x", "bandwidth_gbs": -1, "memory_gb": 32, "fp16_tflops": 100})";
  expect_one_line_refusal(run_cli({"plan", "--device", broken}), broken + ": \"bandwidth_gbs\" must be a positive number");
  expect_one_line_refusal(run_cli({"plan", "--device", "tpu-v9"}), "unknown device");
  expect_one_line_refusal(run_cli({"plan", "-m", model, "--type", "f16"}), "a GGUF file has its own types");
  expect_one_line_refusal(run_cli({"plan", "--preset", "llama-3.2-1b", "--type", "q3_x"}), "unknown weight type");
}

TEST(PlanCli, SeedJudgesEachClaimOfTheStudy) {
  const auto r = run_cli({"plan", "--seed", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["claims"].size(), 6u);
  EXPECT_EQ(doc["device"]["datasheet_gbs"], 1200);
  EXPECT_EQ(doc["device"]["study_assumed_gbs"], 600);
  std::map<std::string, bool> consistent;
  for (const auto& c : doc["claims"]) consistent[c["what"]] = c["consistent"];
  // 3B FP16 moves ~6.5 GB a token: at 50-70 ms that is 93-130 GB/s (the claimed 120-150 overlaps);
  // two models at 90-120 ms move 108-144 GB/s together, not the claimed 220-280.
  EXPECT_TRUE(consistent.at("single: average bandwidth"));
  EXPECT_FALSE(consistent.at("dual: average bandwidth"));
  const auto text = run_cli({"plan", "--seed"});
  EXPECT_NE(text.out.find("study"), std::string::npos);
  EXPECT_NE(text.out.find("120-150 GB/s"), std::string::npos);
}

}  // namespace
}  // namespace bwscope
