// bench's axes: llama-bench's list and range grammar, and the order of its tests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/study/bench_grid.h"

namespace bwscope::study {
namespace {

using Ints = std::vector<int64_t>;

Ints ints(std::vector<std::string> values, int64_t lo = 0, int64_t hi = 1000000) {
  return parse_int_list("-p", values, lo, hi);
}

std::string error_of(std::vector<std::string> values, int64_t lo = 0, int64_t hi = 1000000) {
  try {
    parse_int_list("-p", values, lo, hi);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(BenchGrid, RangesStepsAndFactorsAsLlamaBenchReadsThem) {
  EXPECT_EQ(ints({"512"}), Ints({512}));
  EXPECT_EQ(ints({"1-8+2"}), Ints({1, 3, 5, 7}));
  EXPECT_EQ(ints({"1-16*2"}), Ints({1, 2, 4, 8, 16}));
  EXPECT_EQ(ints({"3-20*3"}), Ints({3, 9}));
  EXPECT_EQ(ints({"1-4,8"}), Ints({1, 2, 3, 4, 8}));
  EXPECT_EQ(ints({"5-5"}), Ints({5}));
  EXPECT_EQ(ints({"0,64"}), Ints({0, 64}));
  // Repeating the flag appends; order and duplicates are kept, as given.
  EXPECT_EQ(ints({"16,32", "64", "16"}), Ints({16, 32, 64, 16}));
}

TEST(BenchGrid, MalformedItemsAreOneLineNamingFlagAndItem) {
  for (const char* bad : {"a", "1-", "-", "1-4x2", "1-8+", "1-8*", "1-8+2+3", " 8", "8 ", "1--4", "0x10"}) {
    const std::string e = error_of({bad});
    EXPECT_NE(e.find(std::string("-p ") + bad + ": "), std::string::npos) << bad << " → " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_NE(error_of({"0-8*2"}).find("does not grow"), std::string::npos);
  EXPECT_NE(error_of({"1-8+0"}).find("does not grow"), std::string::npos);
  EXPECT_NE(error_of({"2-8*1"}).find("does not grow"), std::string::npos);
  EXPECT_NE(error_of({"8-4"}).find("the range is empty"), std::string::npos);
  EXPECT_NE(error_of({"1,,2"}).find("an empty item"), std::string::npos);
  EXPECT_NE(error_of({"4,"}).find("an empty item"), std::string::npos);
  EXPECT_NE(error_of({""}).find("an empty item"), std::string::npos);
  EXPECT_NE(error_of({"99999999999999999999"}).find("not a whole number or range"), std::string::npos);
}

TEST(BenchGrid, ValuesOutsideTheFlagsRangeAreRefusedWithTheRange) {
  EXPECT_EQ(error_of({"0"}, 1, 4096), "-p: 0 is not a whole number from 1 to 4096");
  EXPECT_EQ(error_of({"-1"}), "-p: -1 is not a whole number from 0 to 1000000");
  EXPECT_EQ(error_of({"1-8"}, 1, 4), "-p 1-8: 5 is not a whole number from 1 to 4");
  // A huge factor stops at the bound instead of overflowing.
  EXPECT_EQ(ints({"1-1000000*1000000"}), Ints({1, 1000000}));
  EXPECT_EQ(parse_int_list("-p", {"1-9223372036854775807*4"}, 0, INT64_MAX).size(), 32u);
}

TEST(BenchGrid, PrefillTestsThenDecodeTestsZerosLeftOut) {
  const std::vector<BenchTest> t = bench_tests({128, 0, 512}, {64, 0});
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name(), "pp128");
  EXPECT_EQ(t[1].name(), "pp512");
  EXPECT_EQ(t[2].name(), "tg64");
  EXPECT_EQ(t[2].n_prompt, 0);
  EXPECT_EQ((BenchTest{512, 128}).name(), "pp512+tg128");
  EXPECT_TRUE(bench_tests({0}, {0}).empty());
}

}  // namespace
}  // namespace bwscope::study
