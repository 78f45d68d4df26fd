// Tensor and pipeline parallel over MPI (mpirun -np 2, oversubscribed): the logits of a split
// generate equal the single process's within float32's change of summation order and every
// greedy token agrees, on Open MPI's default transport and forced onto TCP; the split's pieces
// (layer ranges, slices) on their own; bad configurations refused in one line before mpirun.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/parallel/mpi_world.h"
#include "bwscope/parallel/split.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope::parallel {
namespace {

using test_support::run_cli;

std::vector<float> read_floats(const std::string& path) {
  const std::string bytes = test_support::read_text(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

TEST(Split, PipelineLayersAreContiguousAndCoverEveryLayer) {
  for (int64_t layers : {2, 16, 28, 5})
    for (int ranks = 2; ranks <= layers && ranks <= 6; ++ranks) {
      int64_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const LayerRange lr = pipeline_layers(layers, r, ranks);
        EXPECT_EQ(lr.first, next);
        EXPECT_GE(lr.last - lr.first, layers / ranks);
        EXPECT_LE(lr.last - lr.first, layers / ranks + 1);
        next = lr.last;
      }
      EXPECT_EQ(next, layers);
    }
}

TEST(Split, TensorPartsHoldTheirHeadsAndColumns) {
  test_support::TempDir dir;
  const LlamaModel full = load_llama(test_support::write_tiny_model(dir, DType::F32));
  const LlamaConfig& c = full.config;
  for (int rank = 0; rank < 2; ++rank) {
    std::shared_ptr<std::vector<uint8_t>> staging;
    const LlamaModel p = tensor_part(full, rank, 2, staging);
    EXPECT_EQ(p.config.n_head, c.n_head / 2);
    EXPECT_EQ(p.config.n_kv_head, c.n_kv_head / 2);
    EXPECT_EQ(p.config.head_dim(), c.head_dim());
    const int64_t hd = c.head_dim(), q = c.n_head / 2 * hd, ff = c.n_ff / 2;
    const auto& F = full.layers[1];
    const auto& L = p.layers[1];
    // Q rows of its heads: the same bytes as the file's rows.
    EXPECT_EQ(L.attn_q.data, F.attn_q.data + size_t(rank * q) * F.attn_q.row_bytes);
    EXPECT_EQ(L.ffn_up.rows, ff);
    // attn_output and down: its columns of every row.
    const float* full_o = reinterpret_cast<const float*>(F.attn_output.data);
    const float* part_o = reinterpret_cast<const float*>(L.attn_output.data);
    for (int64_t r = 0; r < F.attn_output.rows; r += 7)
      for (int64_t col = 0; col < q; col += 5) EXPECT_EQ(part_o[r * q + col], full_o[r * F.attn_output.cols + rank * q + col]);
    const float* full_d = reinterpret_cast<const float*>(F.ffn_down.data);
    const float* part_d = reinterpret_cast<const float*>(L.ffn_down.data);
    for (int64_t r = 0; r < F.ffn_down.rows; r += 11) EXPECT_EQ(part_d[r * ff + ff - 1], full_d[r * F.ffn_down.cols + rank * ff + ff - 1]);
    // The head: whole, or with --tp-head vocab its half of the vocabulary's rows; the embedding whole.
    EXPECT_EQ(p.output.rows, full.output.rows);
    std::shared_ptr<std::vector<uint8_t>> staging2;
    const LlamaModel v = tensor_part(full, rank, 2, staging2, HeadSplit::Vocab);
    EXPECT_EQ(v.output.rows, full.output.rows / 2);
    EXPECT_EQ(v.output.data, full.output.data + size_t(rank * full.output.rows / 2) * full.output.row_bytes);
    EXPECT_EQ(v.token_embd.rows, full.token_embd.rows);
  }
}

TEST(Split, BadConfigurationsAreOneLineBeforeMpirunStarts) {
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::Q8_0);  // 4 heads, 2 KV heads, 2 layers
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"generate", model, "--tokens", "1,2", "--tp", "4"}, "--tp 4: " + model + ": the model's 2 KV heads do not divide among 4 ranks"},
      {{"generate", model, "--tokens", "1,2", "--tp", "3"}, "the model's 2 KV heads do not divide among 3 ranks"},
      {{"generate", model, "--tokens", "1,2", "--pp", "3"}, "--pp 3: " + model + ": more ranks than the model's 2 layers"},
      {{"generate", model, "--tokens", "1,2", "--pp", "2", "--tp", "2"}, "give --tp or --pp, not both"},
      {{"generate", model, "--tokens", "1,2", "--tp", "2"}, "--tp 2: ffn_down is q8_0, whose 32-value blocks a rank's 80 columns would cut"},
      {{"generate", model, "--tokens", "1,2", "--pp", "2", "--tp-head", "vocab"}, "--tp-head vocab: splits a tensor-parallel head; give --tp"},
      {{"generate", model, "--tokens", "1,2", "--tp-head", "vocab"}, "--tp-head vocab: splits a tensor-parallel head; give --tp"},
  };
  for (const auto& [args, want] : cases) {
    auto r = run_cli(args, 20);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(test_support::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  }
}

// Greedy ids and dumped prompt logits of one generate run.
struct GenRun {
  std::vector<int> ids;
  std::vector<float> logits;
};
GenRun generate(const std::string& model, const std::string& dump, std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate", model, "--tokens", "3,141,59,26,53,58,97,93,23,84", "-n", "32", "--json",
                                   "-t", "1", "--dump-logits", dump};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_cli(args, 240);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  GenRun out;
  if (r.exit_code != 0) return out;
  const auto j = nlohmann::json::parse(r.out);
  out.ids = j["ids"].get<std::vector<int>>();
  out.logits = read_floats(dump);
  return out;
}

TEST(Split, TensorAndPipelineLogitsEqualOneProcessOnBothTransports) {
  if (!mpi_built()) GTEST_FAIL() << "this build has no MPI, which scripts/setup.sh installs";
  test_support::TempDir dir;
  // Q8_0 runs pipeline parallel only: the tiny model's 80 FFN columns per rank would cut its
  // 32-value blocks (refused; BadConfigurations...).
  for (DType type : {DType::F32, DType::F16, DType::Q8_0}) {
    const std::string model = test_support::write_tiny_model(dir, type);
    const GenRun one = generate(model, dir.file("one.bin"), {});
    ASSERT_EQ(one.ids.size(), 32u);
    double scale = 0;
    for (float v : one.logits) scale = std::max(scale, double(std::fabs(v)));
    // --tp's default head (vocab): each rank holds half the output head's rows and the logits
    // are gathered; replicate: the whole head on each rank.
    const std::vector<std::vector<std::string>> ways = {{"--tp", "2"}, {"--tp", "2", "--tp-head", "replicate"}, {"--pp", "2"}};
    for (const std::vector<std::string>& how : ways)
      for (const char* btl : {"", "tcp,self"}) {
        const bool pp = how[0] == "--pp";
        if (type == DType::Q8_0 && !pp) continue;
        SCOPED_TRACE(std::string(dtype_name(type)) + " " + how[0] + " 2" + (how.size() > 2 ? " --tp-head " + how[3] : "") + ", btl " +
                     (*btl ? btl : "default"));
        if (*btl) ::setenv("OMPI_MCA_btl", btl, 1);  // Open MPI reads its settings from the environment too
        const GenRun split = generate(model, dir.file("split.bin"), how);
        ::unsetenv("OMPI_MCA_btl");
        EXPECT_EQ(split.ids, one.ids);  // every greedy step agrees
        ASSERT_EQ(split.logits.size(), one.logits.size());
        double worst = 0;
        for (size_t i = 0; i < one.logits.size(); ++i) worst = std::max(worst, double(std::fabs(split.logits[i] - one.logits[i])));
        // Pipeline: the same sums in the same order, so equal; tensor: each rank sums its half
        // first, then the all-reduce adds the halves.
        if (pp) EXPECT_EQ(worst, 0.0);
        else EXPECT_LE(worst, 1e-5 * scale);
      }
  }
}

TEST(Split, BenchRowsOfASplitRunCarryTheSplitAndEachRankStreamsLess) {
  if (!mpi_built()) GTEST_FAIL() << "this build has no MPI, which scripts/setup.sh installs";
  test_support::TempDir dir;
  const std::string model = test_support::write_tiny_model(dir, DType::F32);
  auto rows_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"bench", model, "-p", "16", "-n", "8", "-t", "1", "-r", "2", "--probe", "none", "-o", "jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_cli(args, 240);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> rows;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
    return rows;
  };
  const auto one = rows_of({});
  ASSERT_EQ(one.size(), 2u);
  EXPECT_FALSE(one[0].contains("split"));
  for (const char* how : {"--tp", "--pp"}) {
    SCOPED_TRACE(how);
    const auto rows = rows_of({how, "2"});
    ASSERT_EQ(rows.size(), 2u);  // printed once, by rank 0
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(rows[i]["split"], std::string(how).substr(2));
      EXPECT_EQ(rows[i]["ranks"], 2);
      EXPECT_EQ(rows[i]["model_type"], one[i]["model_type"]);  // the whole model's (tiny: both "?B"; a 1B pp rank alone would be "?B" too)
      EXPECT_GE(rows[i]["ranks_gbs"].get<double>(), rows[i]["avg_gbs"].get<double>());
      EXPECT_GT(rows[i]["mpi_share"].get<double>(), 0.0);
      EXPECT_LE(rows[i]["mpi_share"].get<double>(), 1.0);
      // Rank 0 streams only its part: less model traffic per token than the whole model.
      EXPECT_LT(rows[i]["bytes_per_token"].get<double>(), one[i]["bytes_per_token"].get<double>());
    }
  }
}

}  // namespace
}  // namespace bwscope::parallel
