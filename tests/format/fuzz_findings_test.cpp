// Inputs the fuzz targets (fuzz/) found, each kept as a regression test: every one once escaped
// a parser as something other than bwscope::Error (a crash at the CLI's boundary).
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

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

// result_wire_fuzz, its second 10-minute run: "weight_bytes":1048E56 in a result message's
// header went through json's get<uint64_t>(), a float-to-integer cast past the type's range
// (UBSan). Every count and time in the header must be an integer in its field's range.
TEST(FuzzFindings, AResultHeaderWithFloatsOrOutOfRangeCountsIsRefused) {
  InstanceResult r;
  r.name = "a";
  r.threads = 2;
  r.cpus = {0, 1};
  r.token_ns = {1, 2};
  r.weight_bytes = 1000;
  const std::string good = colo::encode_result(r);
  uint64_t header_size = 0;
  std::memcpy(&header_size, good.data() + 8, 8);
  const std::string header = good.substr(16, size_t(header_size));
  const std::string tail = good.substr(16 + size_t(header_size));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string h = header;
    const size_t at = h.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    h.replace(at, from.size(), to);
    std::string m = good.substr(0, 8);
    const uint64_t n = h.size();
    m.append(reinterpret_cast<const char*>(&n), 8);
    return m + h + tail;
  };
  InstanceResult back;
  ASSERT_TRUE(colo::decode_result(with("\"weight_bytes\":1000", "\"weight_bytes\":1000"), back));
  EXPECT_EQ(back.weight_bytes, 1000u);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"weight_bytes\":1000", "\"weight_bytes\":1048E56"},
           {"\"weight_bytes\":1000", "\"weight_bytes\":-1"},
           {"\"weight_bytes\":1000", "\"weight_bytes\":1000.5"},
           {"\"threads\":2", "\"threads\":3000000000"},
           {"\"threads\":2", "\"threads\":2.0"},
           {"\"token_ns\":[1,2]", "\"token_ns\":[1,1e30]"},
           {"\"cpus\":[0,1]", "\"cpus\":[0,1e10]"},
           {"\"cpus\":[0,1]", "\"cpus\":1"},
       })
    EXPECT_FALSE(colo::decode_result(with(from, to), back)) << to;
}

// The same cast waited in `sweep --resume`: the header's grid and settings were read with
// get<int64_t>(), so "batch":[1e30] was undefined behaviour before it was a message.
TEST(FuzzFindings, AResultsGridWithFloatCountsIsMalformedNotCast) {
  nlohmann::json grid = study::grid_json(study::SweepGrid{{"q8_0"}, {1, 4}, {1, 2}, {1}, {"parallel"}, {8}});
  EXPECT_EQ(study::grid_from_json(grid).batches, (std::vector<int64_t>{1, 4}));
  for (const char* axis : {"batch", "instances", "threads", "n_prompt"}) {
    nlohmann::json bad = grid;
    bad[axis] = nlohmann::json::parse("[1, 1e30]");
    EXPECT_THROW(study::grid_from_json(bad), std::invalid_argument) << axis;
    bad[axis] = nlohmann::json::parse("[1.5]");
    EXPECT_THROW(study::grid_from_json(bad), std::invalid_argument) << axis;
  }
}

}  // namespace
}  // namespace bwscope
