// The axes of a llama-bench-style `bench`: lists given the way llama-bench takes them (commas,
// repeated flags, integer ranges), the combinations in llama-bench's loop order, and the
// tests each combination runs (pp<p>, tg<n>).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bwscope::study {

// Each value split on commas; repeated flags append ("-n 16,32" == "-n 16 -n 32"). Throws
// Error("<flag>: ...") for an empty item.
std::vector<std::string> split_list(const std::string& flag, const std::vector<std::string>& values);

// Integers with llama-bench's ranges per comma item: "N", "A-B" (every integer), "A-B+S" (step
// S), "A-B*M" (times M while <= B). Throws Error naming the flag and the item for anything else,
// a range that does not grow ("0-8*2", "1-8+0"), or a value outside [lo, hi].
std::vector<int64_t> parse_int_list(const std::string& flag, const std::vector<std::string>& values, int64_t lo, int64_t hi);

// One measured row: a prefill test (n_gen 0) or a decode test (n_prompt 0).
struct BenchTest {
  int64_t n_prompt = 0, n_gen = 0;
  std::string name() const;  // "pp512", "tg128", "pp512+tg128"
};
// llama-bench's order inside a combination: one pp test per nonzero -p value, then one tg test
// per nonzero -n value.
std::vector<BenchTest> bench_tests(const std::vector<int64_t>& n_prompt, const std::vector<int64_t>& n_gen);

}  // namespace bwscope::study
