#include "bwscope/report/bench_table.h"

#include <cstdlib>

#include <fmt/core.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/report/text_table.h"

namespace bwscope::report {
namespace {

using ojson = nlohmann::ordered_json;

// One md column: its header, width (negative: left-aligned, as llama-bench's) and cell.
struct MdColumn {
  std::string header;
  int width;
  std::string (*cell)(const BenchRow&);
};

double as_double(const BenchRow& r, const char* name) { return std::strtod(r.get(name).c_str(), nullptr); }
int64_t as_int(const BenchRow& r, const char* name) { return std::strtoll(r.get(name).c_str(), nullptr, 10); }

std::vector<MdColumn> md_columns(const BenchColumns& c) {
  std::vector<MdColumn> cols = {
      {"model", -30, [](const BenchRow& r) { return r.get("model_type"); }},
      {"size", 10, [](const BenchRow& r) { return md_size(uint64_t(as_int(r, "model_size"))); }},
      {"params", 10, [](const BenchRow& r) { return md_params(uint64_t(as_int(r, "model_n_params"))); }},
      {"backend", -10, [](const BenchRow& r) { return r.get("backends"); }},
      {"threads", 7, [](const BenchRow& r) { return r.get("n_threads"); }},
  };
  if (c.n_batch) cols.push_back({"n_batch", 7, [](const BenchRow& r) { return r.get("n_batch"); }});
  if (c.n_seq) cols.push_back({"n_seq", 5, [](const BenchRow& r) { return r.get("n_seq"); }});
  if (c.type_k) cols.push_back({"type_k", 6, [](const BenchRow& r) { return r.get("type_k"); }});
  if (c.split) {
    cols.push_back({"split", 6, [](const BenchRow& r) { return fmt::format("{} {}", r.get("split"), r.get("ranks")); }});
    cols.push_back({"MPI %", 6, [](const BenchRow& r) { return fmt::format("{:.0f}", 100 * as_double(r, "mpi_share")); }});
  }
  cols.push_back({"test", 15, [](const BenchRow& r) {
                    const int64_t p = as_int(r, "n_prompt"), n = as_int(r, "n_gen");
                    if (n == 0) return fmt::format("pp{}", p);
                    if (p == 0) return fmt::format("tg{}", n);
                    return fmt::format("pp{}+tg{}", p, n);
                  }});
  cols.push_back({"t/s", 20, [](const BenchRow& r) {
                    return fmt::format("{:.2f} ± {:.2f}", as_double(r, "avg_ts"), as_double(r, "stddev_ts"));
                  }});
  cols.push_back({"GB/s", 8, [](const BenchRow& r) { return fmt::format("{:.2f}", as_double(r, "avg_gbs")); }});
  cols.push_back({"MB/tok", 8, [](const BenchRow& r) { return fmt::format("{:.2f}", as_double(r, "bytes_per_token") / 1e6); }});
  cols.push_back({"MBU", 7, [](const BenchRow& r) {
                    const std::string& m = r.get("mbu");
                    return m.empty() ? std::string("-") : fmt::format("{:.1f} %", 100 * std::strtod(m.c_str(), nullptr));
                  }});
  cols.push_back({"bound", -8, [](const BenchRow& r) { return r.get("bound"); }});
  return cols;
}

// A cell padded to |width| columns; "±" is two bytes of UTF-8 but one column.
std::string pad(const std::string& s, int width) {
  size_t shown = 0;
  for (unsigned char ch : s) shown += (ch & 0xC0) != 0x80;
  const size_t w = size_t(std::abs(width));
  if (shown >= w) return s;
  const std::string fill(w - shown, ' ');
  return width < 0 ? s + fill : fill + s;
}

ojson row_json(const BenchRow& r) {
  ojson j;
  for (const BenchField& f : r.fields) {
    switch (f.type) {
      case FieldType::String: j[f.name] = f.value; break;
      case FieldType::Int: j[f.name] = std::strtoll(f.value.c_str(), nullptr, 10); break;
      case FieldType::Bool: j[f.name] = f.value != "0"; break;
      case FieldType::Float:
        j[f.name] = f.value.empty() ? ojson(nullptr) : ojson(std::strtod(f.value.c_str(), nullptr));
        break;
    }
  }
  j["samples_ns"] = r.samples_ns;
  j["samples_ts"] = r.samples_ts;
  return j;
}

const char* sql_type(FieldType t) {
  switch (t) {
    case FieldType::String: return "TEXT";
    case FieldType::Float: return "REAL";
    default: return "INTEGER";
  }
}

}  // namespace

const std::string& BenchRow::get(const std::string& name) const {
  for (const BenchField& f : fields)
    if (f.name == name) return f.value;
  fail("bench row: no field '{}'", name);
}

bool parse_bench_format(const std::string& name, BenchFormat* out) {
  static const std::pair<const char*, BenchFormat> kNames[] = {
      {"md", BenchFormat::Md}, {"csv", BenchFormat::Csv}, {"json", BenchFormat::Json},
      {"jsonl", BenchFormat::Jsonl}, {"sql", BenchFormat::Sql}};
  for (const auto& [n, f] : kNames)
    if (name == n) return *out = f, true;
  return false;
}

std::string sql_quote(const std::string& value) {
  std::string out = "'";
  for (char ch : value) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

std::string md_size(uint64_t bytes) {
  if (bytes < (uint64_t(1) << 30)) return fmt::format("{:.2f} MiB", double(bytes) / (1024.0 * 1024.0));
  return fmt::format("{:.2f} GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
}

std::string md_params(uint64_t n) {
  if (n < 1000000000ull) return fmt::format("{:.2f} M", double(n) / 1e6);
  return fmt::format("{:.2f} B", double(n) / 1e9);
}

BenchPrinter::BenchPrinter(std::FILE* out, BenchFormat format, BenchColumns columns, std::string build_commit,
                           int64_t build_number)
    : out_(out), format_(format), columns_(columns), build_commit_(std::move(build_commit)), build_number_(build_number) {
  if (format_ == BenchFormat::Json) fmt::print(out_, "[\n");
  if (format_ == BenchFormat::Md) header(BenchRow{});
  std::fflush(out_);
}

void BenchPrinter::header(const BenchRow& first) {
  switch (format_) {
    case BenchFormat::Md: {
      std::string head = "|", rule = "|";
      for (const MdColumn& c : md_columns(columns_)) {
        head += " " + pad(c.header, c.width) + " |";
        rule += " " + std::string(size_t(std::abs(c.width) - 1), '-') + (c.width > 0 ? ":" : "-") + " |";
      }
      fmt::print(out_, "{}\n{}\n", head, rule);
      break;
    }
    case BenchFormat::Csv: {
      std::vector<std::string> names;
      for (const BenchField& f : first.fields) names.push_back(f.name);
      fmt::print(out_, "{}\n", fmt::join(names, ","));
      break;
    }
    case BenchFormat::Sql: {
      fmt::print(out_, "CREATE TABLE IF NOT EXISTS llama_bench (\n");
      for (size_t i = 0; i < first.fields.size(); ++i)
        fmt::print(out_, "  {} {}{}\n", first.fields[i].name, sql_type(first.fields[i].type), i + 1 < first.fields.size() ? "," : "");
      fmt::print(out_, ");\n\n");
      break;
    }
    default: break;
  }
}

void BenchPrinter::row(const BenchRow& r) {
  if (rows_ == 0 && (format_ == BenchFormat::Csv || format_ == BenchFormat::Sql)) header(r);
  switch (format_) {
    case BenchFormat::Md: {
      std::string line = "|";
      for (const MdColumn& c : md_columns(columns_)) line += " " + pad(c.cell(r), c.width) + " |";
      fmt::print(out_, "{}\n", line);
      break;
    }
    case BenchFormat::Csv: {
      std::vector<std::string> values;
      for (const BenchField& f : r.fields) values.push_back(csv_quote(f.value));
      fmt::print(out_, "{}\n", fmt::join(values, ","));
      break;
    }
    case BenchFormat::Json: {
      std::string text = row_json(r).dump(2);
      std::string indented = "  ";
      for (char ch : text) indented += ch == '\n' ? std::string("\n  ") : std::string(1, ch);
      fmt::print(out_, "{}{}", rows_ > 0 ? ",\n" : "", indented);
      break;
    }
    case BenchFormat::Jsonl: fmt::print(out_, "{}\n", row_json(r).dump()); break;
    case BenchFormat::Sql: {
      std::vector<std::string> names, values;
      for (const BenchField& f : r.fields) {
        names.push_back(f.name);
        values.push_back(f.value.empty() && f.type != FieldType::String ? "NULL" : sql_quote(f.value));
      }
      fmt::print(out_, "INSERT INTO llama_bench ({}) VALUES ({});\n", fmt::join(names, ", "), fmt::join(values, ", "));
      break;
    }
  }
  ++rows_;
  std::fflush(out_);
}

void BenchPrinter::finish() {
  if (format_ == BenchFormat::Json) fmt::print(out_, "\n]\n");
  if (format_ == BenchFormat::Md) fmt::print(out_, "\nbuild: {} ({})\n", build_commit_, build_number_);
  std::fflush(out_);
}

}  // namespace bwscope::report
