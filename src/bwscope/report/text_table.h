// Aligned plain-text tables for the terminal: the first row is the header, underlined; the
// middle columns are right-aligned (numbers), the first and last left-aligned.
#pragma once

#include <string>
#include <vector>

namespace bwscope::report {

std::string text_table(const std::vector<std::vector<std::string>>& rows);
// A CSV field: quoted, with quotes doubled.
std::string csv_quote(const std::string& s);

}  // namespace bwscope::report
