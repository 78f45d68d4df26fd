// bench's llama-bench printers on rows made here: md's layout, CSV's quoting (read back by a
// CSV reader), JSON/JSONL types, and SQL that sqlite3 loads with awkward values intact.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bwscope/report/bench_table.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace bwscope::report {
namespace {

BenchRow make_row(const std::string& filename, int64_t n_prompt, int64_t n_gen, double avg_ts, const std::string& mbu) {
  BenchRow r;
  auto add = [&](const char* n, FieldType t, std::string v) { r.fields.push_back({n, t, std::move(v)}); };
  add("build_commit", FieldType::String, "abc1234");
  add("model_filename", FieldType::String, filename);
  add("model_type", FieldType::String, "llama 1B Q8_0");
  add("model_size", FieldType::Int, "1324187648");  // 1.23 GiB
  add("model_n_params", FieldType::Int, "1235814400");
  add("backends", FieldType::String, "CPU");
  add("n_threads", FieldType::Int, "2");
  add("n_seq", FieldType::Int, "1");
  add("type_k", FieldType::String, "f16");
  add("n_batch", FieldType::Int, "512");
  add("n_prompt", FieldType::Int, std::to_string(n_prompt));
  add("n_gen", FieldType::Int, std::to_string(n_gen));
  add("cpu_strict", FieldType::Bool, "0");
  add("avg_ts", FieldType::Float, std::to_string(avg_ts));
  add("stddev_ts", FieldType::Float, "0.504000");
  add("avg_gbs", FieldType::Float, "41.250000");
  add("bytes_per_token", FieldType::Float, "1330000000.000000");
  add("mbu", FieldType::Float, mbu);
  add("bound", FieldType::String, mbu.empty() ? "" : "cores");
  r.samples_ns = {1000, 1100};
  r.samples_ts = {avg_ts + 1, avg_ts - 1};
  return r;
}

std::string print(BenchFormat f, const std::vector<BenchRow>& rows, BenchColumns c = {}) {
  std::FILE* mem = std::tmpfile();
  BenchPrinter p(mem, f, c, "abc1234", 42);
  for (const BenchRow& r : rows) p.row(r);
  p.finish();
  std::rewind(mem);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, mem)) > 0;) out.append(buf, n);
  std::fclose(mem);
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  for (size_t e; (e = s.find('\n', b)) != std::string::npos; b = e + 1) out.push_back(s.substr(b, e - b));
  return out;
}

size_t columns_shown(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

// RFC 4180: quoted fields, "" inside quotes, commas and newlines allowed in them.
std::vector<std::vector<std::string>> read_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      rows.back().push_back(field), field.clear();
    } else if (c == '\n') {
      rows.back().push_back(field), field.clear();
      rows.emplace_back();
    } else {
      field += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

const std::string kAwkward = "/tmp/it's a \"model\", v2.gguf";

TEST(BenchTable, MdHasLlamaBenchsColumnsAlignedAndTheBandwidthOnes) {
  const std::string out = print(BenchFormat::Md, {make_row("a.gguf", 512, 0, 123.456, "0.5432"), make_row("a.gguf", 0, 128, 7.5, "")});
  const auto l = lines(out);
  ASSERT_EQ(l.size(), 6u) << out;  // header, rule, 2 rows, empty, build
  EXPECT_EQ(l[0].rfind("| model ", 0), 0u);
  for (const char* h : {"| size |", "| params |", "| backend ", "| threads |", "| test |", "| t/s |", "| GB/s |", "| MB/tok |", "| MBU |", "| bound "}) {
    std::string compact;  // the header with its padding removed
    for (size_t i = 0; i < l[0].size(); ++i)
      if (!(l[0][i] == ' ' && i + 1 < l[0].size() && l[0][i + 1] == ' ')) compact += l[0][i];
    EXPECT_NE(compact.find(h), std::string::npos) << h << " in " << l[0];
  }
  EXPECT_EQ(l[0].find("n_seq"), std::string::npos);  // not varied, at its default
  // Right-aligned numbers end in ':' on the rule, left-aligned text in '-'.
  EXPECT_EQ(l[1].rfind("| ------------------------------ | ---------: |", 0), 0u) << l[1];
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(columns_shown(l[i]), columns_shown(l[0])) << l[i];
  EXPECT_NE(l[2].find("| llama 1B Q8_0                  |   1.23 GiB |     1.24 B | CPU        |"), std::string::npos) << l[2];
  EXPECT_NE(l[2].find("|           pp512 |        123.46 ± 0.50 |    41.25 |  1330.00 |  54.3 % | cores    |"), std::string::npos) << l[2];
  EXPECT_NE(l[3].find("|           tg128 |"), std::string::npos) << l[3];
  EXPECT_NE(l[3].find("|       - |          |"), std::string::npos) << l[3];  // no probe: no MBU, no bound
  EXPECT_EQ(l[5], "build: abc1234 (42)");

  BenchColumns varied;
  varied.n_seq = varied.type_k = true;
  const auto v = lines(print(BenchFormat::Md, {make_row("a.gguf", 512, 0, 1, "")}, varied));
  EXPECT_NE(v[0].find("| n_seq | type_k |"), std::string::npos) << v[0];
}

TEST(BenchTable, CsvQuotesEveryValueAndReadsBack) {
  const auto rows = read_csv(print(BenchFormat::Csv, {make_row(kAwkward, 512, 0, 123.456, "0.5"), make_row("b,c.gguf", 0, 64, 9, "")}));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "build_commit");
  EXPECT_EQ(rows[0].size(), rows[1].size());
  EXPECT_EQ(rows[1][1], kAwkward);
  EXPECT_EQ(rows[2][1], "b,c.gguf");
  EXPECT_EQ(rows[1][13], "123.456000");
  EXPECT_EQ(rows[2][17], "");  // an unknown MBU is empty, not 0
}

TEST(BenchTable, JsonAndJsonlCarryTypesAndSamples) {
  const std::vector<BenchRow> in = {make_row(kAwkward, 512, 0, 123.456, "0.5"), make_row("b.gguf", 0, 64, 9, "")};
  const auto j = nlohmann::json::parse(print(BenchFormat::Json, in));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["model_filename"], kAwkward);
  EXPECT_TRUE(j[0]["model_size"].is_number_integer());
  EXPECT_EQ(j[0]["model_size"], 1324187648);
  EXPECT_TRUE(j[0]["cpu_strict"].is_boolean());
  EXPECT_DOUBLE_EQ(j[0]["avg_ts"].get<double>(), 123.456);
  EXPECT_TRUE(j[1]["mbu"].is_null());
  EXPECT_EQ(j[0]["samples_ns"], nlohmann::json({1000, 1100}));
  EXPECT_EQ(j[1]["samples_ts"].size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(print(BenchFormat::Json, {})), nlohmann::json::array());

  const auto l = lines(print(BenchFormat::Jsonl, in));
  ASSERT_EQ(l.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(nlohmann::json::parse(l[i]), j[i]);
}

TEST(BenchTable, SqlLoadsIntoSqliteWithQuotesIntact) {
  test_support::TempDir dir;
  const std::string sql = dir.file("rows.sql"), db = dir.file("rows.db");
  // Twice: CREATE TABLE IF NOT EXISTS lets runs be appended to one database.
  const std::string text = print(BenchFormat::Sql, {make_row(kAwkward, 512, 0, 123.456, "0.5"), make_row("b.gguf", 0, 64, 9, "")});
  std::ofstream(sql) << text << text;
  const std::string cmd = "sqlite3 -batch '" + db + "' < '" + sql + "' && sqlite3 -batch -separator '|' '" + db +
                          "' \"SELECT count(*), sum(n_prompt), typeof(avg_ts), typeof(model_size) FROM llama_bench;"
                          " SELECT model_filename FROM llama_bench WHERE n_prompt = 512 LIMIT 1;"
                          " SELECT count(*) FROM llama_bench WHERE mbu IS NULL;\" > '" + dir.file("out.txt") + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test_support::read_text(dir.file("out.txt"));
  EXPECT_EQ(test_support::read_text(dir.file("out.txt")), "4|1024|real|integer\n" + kAwkward + "\n2\n");
}

TEST(BenchTable, SizesAndParamsAsLlamaBenchShowsThem) {
  EXPECT_EQ(md_size(127488), "0.12 MiB");
  EXPECT_EQ(md_size(1u << 30), "1.00 GiB");
  EXPECT_EQ(md_params(119104), "0.12 M");
  EXPECT_EQ(md_params(1235814400), "1.24 B");
  EXPECT_EQ(sql_quote("it's"), "'it''s'");
}

}  // namespace
}  // namespace bwscope::report
