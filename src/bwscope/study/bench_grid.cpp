#include "bwscope/study/bench_grid.h"

#include <charconv>
#include <limits>

#include <fmt/core.h>

#include "bwscope/base/error.h"

namespace bwscope::study {
namespace {

// Reads the digits at `s[*i]...` as a non-negative integer; false when there are none or it overflows.
bool read_number(const std::string& s, size_t* i, int64_t* out) {
  const size_t start = *i;
  while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9') ++*i;
  if (*i == start) return false;
  const auto r = std::from_chars(s.data() + start, s.data() + *i, *out);
  return r.ec == std::errc() && r.ptr == s.data() + *i;
}

}  // namespace

std::vector<std::string> split_list(const std::string& flag, const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    size_t begin = 0;
    while (true) {
      const size_t comma = v.find(',', begin);
      std::string item = v.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
      if (item.empty()) fail("{} {}: an empty item in the list", flag, v);
      out.push_back(std::move(item));
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
  }
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& flag, const std::vector<std::string>& values, int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(flag, values)) {
    int64_t plain = 0;  // a lone number, sign and all: the range message the other flags give
    if (const auto r = std::from_chars(item.data(), item.data() + item.size(), plain);
        r.ec == std::errc() && r.ptr == item.data() + item.size()) {
      if (plain < lo || plain > hi) fail("{}: {} is not a whole number from {} to {}", flag, plain, lo, hi);
      out.push_back(plain);
      continue;
    }
    auto bad = [&](const char* why) -> void {
      fail("{} {}: {} (a number, A-B, A-B+STEP or A-B*FACTOR)", flag, item, why);
    };
    size_t i = 0;
    int64_t first = 0, last = 0, by = 0;
    if (!read_number(item, &i, &first)) bad("not a whole number or range");
    char how = 0;
    if (i < item.size()) {
      if (item[i] != '-') bad("not a whole number or range");
      ++i;
      if (!read_number(item, &i, &last)) bad("a range needs its last value");
      how = '+';
      by = 1;
      if (i < item.size()) {
        how = item[i++];
        if ((how != '+' && how != '*') || !read_number(item, &i, &by) || i != item.size()) bad("not a whole number or range");
        if ((how == '+' && by < 1) || (how == '*' && (by < 2 || first < 1))) bad("the range does not grow");
      }
    } else {
      last = first;
    }
    if (last < first) fail("{} {}: the range is empty", flag, item);
    for (int64_t v = first; v <= last;) {
      if (v < lo || v > hi) fail("{} {}: {} is not a whole number from {} to {}", flag, item, v, lo, hi);
      out.push_back(v);
      if (how == 0) break;
      if (how == '+' ? v > last - by : v > last / by) break;  // the next value would pass `last` (or overflow)
      v = how == '+' ? v + by : v * by;
    }
  }
  return out;
}

std::string BenchTest::name() const {
  if (n_gen == 0) return fmt::format("pp{}", n_prompt);
  if (n_prompt == 0) return fmt::format("tg{}", n_gen);
  return fmt::format("pp{}+tg{}", n_prompt, n_gen);
}

std::vector<BenchTest> bench_tests(const std::vector<int64_t>& n_prompt, const std::vector<int64_t>& n_gen) {
  std::vector<BenchTest> out;
  for (int64_t p : n_prompt)
    if (p > 0) out.push_back({p, 0});
  for (int64_t n : n_gen)
    if (n > 0) out.push_back({0, n});
  return out;
}

}  // namespace bwscope::study
