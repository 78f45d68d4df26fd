// Inputs the fuzz targets (fuzz/) found, each kept as a regression test: every one once escaped
// a parser as something other than bwscope::Error (a crash at the CLI's boundary).
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "bwscope/base/error.h"
#include "bwscope/format/hf_config.h"
#include "bwscope/format/safetensors.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/meter/probe.h"
#include "bwscope/report/sweep_report.h"
#include "bwscope/runtime/colocate.h"
#include "bwscope/runtime/instance_run.h"
#include "bwscope/study/sweep.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

template <typename Read>
void expect_one_line_error(Read read, const std::string& path, const std::string& must_contain) {
  try {
    read(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(must_contain), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

std::string write(test_support::TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// hf_config_fuzz, probe_cache_fuzz: a number past double's range made nlohmann's parser throw
// out_of_range (406), which the readers did not catch.
TEST(FuzzFindings, NumbersPastDoublesRangeAreOneLineErrors) {
  test_support::TempDir dir;
  expect_one_line_error([](const std::string& p) { read_hf_config(p); },
                        write(dir, "config.json", R"({"hidden_size": 64, "rms_norm_eps": 9.99e606})"),
                        "a number out of range");
  expect_one_line_error([](const std::string& p) { meter::read_probe_cache(p); },
                        write(dir, "probe.json", R"({"schema_version": 1, "buffer_bytes": 10737e41824})"),
                        "a number out of range");
  expect_one_line_error([](const std::string& p) { read_tokenizer_json(p); },
                        write(dir, "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 1e400}}})"),
                        "a number out of range");
  const std::string header = R"({"a": {"dtype": "F32", "shape": [1e999], "data_offsets": [0, 4]}})";
  std::string st(8, '\0');
  for (int i = 0; i < 8; ++i) st[i] = char((header.size() >> (8 * i)) & 0xff);
  expect_one_line_error([](const std::string& p) { safetensors::File::open(p); },
                        write(dir, "model.safetensors", st + header + std::string(4, '\0')), "a number out of range");
  expect_one_line_error([](const std::string& p) { safetensors::Checkpoint::open(p); },
                        write(dir, "model.safetensors.index.json", R"({"metadata": {"total_size": 2e999}, "weight_map": {}})"),
                        "a number out of range");
}

// sweep_results_fuzz: a header whose "bwscope_sweep_results" was an object made json::value()
// throw type_error (302) out of ResultsFile::resume.
TEST(FuzzFindings, AResultsHeaderKeyOfAnotherTypeIsNotAHeader) {
  test_support::TempDir dir;
  for (const std::string key : {R"({"preset": "llama-3.2-1b"})", R"("1")", "[1]", "null", "2"})
    expect_one_line_error([](const std::string& p) { study::ResultsFile::resume(p); },
                          write(dir, "r.jsonl", R"({"bwscope_sweep_results": )" + key + R"(, "grid": {}, "settings": {}})" + "\n"),
                          "not a bwscope sweep results file (line 1 is not its header)");
}

// sweep_results_fuzz: numbers past int64's range in a point were cast from double (UBSan:
// "1.11111e+28 is outside the range of representable values of type 'long'").
TEST(FuzzFindings, APointsCountsPastInt64AreRefusedOrZeroNotCast) {
  nlohmann::json j = {{"point", {{"type", "q8_0"}, {"batch", 1}, {"instances", 1}, {"threads", 0}, {"schedule", "parallel"}, {"n_prompt", 64}}},
                      {"ok", true}, {"error", nullptr}, {"n_gen", 1.11111e28}, {"weight_bytes", -5.0}};
  const report::PointResult r = report::point_from_json(j);
  EXPECT_EQ(r.n_gen, 0);
  EXPECT_EQ(r.weight_bytes, 0u);
  j["point"]["batch"] = 1e28;
  EXPECT_THROW(report::point_from_json(j), Error);
}

// result_wire_fuzz: a message with no ledger records made decode_result memcpy from a null
// pointer (UBSan). An empty ledger is a valid message.
TEST(FuzzFindings, AResultWithNoRecordsRoundTrips) {
  InstanceResult r;
  r.name = "a";
  r.token_ns = {1, 2};
  InstanceResult back;
  ASSERT_TRUE(colo::decode_result(colo::encode_result(r), back));
  EXPECT_TRUE(back.records.empty());
  EXPECT_EQ(back.token_ns, r.token_ns);
}

}  // namespace
}  // namespace bwscope
