// `bwscope compare` as a user meets it, on the tiny preset: the JSON report (validated against
// docs/compare.schema.json), the files it writes, the refusal when the instances do not fit,
// Ctrl-C (what was measured is written, marked incomplete), and a child that is killed.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bwscope/format/gguf.h"
#include "report/json_schema.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

using test_support::run_cli;

using test_support::children_of;
using test_support::sleep_ms;
const auto slurp = test_support::read_text;

class CompareCli : public ::testing::Test {
 protected:
  void SetUp() override { model_ = test_support::write_tiny_model(dir_, DType::Q8_0); }
  // A short run with no probe (the probe takes seconds and is tested elsewhere).
  std::vector<std::string> args(std::vector<std::string> extra) const {
    std::vector<std::string> a{"compare", "-m", model_, "-p", "16", "-n", "24", "--probe", "none", "--no-progress"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  pid_t spawn(const std::vector<std::string>& a) { return test_support::spawn_cli(a, dir_.file("out"), dir_.file("err")); }

  test_support::TempDir dir_;
  std::string model_;
};

TEST_F(CompareCli, JsonReportConformsToTheSchemaAndAddsUp) {
  auto r = run_cli(args({"--json", "--fused"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  const auto schema = nlohmann::json::parse(slurp(std::string(BWSCOPE_SOURCE_DIR) + "/docs/compare.schema.json"));
  const auto problems = test_support::validate(schema, doc);
  EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems[0]);
  ASSERT_EQ(doc["scenarios"].size(), 3u);  // single, 2 × parallel, 2 × fused
  EXPECT_EQ(doc["scenarios"][0]["kind"], "single");
  EXPECT_EQ(doc["scenarios"][2]["kind"], "fused");
  const auto& pair = doc["scenarios"][1];
  double tps = 0;
  for (const auto& i : pair["instances"]) tps += i["tokens_per_s"].get<double>();
  EXPECT_NEAR(pair["aggregate"]["tokens_per_s"].get<double>(), tps, 1e-9 * tps);
  // A fraction of the run (these runs last milliseconds, so a loaded machine may not overlap
  // them at all; ColocateModes tests the overlap itself on runs long enough to show it).
  EXPECT_GE(pair["overlap"]["fraction"].get<double>(), 0.0);
  EXPECT_LE(pair["overlap"]["fraction"].get<double>(), 1.0);
  EXPECT_NE(pair["instances"][0]["pid"], pair["instances"][1]["pid"]);  // two child processes
  EXPECT_EQ(doc["ratios"].size(), 2u);
  EXPECT_FALSE(doc["incomplete"].get<bool>());
  EXPECT_TRUE(doc["probe"]["attainable_read_gbs"].is_null());
}

// --type takes every type the engine runs, llama.cpp's K-quant mixes included: the synthetic
// model is made once in the cache under the mix's name, with the mix's general.file_type.
TEST(CompareCliType, EveryEngineTypeAndTheKQuantMixesMakeTheirSyntheticModel) {
  test_support::TempDir cache;
  // The cache for this test and its children only; put back after it (one process may run many tests).
  struct RestoreEnv {
    std::optional<std::string> old;
    ~RestoreEnv() { old ? setenv("XDG_CACHE_HOME", old->c_str(), 1) : unsetenv("XDG_CACHE_HOME"); }
  } restore{std::getenv("XDG_CACHE_HOME") ? std::optional<std::string>(std::getenv("XDG_CACHE_HOME")) : std::nullopt};
  ASSERT_EQ(setenv("XDG_CACHE_HOME", cache.path().c_str(), 1), 0);
  const auto r = run_cli({"compare", "--preset", "tiny", "--type", "q4_k_m", "-p", "8", "-n", "8", "--probe", "none",
                          "--no-progress", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  const std::string model = doc["scenarios"][0]["instances"][0]["model"];
  EXPECT_EQ(model, (cache.path() / "bwscope/models/tiny-q4_k_m-bytetok.gguf").string());
  EXPECT_EQ(*gguf::File::open(model).find("general.file_type")->as_uint(), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M

  const auto bad = run_cli({"compare", "--preset", "tiny", "--type", "q3_x", "--probe", "none", "--no-progress"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(test_support::count_lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find("--type q3_x: unknown weight type (f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m)"),
            std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(cache.path() / "bwscope/models/tiny-q3_x-bytetok.gguf"));
}

TEST_F(CompareCli, WritesHtmlSvgAndJsonFiles) {
  const std::string html = dir_.file("r.html"), svg = dir_.file("r.svg"), json = dir_.file("r.json");
  auto r = run_cli(args({"--isolation", "thread", "--cores", "share", "--weights", "private", "--html", html, "--svg", svg, "--json-out", json}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 × parallel vs 1 instance"), std::string::npos) << r.out;
  EXPECT_NE(slurp(html).find("<svg"), std::string::npos);
  EXPECT_EQ(slurp(svg).rfind("<?xml", 0), 0u);
  const auto doc = nlohmann::json::parse(slurp(json));
  EXPECT_EQ(doc["config"]["weights"], "private");
  EXPECT_EQ(doc["scenarios"][1]["instances"][0]["memory"]["weights"], "private");
}

TEST_F(CompareCli, EverySchedulePrintsWhichIsBest) {
  auto r = run_cli(args({"--schedule", "all", "--md"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 × time-sliced"), std::string::npos);
  EXPECT_NE(r.out.find("2 × staggered"), std::string::npos);
  EXPECT_NE(r.out.find("gives the best aggregate throughput"), std::string::npos) << r.out;
}

TEST_F(CompareCli, RefusesWhatDoesNotFitWithNumbersAndWritesNothing) {
  const std::string html = dir_.file("r.html");
  auto r = run_cli(args({"--assume-mem-gb", "0.0001", "--html", html}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("does not fit in memory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GiB available"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_FALSE(std::filesystem::exists(html));
}

TEST_F(CompareCli, CtrlCStopsEverythingAndWritesWhatWasMeasured) {
  const std::string json = dir_.file("r.json");
  // Long enough (seconds) to be interrupted in the middle.
  const pid_t pid = spawn({"compare", "-m", model_, "-p", "16", "-n", "1900", "-b", "16", "--probe", "none", "--json-out", json});
  // Wait until the child runs (the parent forks it once the single run starts) and has loaded
  // its model (it maps the shared weights then), then a little: it is decoding. A fixed wait
  // from the fork alone was too short under ThreadSanitizer in 2 of 3 runs.
  for (int i = 0; i < 500 && children_of(pid).empty(); ++i) sleep_ms(10);
  const std::vector<pid_t> kids = children_of(pid);
  for (int i = 0; i < 1000 && !kids.empty() && slurp(fmt::format("/proc/{}/maps", kids[0])).find("bwscope-weights") == std::string::npos; ++i)
    sleep_ms(10);
  sleep_ms(300);
  kill(-pid, SIGINT);  // the whole process group, as Ctrl-C on a terminal does
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(dir_.file("err"));
  const auto doc = nlohmann::json::parse(slurp(json));
  EXPECT_TRUE(doc["incomplete"].get<bool>());
  ASSERT_GE(doc["scenarios"].size(), 1u);
  const auto& first = doc["scenarios"][0];
  EXPECT_FALSE(first["completed"].get<bool>());
  EXPECT_GT(first["instances"][0]["steps_done"].get<int>(), 0);
  EXPECT_EQ(first["instances"][0]["error"], "interrupted");
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path()))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << "left behind: " << entry.path();
}

TEST_F(CompareCli, AKilledInstanceIsNamedTheOthersAreKeptAndTheExitFails) {
  const std::string json = dir_.file("r.json");
  const pid_t pid = spawn({"compare", "-m", model_, "-p", "16", "-n", "1900", "-b", "16", "--probe", "none", "--json-out", json,
                           "--schedule", "parallel"});
  // The single run has one child; the pair has two: kill the second child of the pair.
  std::vector<pid_t> kids;
  for (int i = 0; i < 24000; ++i) {  // up to 2 minutes: the single run is slow under the sanitizers
    kids = children_of(pid);
    if (kids.size() == 2) break;
    sleep_ms(5);
  }
  ASSERT_EQ(kids.size(), 2u) << "the pair never ran";
  sleep_ms(200);
  kill(kids[1], SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = slurp(dir_.file("err"));
  EXPECT_NE(err.find(": killed by signal 9"), std::string::npos) << err;
  const auto doc = nlohmann::json::parse(slurp(json));
  EXPECT_TRUE(doc["incomplete"].get<bool>());
  const auto& pair = doc["scenarios"][1];
  int completed = 0;
  for (const auto& i : pair["instances"]) {
    if (i["completed"].get<bool>()) {
      ++completed;
      EXPECT_EQ(i["steps_done"], 1900);
    } else {
      EXPECT_NE(i["error"].get<std::string>().find("killed by signal 9"), std::string::npos);
    }
  }
  EXPECT_EQ(completed, 1);
}

}  // namespace
}  // namespace bwscope
