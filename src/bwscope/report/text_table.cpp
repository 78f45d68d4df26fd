#include "bwscope/report/text_table.h"

#include <algorithm>

namespace bwscope::report {
namespace {

// Count code points, not bytes ("×", "→" are multi-byte in UTF-8).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad(const std::string& s, size_t width, bool right) {
  const size_t n = display_width(s);
  const std::string fill(width > n ? width - n : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string text_table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t c = 0; c < rows[i].size() && c < width.size(); ++c)
      out += (c ? "  " : "") + pad(rows[i][c], width[c], c > 0 && c + 1 < rows[i].size());
    out += "\n";
    if (i == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out += std::string(total - 2, '-') + "\n";
    }
  }
  return out;
}

std::string csv_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

}  // namespace bwscope::report
