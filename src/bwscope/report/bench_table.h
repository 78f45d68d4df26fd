// llama-bench's printers for bench's rows: md (the table people paste), csv, json, jsonl and
// sql, with llama-bench's field names where the meaning is the same, and bwscope's own after
// them (bandwidth, bytes per token, MBU, verdict). docs/bench-columns.md maps every column.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bwscope::report {

enum class FieldType { String, Int, Bool, Float };

struct BenchField {
  std::string name;
  FieldType type = FieldType::String;
  std::string value;  // integers in decimal, bools "0"/"1", floats as "%f"
};

// One test's record: the fields in order (every row has the same names), and the samples.
struct BenchRow {
  std::vector<BenchField> fields;
  std::vector<int64_t> samples_ns;  // one wall time per repetition
  std::vector<double> samples_ts;   // tokens/s of each repetition
  const std::string& get(const std::string& name) const;  // throws Error for an unknown field
};

// The md table's optional columns: shown when the run varies them or leaves their default.
struct BenchColumns {
  bool n_seq = false, type_k = false, n_batch = false;
  bool split = false;  // a split run (--tp/--pp): "split" ("tp 2") and "MPI %" columns
};

enum class BenchFormat { Md, Csv, Json, Jsonl, Sql };
// "md", "csv", "json", "jsonl", "sql"; false otherwise.
bool parse_bench_format(const std::string& name, BenchFormat* out);

// Writes a header, each row as soon as it is given (flushed, as llama-bench does), and a footer.
class BenchPrinter {
 public:
  BenchPrinter(std::FILE* out, BenchFormat format, BenchColumns columns, std::string build_commit, int64_t build_number);
  void row(const BenchRow& r);
  void finish();

 private:
  void header(const BenchRow& first);
  std::FILE* out_;
  BenchFormat format_;
  BenchColumns columns_;
  std::string build_commit_;
  int64_t build_number_;
  size_t rows_ = 0;
};

// The pieces, for tests (csv_quote is text_table.h's).
std::string sql_quote(const std::string& value);  // '…' with ' doubled
std::string md_size(uint64_t bytes);              // "1.23 GiB" / "456.78 MiB"
std::string md_params(uint64_t n);                // "1.24 B" / "12.34 M"

}  // namespace bwscope::report
