// The compare report from a real (tiny) co-located run: JSON that conforms to
// docs/compare.schema.json, ratios and conclusion that follow from the figures, and the text,
// CSV, Markdown, HTML and SVG forms.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "bwscope/report/compare_report.h"
#include "bwscope/runtime/colocate.h"
#include "report/json_schema.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

nlohmann::json load_schema() {
  std::ifstream in(std::string(BWSCOPE_SOURCE_DIR) + "/docs/compare.schema.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

class CompareReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test_support::TempDir dir;
    const std::string model = test_support::write_tiny_model(dir, DType::Q8_0);
    ColocateOptions o;
    o.isolation = Isolation::Thread;
    o.cores = CoreMode::Share;
    std::vector<InstanceSpec> specs(2);
    for (int i = 0; i < 2; ++i) {
      specs[size_t(i)].name = i ? "B" : "A";
      specs[size_t(i)].model_path = model;
      specs[size_t(i)].n_prompt = 16;
      specs[size_t(i)].n_gen = 40;
      specs[size_t(i)].threads = 1;
    }
    rep_ = new report::CompareReport();
    rep_->config = {{"models", {model}}, {"instances", 2}, {"isolation", "thread"}, {"cores", "share"}, {"weights", "shared"},
                    {"schedule", "parallel"}, {"fused", false}, {"slice_steps", 4}, {"prompts", "different"}, {"batch", 1},
                    {"n_prompt", 16}, {"n_gen", 40}, {"threads_per_instance", 1}, {"kv_type", "f16"}, {"isa", "best"},
                    {"window_ms", 1.0}, {"threshold", 0.8}, {"probe", "none"}, {"bracket_s", 0.0}, {"seed_scenario", false}};
    rep_->cpu_model = "test CPU";
    rep_->cpus = 2;
    rep_->window_ms = 1;
    rep_->probe.source = "test";
    rep_->probe.cpus = 2;
    rep_->probe.attainable_read_gbs = 50;
    rep_->probe.read_by_threads = {30, 50};
    rep_->probe.instance_threads = 1;
    rep_->probe.compute_roof_gflops = 200;
    rep_->probe.before_gbs = 50;
    rep_->probe.after_gbs = 45;
    rep_->weights.mode = "shared";
    rep_->weights.isa = "test";
    rep_->weights.files.push_back({model, 1 << 20, 1 << 19, 0.25});
    rep_->scenarios.push_back(report::scenario_figures(run_colocated({specs[0]}, o), "1 instance", "single", 1'000'000));
    rep_->scenarios.push_back(report::scenario_figures(run_colocated(specs, o), "2 × parallel", "parallel", 1'000'000));
    report::finish_report(*rep_);
  }
  static void TearDownTestSuite() { delete rep_; }
  static inline report::CompareReport* rep_ = nullptr;
};

TEST_F(CompareReport, JsonConformsToTheSchema) {
  const nlohmann::json schema = load_schema();
  const nlohmann::json doc = nlohmann::json::parse(report::render_json(*rep_).dump());
  const auto problems = test_support::validate(schema, doc);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems, first: " << (problems.empty() ? "" : problems[0]);
  EXPECT_EQ(doc["schema_version"], report::kCompareSchemaVersion);
  EXPECT_EQ(doc["scenarios"].size(), 2u);
  EXPECT_EQ(doc["scenarios"][1]["instances"].size(), 2u);
  EXPECT_NEAR(doc["probe"]["drift_pct"].get<double>(), -10.0, 1e-9);
}

TEST_F(CompareReport, TheValidatorCatchesABrokenDocument) {
  const nlohmann::json schema = load_schema();
  nlohmann::json doc = nlohmann::json::parse(report::render_json(*rep_).dump());
  doc["scenarios"][0]["aggregate"].erase("peak_gbs");
  doc["scenarios"][1]["kind"] = "sideways";
  doc["scenarios"][1]["instances"][0]["tokens_per_s"] = "fast";
  EXPECT_EQ(test_support::validate(schema, doc).size(), 3u);
}

TEST_F(CompareReport, RatiosFollowFromTheScenarios) {
  ASSERT_EQ(rep_->ratios.size(), 1u);
  const auto& one = rep_->scenarios[0];
  const auto& two = rep_->scenarios[1];
  const auto& q = rep_->ratios[0];
  EXPECT_NEAR(q.decode_gbs_pct, 100 * (two.decode_gbs / one.decode_gbs - 1), 1e-9);
  EXPECT_NEAR(q.throughput_x, two.tokens_per_s / one.tokens_per_s, 1e-12);
  EXPECT_NEAR(q.per_request_throughput_x, two.tokens_per_s / 2 / one.tokens_per_s, 1e-12);
  EXPECT_FALSE(rep_->incomplete);
  // The conclusion quotes the measured decode bandwidths.
  EXPECT_NE(rep_->conclusion.find(fmt::format("{:.1f} GB/s in decode", two.decode_gbs)), std::string::npos) << rep_->conclusion;
}

TEST_F(CompareReport, EachInstanceIsJudgedAgainstItsCoresAndTheScenarioAgainstTheDevice) {
  for (const auto& s : rep_->scenarios) {
    ASSERT_TRUE(s.decode_verdict.has_value()) << s.name;
    // The scenario's figures: the mean instance against one core's 30 GB/s, all of them
    // together against the device's 50.
    double mean = 0;
    for (const auto& g : s.instances) {
      ASSERT_TRUE(g.decode_verdict.has_value());
      EXPECT_NEAR(g.decode_verdict->mbu_cores, g.decode_gbs / 30, 1e-9);
      EXPECT_NEAR(g.decode_verdict->mbu_device, s.decode_gbs / 50, 1e-9);
      EXPECT_NEAR(g.decode_verdict->mfu, g.decode_gflops / 100, 1e-9);  // one of two CPUs' 200 GFLOP/s
      mean += g.decode_gbs / double(s.instances.size());
    }
    EXPECT_NEAR(s.decode_verdict->mbu_cores, mean / 30, 1e-9);
    EXPECT_NEAR(s.decode_verdict->mbu_device, s.decode_gbs / 50, 1e-9);
  }
  const nlohmann::json doc = nlohmann::json::parse(report::render_json(*rep_).dump());
  EXPECT_EQ(doc["probe"]["instance_read_gbs"], 30.0);
  EXPECT_EQ(doc["probe"]["instance_compute_gflops"], 100.0);
  EXPECT_EQ(doc["weights"]["mode"], "shared");
  EXPECT_TRUE(doc["scenarios"][1]["instances"][1]["decode_verdict"].is_object());
}

TEST_F(CompareReport, TextFormsCarryEveryScenario) {
  const std::string table = report::render_table(*rep_);
  EXPECT_NE(table.find("peak GB/s (1 ms)"), std::string::npos);
  EXPECT_NE(table.find("2 × parallel vs 1 instance"), std::string::npos);
  const std::string md = report::render_markdown(*rep_);
  EXPECT_EQ(md.rfind("| scenario |", 0), 0u);
  const std::string csv = report::render_csv(*rep_);
  // Header, then per scenario one "all" row and one row per instance: 1 + (1 + 1) + (1 + 2).
  int lines = 0;
  for (char c : csv) lines += c == '\n';
  EXPECT_EQ(lines, 6);
}

TEST_F(CompareReport, HtmlIsSelfContainedWithCharts) {
  const std::string html = report::render_html(*rep_);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_NE(html.find("device 50.0 GB/s"), std::string::npos);      // the device's roof
  EXPECT_NE(html.find("80 %: 40.0 GB/s"), std::string::npos);       // the bandwidth-bound line
  EXPECT_NE(html.find("1 core: 30.0 GB/s"), std::string::npos);     // one instance's cores' roof
  const std::string svg = report::render_svg(*rep_);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  // One stacked area per instance per scenario: 1 + 2.
  size_t paths = 0;
  for (size_t at = svg.find("<path"); at != std::string::npos; at = svg.find("<path", at + 1)) ++paths;
  EXPECT_EQ(paths, 3u);
}

}  // namespace
}  // namespace bwscope
